//! Signing and verifying `t=...,v1=...` headers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;
use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroizing;

use super::error::WebhookError;
use crate::audit::key::{hex_lower, parse_hash};
use crate::crypto::kdf::hmac_sha256;
use crate::crypto::Secret32;

/// How far a timestamp may be from `now` by default, in seconds.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
const MAX_HEADER_LEN: usize = 8 * 1024;
const MAX_SIGNATURES: usize = 16;

/// A webhook signing secret: the bytes of its text. Zeroized on drop; `Debug` hides it.
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl WebhookSecret {
    /// Uses the bytes of `text` (e.g. the whole `whsec_...` string) as the HMAC key.
    pub fn new(text: &str) -> Result<Self, WebhookError> {
        Self::from_bytes(text.as_bytes())
    }

    /// Uses raw bytes as the HMAC key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WebhookError> {
        if bytes.is_empty() {
            return Err(WebhookError::InvalidSecret {
                reason: "a secret is empty",
            });
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// A fresh secret, `whsec_` + 256 random bits as base64url; returns it with its text
    /// (give the text to the receiver).
    pub fn generate() -> Result<(Self, Zeroizing<String>), WebhookError> {
        let random = Secret32::random().map_err(|_| WebhookError::InvalidSecret {
            reason: "no secure randomness available",
        })?;
        let text = Zeroizing::new(format!("whsec_{}", URL_SAFE_NO_PAD.encode(random.expose())));
        Ok((Self::new(&text)?, text))
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// A verified webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifiedWebhook {
    /// The signed timestamp.
    pub timestamp: u64,
    /// Index (in the list given) of the first secret that verified: during a rotation,
    /// tells whether the sender still uses the old one.
    pub secret_index: usize,
}

/// `HMAC-SHA256(secret, "<timestamp>." ‖ payload)`.
pub fn signature(secret: &WebhookSecret, timestamp: u64, payload: &[u8]) -> [u8; 32] {
    let mut mac = hmac_sha256(&secret.0);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

/// The header `t=<timestamp>,v1=<hex>` with one `v1` per secret (all active secrets
/// during a rotation).
pub fn sign(
    secrets: &[WebhookSecret],
    timestamp: u64,
    payload: &[u8],
) -> Result<String, WebhookError> {
    if secrets.is_empty() {
        return Err(WebhookError::InvalidSecret {
            reason: "no secret given",
        });
    }
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        header.push_str(",v1=");
        header.push_str(&hex_lower(&signature(secret, timestamp, payload)));
    }
    Ok(header)
}

/// Verifies `header` for `payload` (the raw body bytes) against the active `secrets`, at
/// `now`, accepting timestamps within `tolerance` seconds either side.
pub fn verify(
    header: &str,
    payload: &[u8],
    secrets: &[WebhookSecret],
    now: u64,
    tolerance: u64,
) -> Result<VerifiedWebhook, WebhookError> {
    if secrets.is_empty() {
        return Err(WebhookError::InvalidSecret {
            reason: "no secret given",
        });
    }
    let (timestamp, candidates) = parse_header(header)?;

    let mut matched: Option<usize> = None;
    for (index, secret) in secrets.iter().enumerate() {
        let expected = signature(secret, timestamp, payload);
        let mut any = Choice::from(0);
        for candidate in &candidates {
            any |= expected.ct_eq(candidate);
        }
        if bool::from(any) && matched.is_none() {
            matched = Some(index);
        }
    }
    let secret_index = matched.ok_or(WebhookError::SignatureMismatch)?;

    if now > timestamp && now - timestamp > tolerance {
        return Err(WebhookError::TooOld {
            timestamp,
            now,
            tolerance,
        });
    }
    if timestamp > now && timestamp - now > tolerance {
        return Err(WebhookError::TooNew {
            timestamp,
            now,
            tolerance,
        });
    }
    Ok(VerifiedWebhook {
        timestamp,
        secret_index,
    })
}

/// The timestamp and the `v1` signatures of a header.
fn parse_header(header: &str) -> Result<(u64, Vec<[u8; 32]>), WebhookError> {
    let malformed = |reason| WebhookError::MalformedHeader { reason };
    if header.len() > MAX_HEADER_LEN {
        return Err(malformed("longer than 8 KiB"));
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let (name, value) = item
            .trim()
            .split_once('=')
            .ok_or(malformed("each item must be `name=value`"))?;
        match name {
            "t" => {
                let canonical = !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_digit())
                    && (value == "0" || !value.starts_with('0'));
                let parsed = value
                    .parse::<u64>()
                    .ok()
                    .filter(|_| canonical)
                    .ok_or(malformed("`t` must be unix seconds in decimal"))?;
                if timestamp.replace(parsed).is_some() {
                    return Err(malformed("`t` appears more than once"));
                }
            }
            "v1" => {
                if signatures.len() == MAX_SIGNATURES {
                    return Err(malformed("more than 16 signatures"));
                }
                let lower = value.to_ascii_lowercase();
                signatures.push(
                    parse_hash(&lower).ok_or(malformed("a `v1` signature is not 64 hex digits"))?,
                );
            }
            _ => {} // Other schemes (v0, a future v2) are not ours to check.
        }
    }
    let timestamp = timestamp.ok_or(malformed("there is no `t=` timestamp"))?;
    if signatures.is_empty() {
        return Err(WebhookError::NoSignature);
    }
    Ok((timestamp, signatures))
}
