//! The audit key: the HMAC key of every chain it writes, and its public key id.

use hmac::Mac;

use super::error::AuditError;
use crate::crypto::kdf::{hmac_sha256, HmacSha256};
use crate::crypto::Secret32;

/// An HMAC-SHA256 key for audit chains, keyed once and reused for every event.
///
/// The key id is the first 8 bytes (16 hex digits) of `HMAC(key, "phylax/audit/key-id/v1")`:
/// it names the key in records and checkpoints without revealing anything about it.
/// `Debug` shows only the key id.
#[derive(Clone)]
pub struct AuditKey {
    mac: HmacSha256,
    key_id: String,
}

impl AuditKey {
    /// Uses 32 bytes of key material.
    pub fn from_secret(secret: &Secret32) -> Self {
        let mac = hmac_sha256(secret.expose());
        let mut id_mac = mac.clone();
        id_mac.update(b"phylax/audit/key-id/v1");
        let tag = id_mac.finalize().into_bytes();
        let key_id = hex_lower(tag.get(..8).unwrap_or_default());
        Self { mac, key_id }
    }

    /// Parses 64 hex digits or 43 base64url characters.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let secret = Secret32::parse(text).map_err(|_| AuditError::Invalid {
            what: "audit key",
            reason: "expected 64 hex digits or 43 base64url characters",
        })?;
        Ok(Self::from_secret(&secret))
    }

    /// A fresh random audit key and its secret (store the secret; it is not recoverable).
    pub fn generate() -> Result<(Self, Secret32), AuditError> {
        let secret = Secret32::random().map_err(|_| AuditError::Invalid {
            what: "audit key",
            reason: "no secure randomness available",
        })?;
        Ok((Self::from_secret(&secret), secret))
    }

    /// The public key id stored in every record and checkpoint.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A fresh HMAC instance under this key.
    pub(crate) fn mac(&self) -> HmacSha256 {
        self.mac.clone()
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    out
}

/// Parses exactly 64 lowercase hex digits into 32 bytes. Uppercase is rejected so that
/// every stored hash has exactly one spelling (a changed byte is always a change).
pub(crate) fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_value(*hi)?, hex_value(*lo)?),
            _ => return None,
        };
        *byte = (hi << 4) | lo;
    }
    Some(out)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}
