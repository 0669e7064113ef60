//! Webhook signatures: `t=<unix>,v1=<hex>` headers, HMAC-SHA256 over `t.payload`.
//!
//! The scheme is Stripe's, so receivers that already handle Stripe-style signatures
//! recognise it:
//!
//! ```text
//! Phylax-Signature: t=1700000000,v1=5257a869e7ecebed...,v1=9c3b1f...
//! v1 = hex(HMAC-SHA256(secret, "<t>." ‖ payload bytes))
//! ```
//!
//! - **Timestamp inside the MAC, with a tolerance window** (default 300 s): a captured
//!   request replayed later than the window fails, even though its signature is genuine.
//! - **Several `v1` signatures** during a secret rotation: the sender signs with every
//!   active secret (new and old); a receiver holding either verifies. Receivers may also
//!   hold several secrets ([`verify`] takes a list). Schemes other than `v1` are ignored,
//!   so a future `v2` can be added beside it.
//! - **Constant-time comparison** of every candidate, with no early exit.
//! - The secret is the bytes of the whole secret string (as Stripe's `whsec_...`);
//!   [`WebhookSecret::generate`] makes `whsec_` + 43 base64url characters (256 bits).
//!
//! Error order: the header's shape, then the signature, then the timestamp. So a
//! "too old" or "too new" error is only ever given for a genuinely signed request, and
//! a forgery learns nothing beyond "signature mismatch".

pub mod calls;
mod error;
pub mod signature;

pub use error::WebhookError;
pub use signature::{
    sign, signature, verify, VerifiedWebhook, WebhookSecret, DEFAULT_TOLERANCE_SECONDS,
};
