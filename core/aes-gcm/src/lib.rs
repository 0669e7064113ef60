//! AES-256-GCM (96-bit nonces, 128-bit tags) over RustCrypto's `aes-gcm`, for
//! phylax-core on wasm32.
//!
//! Why a crate of its own: Rust compiles a generic where it is used, at that crate's
//! opt-level. The cipher's generic code instantiated inside phylax-core took phylax-core's
//! opt-level, so making AES fast (opt-level 3: 1 MiB 17.2 -> 12.0 ms in Node) also
//! compiled all of phylax-core, Cedar's generics included, for speed: +110 KB gzipped.
//! Here the instantiation is this crate's alone; the npm module's profile compiles it
//! (and the cipher crates) at 3 and phylax-core for size. Errors carry no detail: the
//! caller maps them to its own.
#![forbid(unsafe_code)]

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// Tag length in bytes.
pub const TAG_LEN: usize = 16;

/// The message is too long for AES-GCM, or (opening) it does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed;

/// An AES-256-GCM key with its expanded schedule (wiped on drop: `aes-gcm`'s `zeroize`).
pub struct Key(Aes256Gcm);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// Expands `key` once.
    pub fn new(key: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    /// Encrypts `body` in place; returns the tag.
    pub fn seal(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        body: &mut [u8],
    ) -> Result<[u8; TAG_LEN], Failed> {
        self.0
            .encrypt_inout_detached(&Nonce::from(*nonce), aad, body.into())
            .map(Into::into)
            .map_err(|_| Failed)
    }

    /// Decrypts `body` in place if `tag` authenticates it with `aad`.
    pub fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        body: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), Failed> {
        self.0
            .decrypt_inout_detached(&Nonce::from(*nonce), aad, body.into(), &Tag::from(*tag))
            .map_err(|_| Failed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    /// NIST GCM test case 14 (256-bit key of zeros, 16 zero bytes, 96-bit zero IV).
    #[test]
    fn nist_case_14_and_a_flipped_bit() {
        let key = Key::new(&[0; 32]);
        let mut body = [0u8; 16];
        let tag = key.seal(&[0; 12], &[], &mut body).unwrap();
        assert_eq!(
            body,
            [
                0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e, 0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3,
                0x9d, 0x18
            ]
        );
        assert_eq!(
            tag,
            [
                0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0, 0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a,
                0xb9, 0x19
            ]
        );
        let mut flipped = body;
        flipped[0] ^= 1;
        assert_eq!(key.open(&[0; 12], &[], &mut flipped, &tag), Err(Failed));
        key.open(&[0; 12], &[], &mut body, &tag).unwrap();
        assert_eq!(body, [0; 16]);
    }
}
