//! The ciphertext format: a 6-byte authenticated header, the nonce, the body, the tag.
//!
//! ```text
//! binary:  version(1) = 0x01 | algorithm(1) = 0x01 | key version(4, big-endian)
//!          | nonce(12) | ciphertext(n) | tag(16)            -> n + 34 bytes
//! text:    "phx1." + base64url(binary), no padding
//! ```
//!
//! Algorithm `0x01` is AES-256-GCM under an HKDF-SHA256 per-field subkey of the tenant's
//! data key. The header is part of the associated data, together with the tenant, the
//! field path and the record id (each length-framed), so a ciphertext copied to another
//! tenant, field or record, or given another key version, fails to authenticate.
//! The first 8 base64 characters of the text form are exactly the header, so
//! [`Header::peek_text`] reads the key version without decoding the rest.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::aead::{NONCE_LEN, TAG_LEN};
use super::error::CryptoError;
use super::kdf::push_framed;

/// Text prefix of every Phylax field ciphertext.
pub const TEXT_PREFIX: &str = "phx1.";
/// Format version byte.
pub const FORMAT_V1: u8 = 0x01;
/// AES-256-GCM with an HKDF-SHA256 per-field subkey.
pub const ALG_AES256GCM_HKDF: u8 = 0x01;
/// Header length in bytes.
pub const HEADER_LEN: usize = 6;
/// Bytes a field ciphertext adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Longest tenant id, field path or record id accepted.
pub const MAX_NAME_LEN: usize = 1024;

/// The authenticated header of a field ciphertext.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The data-key version that encrypted the value.
    pub key_version: u32,
}

impl Header {
    /// The header's bytes.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let v = self.key_version.to_be_bytes();
        [FORMAT_V1, ALG_AES256GCM_HKDF, v[0], v[1], v[2], v[3]]
    }

    /// Reads the header at the start of a binary ciphertext.
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        match bytes {
            [FORMAT_V1, ALG_AES256GCM_HKDF, a, b, c, d, ..] => Ok(Self {
                key_version: u32::from_be_bytes([*a, *b, *c, *d]),
            }),
            [FORMAT_V1, _, ..] => Err(CryptoError::MalformedCiphertext {
                reason: "unsupported algorithm",
            }),
            [_, _, _, _, _, _, ..] => Err(CryptoError::MalformedCiphertext {
                reason: "unsupported format version",
            }),
            _ => Err(CryptoError::MalformedCiphertext {
                reason: "too short",
            }),
        }
    }

    /// Reads the header of a text ciphertext by decoding only its first 8 characters.
    pub fn peek_text(text: &str) -> Result<Self, CryptoError> {
        let body = strip_prefix(text)?;
        let head = body.get(..8).ok_or(CryptoError::MalformedCiphertext {
            reason: "too short",
        })?;
        let mut bytes = [0u8; HEADER_LEN];
        URL_SAFE_NO_PAD
            .decode_slice(head, &mut bytes)
            .map_err(|_| CryptoError::MalformedCiphertext {
                reason: "not base64url",
            })?;
        Self::parse(&bytes)
    }
}

/// A binary ciphertext split into its parts (borrowed).
#[derive(Debug)]
pub struct Parts<'a> {
    /// The parsed header.
    pub header: Header,
    /// The header's raw bytes (part of the associated data).
    pub header_bytes: &'a [u8; HEADER_LEN],
    /// The nonce.
    pub nonce: &'a [u8; NONCE_LEN],
    /// Ciphertext followed by the tag.
    pub body_and_tag: &'a [u8],
}

/// Splits a binary ciphertext.
pub fn split(bytes: &[u8]) -> Result<Parts<'_>, CryptoError> {
    let header = Header::parse(bytes)?;
    if bytes.len() < OVERHEAD {
        return Err(CryptoError::MalformedCiphertext {
            reason: "too short",
        });
    }
    let (header_bytes, rest) = bytes.split_at(HEADER_LEN);
    let (nonce, body_and_tag) = rest.split_at(NONCE_LEN);
    Ok(Parts {
        header,
        header_bytes: header_bytes
            .try_into()
            .map_err(|_| CryptoError::MalformedCiphertext {
                reason: "too short",
            })?,
        nonce: nonce
            .try_into()
            .map_err(|_| CryptoError::MalformedCiphertext {
                reason: "too short",
            })?,
        body_and_tag,
    })
}

/// Decodes the text form to binary.
pub fn decode_text(text: &str) -> Result<Vec<u8>, CryptoError> {
    URL_SAFE_NO_PAD
        .decode(strip_prefix(text)?)
        .map_err(|_| CryptoError::MalformedCiphertext {
            reason: "not base64url",
        })
}

/// Encodes binary to the text form.
pub fn encode_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(TEXT_PREFIX.len() + bytes.len().div_ceil(3) * 4);
    out.push_str(TEXT_PREFIX);
    URL_SAFE_NO_PAD.encode_string(bytes, &mut out);
    out
}

fn strip_prefix(text: &str) -> Result<&str, CryptoError> {
    text.strip_prefix(TEXT_PREFIX)
        .ok_or(CryptoError::MalformedCiphertext {
            reason: "missing `phx1.` prefix",
        })
}

/// Checks a tenant id, field path or record id used in the associated data.
pub fn check_name(what: &'static str, value: &str, allow_empty: bool) -> Result<(), CryptoError> {
    if value.is_empty() && !allow_empty {
        return Err(CryptoError::InvalidName {
            what,
            reason: "must not be empty",
        });
    }
    if value.len() > MAX_NAME_LEN {
        return Err(CryptoError::InvalidName {
            what,
            reason: "longer than 1024 bytes",
        });
    }
    Ok(())
}

/// The associated data of a field ciphertext: a domain label, the tenant, the field
/// path and the record id (each length-framed), then the header.
pub fn field_aad(tenant: &str, field: &str, record_id: &str, header: &[u8; HEADER_LEN]) -> Vec<u8> {
    let mut aad =
        Vec::with_capacity(8 + 12 + tenant.len() + field.len() + record_id.len() + HEADER_LEN);
    aad.extend_from_slice(b"phx1/fld");
    push_framed(&mut aad, tenant.as_bytes());
    push_framed(&mut aad, field.as_bytes());
    push_framed(&mut aad, record_id.as_bytes());
    aad.extend_from_slice(header);
    aad
}
