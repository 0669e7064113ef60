//! Verifying a chain: the first bad sequence number and what is wrong there.
//!
//! Records are checked in the order given (the order they were stored in). Each record
//! must carry the verifier's key id, authenticate under the audit key, have the next
//! sequence number and point at the previous record's hash. At the first record that
//! does not, the fault is classified by looking at that record and its neighbour:
//!
//! | what is seen | fault |
//! | --- | --- |
//! | the first record under another key id | [`WrongKey`](AuditError::WrongKey) |
//! | a record that authenticates only with the expected sequence number, previous hash or key id substituted, or not at all | [`Modified`](AuditError::Modified) |
//! | an authentic record with a later sequence number, the expected one appearing further on | [`Reordered`](AuditError::Reordered) |
//! | an authentic record with a later sequence number, the expected one nowhere | [`Missing`](AuditError::Missing) |
//! | a record that does not authenticate, followed by the record that belongs here | [`Inserted`](AuditError::Inserted) |
//! | an authentic duplicate, or an authentic record of another tenant or fork | [`Inserted`](AuditError::Inserted) |
//! | a checkpoint beyond the last record, or with another hash at its sequence number | [`Truncated`](AuditError::Truncated) |
//!
//! Each record costs one canonicalization and one HMAC; the classification work happens
//! only once, at the fault.

use subtle::ConstantTimeEq;

use super::chain::{genesis_hash, record_mac, AuditRecord, ChainHead};
use super::checkpoint::TrustedCheckpoint;
use super::error::AuditError;
use super::key::{hex_lower, parse_hash, AuditKey};

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Verified {
    /// How many records verified.
    pub verified: u64,
    /// The last verified record (or the starting point, when there were none).
    pub head: ChainHead,
    /// The checkpoint's sequence number, when one was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_seq: Option<u64>,
}

/// Verifies a tenant's whole chain, from its first event, optionally against a checkpoint.
pub fn verify(
    tenant: &str,
    records: &[AuditRecord],
    key: &AuditKey,
    checkpoint: Option<&TrustedCheckpoint>,
) -> Result<Verified, AuditError> {
    verify_from(&ChainHead::genesis(tenant), records, key, checkpoint)
}

/// Verifies a chain that may have been pruned at retention: from the genesis when
/// `pruned_to` is `None`, else from the head a verified prune record gives
/// ([`CheckpointVerifier::check_prune`](super::CheckpointVerifier::check_prune)). A
/// chain that starts after event 1 without a prune record was truncated at its start:
/// [`AuditError::TruncatedStart`].
pub fn verify_retained(
    tenant: &str,
    records: &[AuditRecord],
    key: &AuditKey,
    pruned_to: Option<&ChainHead>,
    checkpoint: Option<&TrustedCheckpoint>,
) -> Result<Verified, AuditError> {
    match pruned_to {
        Some(start) => {
            if start.tenant != tenant {
                return Err(AuditError::BadCheckpoint {
                    reason: "the prune record is for another tenant",
                });
            }
            verify_from(start, records, key, checkpoint)
        }
        None => match records.first() {
            Some(first) if first.seq > 1 => Err(AuditError::TruncatedStart {
                first_seq: first.seq,
            }),
            _ => verify(tenant, records, key, checkpoint),
        },
    }
}

/// Verifies records that continue from a trusted `start` (e.g. an earlier verified head),
/// so a long chain can be checked in pieces.
pub fn verify_from(
    start: &ChainHead,
    records: &[AuditRecord],
    key: &AuditKey,
    checkpoint: Option<&TrustedCheckpoint>,
) -> Result<Verified, AuditError> {
    let tenant = start.tenant.as_str();
    let start_hash = if start.seq == 0 {
        genesis_hash(tenant)
    } else {
        parse_hash(&start.hash).ok_or(AuditError::Invalid {
            what: "chain head",
            reason: "the hash must be 64 lowercase hex digits",
        })?
    };
    if let Some(cp) = checkpoint {
        if cp.checkpoint.tenant != tenant {
            return Err(AuditError::BadCheckpoint {
                reason: "the checkpoint is for another tenant",
            });
        }
        if cp.checkpoint.key_id != key.key_id() {
            return Err(AuditError::WrongKey {
                seq: cp.checkpoint.seq,
                expected: key.key_id().to_owned(),
                found: cp.checkpoint.key_id.clone(),
            });
        }
        if cp.checkpoint.seq < start.seq {
            return Err(AuditError::BadCheckpoint {
                reason: "the checkpoint precedes the records being verified",
            });
        }
    }

    let mut walk = Walk {
        key,
        tenant,
        expected: start.seq.saturating_add(1),
        prev: start_hash,
    };
    let mut checkpoint_hash = None;
    if let Some(cp) = checkpoint {
        if cp.checkpoint.seq == start.seq {
            checkpoint_hash = Some(start_hash);
        }
    }
    for (index, record) in records.iter().enumerate() {
        let rest = records.get(index.saturating_add(1)..).unwrap_or_default();
        let hash = walk.step(record, rest)?;
        if let Some(cp) = checkpoint {
            if cp.checkpoint.seq == record.seq {
                checkpoint_hash = Some(hash);
            }
        }
    }
    let last = walk.expected.saturating_sub(1);

    if let Some(cp) = checkpoint {
        let cp_seq = cp.checkpoint.seq;
        match checkpoint_hash {
            None => {
                return Err(AuditError::Truncated {
                    seq: walk.expected,
                    checkpoint_seq: cp_seq,
                })
            }
            Some(hash) if !bool::from(hash.ct_eq(&cp.head_hash)) => {
                return Err(AuditError::Truncated {
                    seq: cp_seq,
                    checkpoint_seq: cp_seq,
                })
            }
            Some(_) => {}
        }
    }

    Ok(Verified {
        verified: last.saturating_sub(start.seq),
        head: ChainHead {
            tenant: tenant.to_owned(),
            seq: last,
            hash: hex_lower(&walk.prev),
        },
        checkpoint_seq: checkpoint.map(|cp| cp.checkpoint.seq),
    })
}

