//! Secure randomness: the OS natively and under WASI, `crypto.getRandomValues` in JS.
//!
//! Keys always come straight from the source. Nonces, which are public, are drawn from a
//! small pool on wasm32-unknown-unknown: each `crypto.getRandomValues` call costs a JS
//! round trip that dwarfs a small field's encryption, so the pool fetches 64 nonces'
//! worth at once. A pool is safe there because a WebAssembly instance cannot fork (a
//! forked native process would share its pool and repeat nonces, so natively every nonce
//! is its own `getrandom` call).

use super::error::CryptoError;

/// Fills `buf` with secure random bytes.
pub fn fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::getrandom(buf).map_err(|_| CryptoError::RandomUnavailable)
}

/// A fresh random 96-bit nonce.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn nonce() -> Result<[u8; 12], CryptoError> {
    #[cfg(feature = "insecure-fixed-nonces")]
    if let Some(nonce) = fixed::next() {
        return Ok(nonce);
    }
    let mut nonce = [0u8; 12];
    fill(&mut nonce)?;
    Ok(nonce)
}

/// A fresh random 96-bit nonce, from the pool.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub fn nonce() -> Result<[u8; 12], CryptoError> {
    #[cfg(feature = "insecure-fixed-nonces")]
    if let Some(nonce) = fixed::next() {
        return Ok(nonce);
    }
    pool::take()
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod pool {
    use std::cell::RefCell;

    use super::{fill, CryptoError};

    const NONCES: usize = 64;

    /// Unused random bytes; every byte handed out is overwritten, never reused.
    struct Pool {
        bytes: [u8; NONCES * 12],
        next: usize,
    }

    thread_local! {
        static POOL: RefCell<Pool> = const { RefCell::new(Pool { bytes: [0; NONCES * 12], next: NONCES * 12 }) };
    }

    pub(super) fn take() -> Result<[u8; 12], CryptoError> {
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.next + 12 > pool.bytes.len() {
                fill(&mut pool.bytes)?;
                pool.next = 0;
            }
            let start = pool.next;
            let mut nonce = [0u8; 12];
            let slot = pool
                .bytes
                .get_mut(start..start + 12)
                .ok_or(CryptoError::RandomUnavailable)?;
            nonce.copy_from_slice(slot);
            slot.fill(0);
            pool.next = start + 12;
            Ok(nonce)
        })
    }
}

/// Test vectors only: nonces chosen by the caller instead of drawn at random.
///
/// Compiled only with the `insecure-fixed-nonces` cargo feature, which nothing in the
/// published crates enables: the conformance suite turns it on through a dev-dependency,
/// so only test builds contain it. A fixed nonce repeated under one key breaks AES-GCM;
/// this exists so that a vector can state the exact ciphertext bytes a runtime must
/// produce (`conformance/README.md`).
#[cfg(feature = "insecure-fixed-nonces")]
pub mod fixed {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    thread_local! {
        static QUEUE: RefCell<VecDeque<[u8; 12]>> = const { RefCell::new(VecDeque::new()) };
    }

    pub(super) fn next() -> Option<[u8; 12]> {
        QUEUE.with(|queue| queue.borrow_mut().pop_front())
    }

    /// Runs `f` with `nonces` handed out, in order, to the encryptions it makes on this
    /// thread (random nonces again once they run out). Returns `f`'s result and how many
    /// of the nonces were left unused; they are discarded.
    pub fn with_fixed_nonces<R>(nonces: &[[u8; 12]], f: impl FnOnce() -> R) -> (R, usize) {
        QUEUE.with(|queue| {
            let mut queue = queue.borrow_mut();
            queue.clear();
            queue.extend(nonces.iter().copied());
        });
        let result = f();
        let unused = QUEUE.with(|queue| {
            let mut queue = queue.borrow_mut();
            let unused = queue.len();
            queue.clear();
            unused
        });
        (result, unused)
    }
}
