//! 32-byte secrets: zeroized on drop, compared in constant time, never printed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::CryptoError;
use super::random;

/// 32 bytes of key material. `Debug` prints `Secret32(..)`; the bytes are wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret32([u8; 32]);

impl Secret32 {
    /// Wraps bytes the caller already holds.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Takes a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::InvalidKey {
            reason: "a key must be exactly 32 bytes",
        })?;
        Ok(Self(array))
    }

    /// Fresh random key material.
    pub fn random() -> Result<Self, CryptoError> {
        let mut bytes = [0u8; 32];
        random::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Parses 64 hex digits or 43 base64url characters (no padding).
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            for (i, byte) in bytes.iter_mut().enumerate() {
                let pair = text
                    .get(2 * i..2 * i + 2)
                    .ok_or(CryptoError::InvalidKey { reason: "bad hex" })?;
                *byte = u8::from_str_radix(pair, 16)
                    .map_err(|_| CryptoError::InvalidKey { reason: "bad hex" })?;
            }
            return Ok(Self(*bytes));
        }
        let decoded = zeroize::Zeroizing::new(URL_SAFE_NO_PAD.decode(text).map_err(|_| {
            CryptoError::InvalidKey {
                reason: "expected 64 hex digits or 43 base64url characters",
            }
        })?);
        Self::from_slice(&decoded)
    }

    /// The key as base64url without padding (for key files; handle with care).
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The raw bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for Secret32 {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Secret32 {}

impl std::fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret32(..)")
    }
}
