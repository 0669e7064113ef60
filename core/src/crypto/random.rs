//! Secure randomness: the OS natively and under WASI, `crypto.getRandomValues` in JS.

use super::error::CryptoError;

/// Fills `buf` with secure random bytes.
pub fn fill(buf: &mut [u8]) -> Result<(), CryptoError> {
    getrandom::getrandom(buf).map_err(|_| CryptoError::RandomUnavailable)
}
