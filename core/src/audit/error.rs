//! Errors of audit chains: bad input, and the faults [`verify()`](super::verify()) finds.

use serde::{Deserialize, Serialize};

use crate::error::Diagnostic;

/// The kinds of fault a chain verification reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// An event, or its stored sequence number or hashes, was changed.
    Modified,
    /// A sequence number is missing: an event was deleted.
    Missing,
    /// Authentic events appear in the wrong order.
    Reordered,
    /// An event that does not belong to the chain was inserted (forged, duplicated, or
    /// taken from another chain).
    Inserted,
    /// The chain ends before the checkpoint's head, or has another hash there.
    Truncated,
    /// The chain was written under another audit key than the one given.
    WrongKey,
}

impl FaultKind {
    /// The stable error code of this fault, e.g. `audit.modified`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Modified => "audit.modified",
            Self::Missing => "audit.missing",
            Self::Reordered => "audit.reordered",
            Self::Inserted => "audit.inserted",
            Self::Truncated => "audit.truncated",
            Self::WrongKey => "audit.wrong_key",
        }
    }
}

/// Why an audit operation failed, or what verification found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The event at `seq` does not authenticate: its content, sequence number or stored
    /// hashes were changed. Fix: restore it from a backup; the chain is evidence of tampering.
    #[error("audit event {seq} was modified: its hash does not match its content")]
    Modified {
        /// First bad sequence number.
        seq: u64,
    },
    /// Event `seq` is absent: the next event has a later sequence number.
    #[error("audit event {seq} is missing: the chain jumps past it")]
    Missing {
        /// The missing sequence number.
        seq: u64,
    },
    /// Event `seq` is authentic but not where it belongs.
    #[error("audit events were reordered: event {seq} is not in its place")]
    Reordered {
        /// The first sequence number out of place.
        seq: u64,
    },
    /// At `seq` sits an event that does not belong to the chain: forged, duplicated or
    /// spliced in from another chain.
    #[error("an event was inserted into the audit chain at sequence number {seq}")]
    Inserted {
        /// Where the foreign event sits.
        seq: u64,
    },
    /// The checkpoint says the head is `checkpoint_seq`, but the chain ends before it
    /// (`seq` is the first event missing) or has another hash there (`seq` is the
    /// checkpoint's head).
    #[error("the audit chain was truncated: the checkpoint vouches for event {checkpoint_seq}, but from event {seq} on the chain does not match it")]
    Truncated {
        /// First sequence number that is missing or differs.
        seq: u64,
        /// The checkpoint's head.
        checkpoint_seq: u64,
    },
    /// The chain starts at `first_seq` with no signed prune record: its first events
    /// were removed, not pruned at retention.
    #[error("the audit chain was truncated at its start: it begins at event {first_seq} and no signed prune record vouches for the events before it")]
    TruncatedStart {
        /// The first sequence number present.
        first_seq: u64,
    },
    /// The event at `seq` (or the checkpoint) was written under another audit key.
    #[error("audit event {seq} was written under audit key `{found}`, not `{expected}`")]
    WrongKey {
        /// First sequence number under another key.
        seq: u64,
        /// Key id of the key given to the verifier.
        expected: String,
        /// Key id found in the chain.
        found: String,
    },
    /// The checkpoint's signature does not verify under the given public key, or it was
    /// made for another tenant.
    #[error("the checkpoint is not valid: {reason}")]
    BadCheckpoint {
        /// What is wrong.
        reason: &'static str,
    },
    /// An event cannot be appended as given.
    #[error("invalid audit event: {reason}")]
    InvalidEvent {
        /// What is wrong.
        reason: String,
    },
    /// A key, head or checkpoint is malformed.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// `audit key`, `chain head`, `public key` ...
        what: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The chain is empty and there is no checkpoint to compare it with.
    #[error("the audit chain is empty")]
    Empty,
}

impl AuditError {
    /// The fault kind and first bad sequence number, when this is a verification fault.
    pub fn fault(&self) -> Option<(FaultKind, u64)> {
        match self {
            Self::Modified { seq } => Some((FaultKind::Modified, *seq)),
            Self::Missing { seq } => Some((FaultKind::Missing, *seq)),
            Self::Reordered { seq } => Some((FaultKind::Reordered, *seq)),
            Self::Inserted { seq } => Some((FaultKind::Inserted, *seq)),
            Self::Truncated { seq, .. } => Some((FaultKind::Truncated, *seq)),
            Self::TruncatedStart { .. } => Some((FaultKind::Truncated, 1)),
            Self::WrongKey { seq, .. } => Some((FaultKind::WrongKey, *seq)),
            _ => None,
        }
    }
}

impl Diagnostic for AuditError {
    fn code(&self) -> &'static str {
        match self {
            Self::Modified { .. } => FaultKind::Modified.code(),
            Self::Missing { .. } => FaultKind::Missing.code(),
            Self::Reordered { .. } => FaultKind::Reordered.code(),
            Self::Inserted { .. } => FaultKind::Inserted.code(),
            Self::Truncated { .. } | Self::TruncatedStart { .. } => FaultKind::Truncated.code(),
            Self::WrongKey { .. } => FaultKind::WrongKey.code(),
            Self::BadCheckpoint { .. } => "audit.bad_checkpoint",
            Self::InvalidEvent { .. } => "audit.invalid_event",
            Self::Invalid { .. } => "audit.invalid_input",
            Self::Empty => "audit.empty",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Modified { .. } | Self::Missing { .. } | Self::Reordered { .. } | Self::Inserted { .. } => {
                "treat the log as tampered from this sequence number on; restore it from a trusted copy and investigate"
            }
            Self::Truncated { .. } => "events after the chain's end were removed or rewritten; restore them from a trusted copy",
            Self::TruncatedStart { .. } => "the chain's first events were deleted without a prune record; restore them from a trusted copy",
            Self::WrongKey { .. } => "verify with the audit key the chain was written with (its key id is stored in every event)",
            Self::BadCheckpoint { .. } => "use the checkpoint exactly as signed, for this tenant, with the signer's public key",
            Self::InvalidEvent { .. } => "give a tenant, an actor id, an action, a time and an outcome; list changed field names only",
            Self::Invalid { .. } => "keys are 32 bytes (64 hex digits or 43 base64url characters); hashes are 64 hex digits",
            Self::Empty => "pass the events to verify, or a checkpoint to compare an empty chain with",
        }
    }
}
