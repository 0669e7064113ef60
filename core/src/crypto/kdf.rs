//! HKDF-SHA256 and HMAC-SHA256, the two keyed hashes behind subkeys and blind indexes.
//!
//! Thin wrappers over RustCrypto's `hkdf` and `hmac`, so every use goes through one
//! place that the Wycheproof and RFC vectors check.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::CryptoError;
use super::secret::Secret32;

/// HMAC-SHA256, keyed once and reused for many messages.
pub type HmacSha256 = Hmac<Sha256>;

/// HKDF-SHA256 (RFC 5869) into a caller-sized buffer.
pub fn hkdf_sha256(
    ikm: &[u8],
    salt: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), CryptoError> {
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, out)
        .map_err(|_| CryptoError::InvalidKey {
            reason: "hkdf output too long",
        })
}

/// HKDF-SHA256 into a fresh 32-byte key.
pub fn derive_key(ikm: &[u8], salt: &[u8], info: &[u8]) -> Result<Secret32, CryptoError> {
    let mut out = Zeroizing::new([0u8; 32]);
    hkdf_sha256(ikm, salt, info, out.as_mut())?;
    Ok(Secret32::from_bytes(*out))
}

/// A keyed HMAC-SHA256 instance, cloned per message.
pub fn hmac_sha256(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac())
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // Only reachable if `hmac` ever stops accepting keys of every length.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

/// Appends `value` with a 4-byte big-endian length prefix, so concatenated names can never
/// be confused (`"ab" + "c"` vs `"a" + "bc"`).
pub fn push_framed(buf: &mut Vec<u8>, value: &[u8]) {
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(value);
}