/// The verifier's position in the chain.
struct Walk<'a> {
    key: &'a AuditKey,
    tenant: &'a str,
    /// The sequence number the next record must have.
    expected: u64,
    /// The hash the next record must point at.
    prev: [u8; 32],
}

impl Walk<'_> {
    /// Checks one record; on success advances and returns its hash.
    fn step(&mut self, record: &AuditRecord, rest: &[AuditRecord]) -> Result<[u8; 32], AuditError> {
        let seq = self.expected;
        if record.key_id != self.key.key_id() {
            // Only the key id field changed? Then the rest authenticates with ours.
            if self.authenticates_as(record, seq, &self.prev, self.key.key_id()) {
                return Err(AuditError::Modified { seq });
            }
            return Err(AuditError::WrongKey {
                seq,
                expected: self.key.key_id().to_owned(),
                found: record.key_id.clone(),
            });
        }
        let stored_prev = parse_hash(&record.prev_hash);
        let authentic = stored_prev.is_some_and(|prev| {
            self.authenticates(
                record,
                &record.event.tenant,
                record.seq,
                &prev,
                &record.key_id,
            )
        });
        if authentic
            && record.seq == seq
            && record.event.tenant == self.tenant
            && stored_prev == Some(self.prev)
        {
            let hash = parse_hash(&record.hash).unwrap_or_default();
            self.prev = hash;
            self.expected = seq.saturating_add(1);
            return Ok(hash);
        }
        Err(self.classify(record, rest, authentic))
    }

    /// Names the fault at `record`, the first record that does not continue the chain.
    fn classify(&self, record: &AuditRecord, rest: &[AuditRecord], authentic: bool) -> AuditError {
        let seq = self.expected;
        if authentic {
            // A genuine record of this key, in the wrong place.
            if record.event.tenant != self.tenant || record.seq == seq || record.seq < seq {
                // Another tenant's chain, a fork, or a duplicate of an earlier event.
                return AuditError::Inserted { seq };
            }
            if rest.iter().any(|later| later.seq == seq) {
                return AuditError::Reordered { seq };
            }
            return AuditError::Missing { seq };
        }
        // It does not authenticate as stored. Does it with the expected metadata (its
        // sequence number or previous hash field was changed)?
        if self.authenticates_as(record, seq, &self.prev, &record.key_id) {
            return AuditError::Modified { seq };
        }
        if let Some(next) = rest.first() {
            if self.authenticates_as(next, seq, &self.prev, &next.key_id) {
                // The record that belongs here comes next. Was this one its successor,
                // with the two swapped (sequence numbers and all)?
                let next_hash = parse_hash(&next.hash).unwrap_or_default();
                if self.authenticates_as(record, seq.saturating_add(1), &next_hash, &record.key_id)
                {
                    return AuditError::Reordered { seq };
                }
                return AuditError::Inserted { seq };
            }
        }
        // Renumbered to close a gap left by a deleted event?
        if let Some(prev) = parse_hash(&record.prev_hash) {
            if self.authenticates(
                record,
                self.tenant,
                record.seq.saturating_add(1),
                &prev,
                &record.key_id,
            ) {
                return AuditError::Missing { seq };
            }
        }
        AuditError::Modified { seq }
    }

    /// Whether `record`'s event, placed at `seq` after `prev` in this tenant's chain,
    /// has the record's stored hash.
    fn authenticates_as(
        &self,
        record: &AuditRecord,
        seq: u64,
        prev: &[u8; 32],
        key_id: &str,
    ) -> bool {
        self.authenticates(record, self.tenant, seq, prev, key_id)
    }

    fn authenticates(
        &self,
        record: &AuditRecord,
        tenant: &str,
        seq: u64,
        prev: &[u8; 32],
        key_id: &str,
    ) -> bool {
        let Some(stored) = parse_hash(&record.hash) else {
            return false;
        };
        let Ok(canonical) = record.event.canonical_bytes() else {
            return false;
        };
        let computed = record_mac(self.key, tenant, seq, key_id, prev, &canonical);
        computed.ct_eq(&stored).into()
    }
}
