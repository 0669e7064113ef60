//! JSON call types for audit chains (DESIGN.md §1.5).
//!
//! The audit key (and the checkpoint signing key) are handles held by the transport, as
//! the keyring is for field encryption; they are passed beside the request, never in it.
//! Verification answers `ok` whether or not the chain is intact: a tampered chain is a
//! finding, not a failed call. `ok.fault` then carries the fault's stable code (the same
//! as [`AuditError`]'s, e.g. `audit.modified`), its kind and its sequence number.

use serde::{Deserialize, Serialize};

use super::chain::{AuditChain, AuditRecord, ChainHead};
use super::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier, PruneRecord};
use super::error::{AuditError, FaultKind};
use super::event::AuditEvent;
use super::key::AuditKey;
use super::verify::verify_from;
use crate::error::Diagnostic;

/// `appendAuditEvents`: append events to a chain standing at `head`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppendRequest {
    /// The chain's current head ([`ChainHead::genesis`] for a new tenant: `seq` 0).
    pub head: ChainHead,
    /// The events, oldest first, all of the head's tenant.
    pub events: Vec<AuditEvent>,
}

/// The records to store, and the new head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppendResponse {
    /// One record per event, in order.
    pub records: Vec<AuditRecord>,
    /// The head after the last one.
    pub head: ChainHead,
}

/// `appendAuditEvents`. All or nothing: a bad event fails the call and nothing is
/// returned to store.
pub fn append(key: &AuditKey, req: &AppendRequest) -> Result<AppendResponse, AuditError> {
    let mut chain = AuditChain::resume(key.clone(), &req.head)?;
    let records = req
        .events
        .iter()
        .map(|event| chain.append(event.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AppendResponse {
        records,
        head: chain.head(),
    })
}

/// `auditCheckpoint`: sign a head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckpointRequest {
    /// The head to vouch for.
    pub head: ChainHead,
    /// Signing time, unix seconds.
    pub now: u64,
}

/// `auditCheckpoint`.
pub fn checkpoint(
    key: &AuditKey,
    signer: &CheckpointSigner,
    req: &CheckpointRequest,
) -> Result<Checkpoint, AuditError> {
    // Resuming validates the head (tenant and hash format).
    let chain = AuditChain::resume(key.clone(), &req.head)?;
    Ok(chain.checkpoint(signer, req.now))
}

/// `verifyAuditChain`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyRequest {
    /// The tenant whose chain this is.
    pub tenant: String,
    /// The records in stored order.
    pub records: Vec<AuditRecord>,
    /// Where the records start: omit to verify from the first event; give an earlier
    /// verified head to verify a continuation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<ChainHead>,
    /// A checkpoint to check for truncation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
    /// The signer's Ed25519 public key (base64url or hex); required with `checkpoint`
    /// or `prune`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_public_key: Option<String>,
    /// The signed prune record of a chain pruned at retention: the records continue
    /// from it (instead of from the genesis or `start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneRecord>,
}

/// The first fault found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// What is wrong.
    pub kind: FaultKind,
    /// Stable code, e.g. `audit.modified`.
    pub code: String,
    /// First bad sequence number.
    pub seq: u64,
    /// For a person.
    pub message: String,
}

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyResponse {
    /// True when every record (and the checkpoint) verified.
    pub valid: bool,
    /// How many records verified (before the fault, if any).
    pub verified: u64,
    /// The last verified head (only when valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<ChainHead>,
    /// The fault (only when not valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
}

/// `verifyAuditChain`. Faults come back as `ok` with `valid: false`; malformed input
/// (a bad public key, a checkpoint whose signature fails) as an error.
pub fn verify(key: &AuditKey, req: &VerifyRequest) -> Result<VerifyResponse, AuditError> {
    let trusted = match (&req.checkpoint, &req.checkpoint_public_key) {
        (Some(cp), Some(public_key)) => Some(CheckpointVerifier::parse(public_key)?.check(cp)?),
        (Some(_), None) => {
            return Err(AuditError::Invalid {
                what: "request",
                reason: "a checkpoint needs `checkpointPublicKey` to be checked",
            })
        }
        (None, _) => None,
    };
    let start = match (&req.start, &req.prune, &req.checkpoint_public_key) {
        (Some(_), Some(_), _) => {
            return Err(AuditError::Invalid {
                what: "request",
                reason: "give `start` or `prune`, not both",
            })
        }
        (None, Some(_), None) => {
            return Err(AuditError::Invalid {
                what: "request",
                reason: "a prune record needs `checkpointPublicKey` to be checked",
            })
        }
        (None, Some(prune), Some(public_key)) => {
            let head = CheckpointVerifier::parse(public_key)?.check_prune(prune)?;
            if head.tenant != req.tenant {
                return Err(AuditError::BadCheckpoint {
                    reason: "the prune record is for another tenant",
                });
            }
            head
        }
        (start, None, _) => start
            .clone()
            .unwrap_or_else(|| ChainHead::genesis(&req.tenant)),
    };
    if start.tenant != req.tenant {
        return Err(AuditError::Invalid {
            what: "request",
            reason: "`start` is the head of another tenant's chain",
        });
    }
    match verify_from(&start, &req.records, key, trusted.as_ref()) {
        Ok(done) => Ok(VerifyResponse {
            valid: true,
            verified: done.verified,
            head: Some(done.head),
            fault: None,
        }),
        Err(err) => match err.fault() {
            Some((kind, seq)) => Ok(VerifyResponse {
                valid: false,
                verified: seq.saturating_sub(start.seq).saturating_sub(1),
                head: None,
                fault: Some(Fault {
                    kind,
                    code: err.code().to_owned(),
                    seq,
                    message: err.to_string(),
                }),
            }),
            None => Err(err),
        },
    }
}
