//! JSON call types for webhook signatures (DESIGN.md §1.5).
//!
//! Secrets travel as strings whose UTF-8 bytes are the HMAC key (as Stripe's
//! `whsec_...`); the payload is the raw body as a string.

use serde::{Deserialize, Serialize};

use super::error::WebhookError;
use super::signature::{self, VerifiedWebhook, WebhookSecret, DEFAULT_TOLERANCE_SECONDS};

/// `signWebhook`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignRequest {
    /// The raw body.
    pub payload: String,
    /// Every active secret (several during a rotation).
    pub secrets: Vec<String>,
    /// Signing time, unix seconds.
    pub timestamp: u64,
}

/// The header to send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignResponse {
    /// `t=...,v1=...`.
    pub header: String,
}

/// `signWebhook`.
pub fn sign(req: &SignRequest) -> Result<SignResponse, WebhookError> {
    let secrets = secrets(&req.secrets)?;
    Ok(SignResponse {
        header: signature::sign(&secrets, req.timestamp, req.payload.as_bytes())?,
    })
}

fn default_tolerance() -> u64 {
    DEFAULT_TOLERANCE_SECONDS
}

/// `verifyWebhook`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyRequest {
    /// The signature header as received.
    pub header: String,
    /// The raw body as received.
    pub payload: String,
    /// The endpoint's active secrets.
    pub secrets: Vec<String>,
    /// Current time, unix seconds.
    pub now: u64,
    /// Allowed distance of the timestamp from `now` (default 300 seconds).
    #[serde(default = "default_tolerance")]
    pub tolerance_seconds: u64,
}

/// `verifyWebhook`.
pub fn verify(req: &VerifyRequest) -> Result<VerifiedWebhook, WebhookError> {
    let secrets = secrets(&req.secrets)?;
    signature::verify(
        &req.header,
        req.payload.as_bytes(),
        &secrets,
        req.now,
        req.tolerance_seconds,
    )
}

fn secrets(texts: &[String]) -> Result<Vec<WebhookSecret>, WebhookError> {
    texts.iter().map(|text| WebhookSecret::new(text)).collect()
}
