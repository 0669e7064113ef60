//! Errors of webhook signing and verification.

use crate::error::Diagnostic;

/// Why a webhook signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The header is not `t=<unix seconds>,v1=<64 hex digits>[,v1=...]`.
    #[error("the signature header is malformed: {reason}")]
    MalformedHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// The header has a timestamp but no `v1` signature.
    #[error("the signature header has no `v1` signature")]
    NoSignature,
    /// No `v1` signature matches the payload under any of the secrets: the payload was
    /// changed, or it was signed with another secret.
    #[error("no signature matches the payload under the given secrets")]
    SignatureMismatch,
    /// Genuinely signed, but longer ago than the tolerance: a late delivery or a replay.
    #[error(
        "the request was signed at {timestamp}, more than {tolerance} seconds before now ({now})"
    )]
    TooOld {
        /// The signed timestamp.
        timestamp: u64,
        /// The receiver's time.
        now: u64,
        /// The tolerance, seconds.
        tolerance: u64,
    },
    /// Genuinely signed, but with a timestamp further in the future than the tolerance.
    #[error(
        "the request was signed at {timestamp}, more than {tolerance} seconds after now ({now})"
    )]
    TooNew {
        /// The signed timestamp.
        timestamp: u64,
        /// The receiver's time.
        now: u64,
        /// The tolerance, seconds.
        tolerance: u64,
    },
    /// No secret was given, or a secret is empty.
    #[error("invalid webhook secrets: {reason}")]
    InvalidSecret {
        /// What is wrong.
        reason: &'static str,
    },
}

impl Diagnostic for WebhookError {
    fn code(&self) -> &'static str {
        match self {
            Self::MalformedHeader { .. } => "webhook.malformed_header",
            Self::NoSignature => "webhook.no_signature",
            Self::SignatureMismatch => "webhook.signature_mismatch",
            Self::TooOld { .. } => "webhook.too_old",
            Self::TooNew { .. } => "webhook.too_new",
            Self::InvalidSecret { .. } => "webhook.invalid_secret",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::MalformedHeader { .. } | Self::NoSignature => {
                "pass the signature header exactly as received: `t=<unix seconds>,v1=<hex>`"
            }
            Self::SignatureMismatch => "verify the raw request body as received (not re-serialized JSON) with the endpoint's current secrets",
            Self::TooOld { .. } | Self::TooNew { .. } => "check the receiver's clock; a request outside the tolerance may be a replay and must be dropped",
            Self::InvalidSecret { .. } => "give at least one non-empty secret (e.g. `whsec_...`)",
        }
    }
}
