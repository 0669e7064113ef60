//! Tamper-evident audit records: per-tenant HMAC chains with signed checkpoints.
//!
//! ```text
//! genesis(tenant) ─┐
//!                  ▼
//!   hash₁ = HMAC(audit key, tenant ‖ 1 ‖ key id ‖ genesis ‖ JCS(event₁))
//!   hash₂ = HMAC(audit key, tenant ‖ 2 ‖ key id ‖ hash₁   ‖ JCS(event₂))
//!   ...
//!   checkpoint = Ed25519(tenant ‖ seq ‖ head hash ‖ key id ‖ time)
//! ```
//!
//! Why this shape:
//! - **HMAC, not a bare hash chain.** Whoever can write the log store could recompute a
//!   plain SHA-256 chain after editing it. The audit key lives with the writer (host or
//!   app), not with the store, so an edited, inserted or reordered event no longer
//!   authenticates.
//! - **Checkpoints, because a chain cannot see its own end.** Dropping the newest events
//!   leaves a perfectly valid shorter chain. A checkpoint, signed with an Ed25519 key
//!   and kept elsewhere (another system, a ticket, a transparency log), states "the head
//!   was `seq` with this hash"; a chain that ends earlier, or has another hash there, was
//!   truncated or rewritten. Anyone holding only the public key can check a checkpoint.
//! - **RFC 8785 (JCS) canonical JSON** of the event ([`event`]) is what is hashed, so the
//!   bytes do not depend on field order or whitespace of the input and any runtime with a
//!   JCS library (JS, Python, Go) can recompute them.
//! - **The key id** (a public fingerprint of the audit key) is stored in every record
//!   and checkpoint, so "verified with the wrong key" is reported as such instead of as
//!   ten thousand modified events.
//!
//! Start with [`AuditChain`] to append, [`verify()`] to check; [`calls`] has the JSON calls.

pub mod calls;
pub mod chain;
pub mod checkpoint;
mod error;
pub mod event;
pub mod key;
pub mod verify;

pub use chain::{AuditChain, AuditRecord, ChainHead};
pub use checkpoint::{
    Checkpoint, CheckpointSigner, CheckpointVerifier, PruneRecord, TrustedCheckpoint,
};
pub use error::{AuditError, FaultKind};
pub use event::{Action, Actor, AuditEvent, Decision, Origin, Outcome, RecordRef, RecordedBy};
pub use key::AuditKey;
pub use verify::{verify, verify_from, verify_retained, Verified};
