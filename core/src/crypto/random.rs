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
    let mut nonce = [0u8; 12];
    fill(&mut nonce)?;
    Ok(nonce)
}

/// A fresh random 96-bit nonce, from the pool.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub fn nonce() -> Result<[u8; 12], CryptoError> {
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
