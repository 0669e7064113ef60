//! Test vectors only: randomness chosen by the caller for the component's instances.
//!
//! Compiled only with the `insecure-fixed-random` cargo feature, which nothing built for
//! production enables (the conformance test turns it on through a dev-dependency). It
//! lets a test state the exact ciphertext bytes the component must produce: the test
//! queues the AES-GCM nonces it wants, and the WASI random source of every instance the
//! runtime makes draws from that queue first (OS randomness again once it is empty).
//! Nothing inside the component can tell, which is the point: the component under test
//! is the unmodified release build.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes the instances' `wasi:random` hands out before any OS randomness.
#[derive(Clone, Debug, Default)]
pub struct InsecureRandomQueue {
    bytes: Arc<Mutex<VecDeque<u8>>>,
}

impl InsecureRandomQueue {
    /// Queues `bytes` behind whatever is still queued.
    pub fn push(&self, bytes: &[u8]) {
        self.lock().extend(bytes.iter().copied());
    }

    /// Empties the queue, returning how many bytes were never drawn.
    pub fn clear(&self) -> usize {
        let mut queue = self.lock();
        let unused = queue.len();
        queue.clear();
        unused
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<u8>> {
        self.bytes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn rng(&self) -> QueuedRng {
        QueuedRng {
            queue: self.clone(),
        }
    }

    fn byte(&self) -> u8 {
        if let Some(byte) = self.lock().pop_front() {
            return byte;
        }
        let mut byte = [0u8; 1];
        // No OS randomness is a broken test machine; a zero byte then fails the vector.
        let _ = getrandom::getrandom(&mut byte);
        byte[0]
    }
}

/// The generator handed to `WasiCtxBuilder::secure_random`.
///
/// wasmtime-wasi makes `get-random-bytes` output one byte per `next_u32` (its low byte),
/// so `next_u32` draws a single queued byte: the bytes the guest receives are then
/// exactly the queued ones, in order. `next_u64` (`get-random-u64`) draws eight,
/// little-endian.
pub(crate) struct QueuedRng {
    queue: InsecureRandomQueue,
}

impl rand_core::TryRng for QueuedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::from(self.queue.byte()))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        bytes.iter_mut().for_each(|b| *b = self.queue.byte());
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.iter_mut().for_each(|b| *b = self.queue.byte());
        Ok(())
    }
}
