//! Appending to a tenant's chain: sequence numbers, the genesis value and event hashes.
//!
//! The hash of event `seq` is
//!
//! ```text
//! HMAC-SHA256(audit key,
//!     "phylax/audit/event/v1" ‖ len‖tenant ‖ seq (u64 big-endian) ‖ len‖key id
//!     ‖ previous hash (32 bytes) ‖ len‖JCS(event))
//! ```
//!
//! where `len‖x` is a 4-byte big-endian length and the bytes of `x`. Sequence numbers
//! start at 1; the "previous hash" of event 1 is the tenant's genesis value,
//! `SHA-256("phylax/audit/genesis/v1" ‖ len‖tenant)`, so chains of different tenants can
//! never be spliced together. Hashes are stored as 64 lowercase hex digits.

use hmac::Mac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::checkpoint::{Checkpoint, CheckpointSigner};
use super::error::AuditError;
use super::event::AuditEvent;
use super::key::{hex_lower, parse_hash, AuditKey};

/// One event as stored: the event, its place in the chain and its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditRecord {
    /// Position in the tenant's chain, from 1.
    pub seq: u64,
    /// Id of the audit key that wrote it.
    pub key_id: String,
    /// Hash of the previous record (the genesis value for `seq` 1), 64 hex digits.
    pub prev_hash: String,
    /// This record's hash, 64 hex digits.
    pub hash: String,
    /// The event.
    pub event: AuditEvent,
}

/// Where a chain stands: the last sequence number and its hash. Store it beside the
/// chain to resume appending; sign it (as a [`Checkpoint`]) to detect truncation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChainHead {
    /// The tenant.
    pub tenant: String,
    /// Last sequence number appended (0 for an empty chain).
    pub seq: u64,
    /// Its hash (the genesis value for an empty chain), 64 hex digits.
    pub hash: String,
}

impl ChainHead {
    /// The head of the tenant's empty chain.
    pub fn genesis(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            seq: 0,
            hash: hex_lower(&genesis_hash(tenant)),
        }
    }
}

/// The previous hash of a tenant's first event.
pub fn genesis_hash(tenant: &str) -> [u8; 32] {
    let mut digest = Sha256::new();
    digest.update(b"phylax/audit/genesis/v1");
    digest.update(frame_len(tenant.as_bytes()));
    digest.update(tenant.as_bytes());
    digest.finalize().into()
}

fn frame_len(bytes: &[u8]) -> [u8; 4] {
    u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes()
}

fn update_framed(mac: &mut impl Mac, bytes: &[u8]) {
    mac.update(&frame_len(bytes));
    mac.update(bytes);
}

/// The HMAC of one record (see the module docs for the exact input).
pub(crate) fn record_mac(
    key: &AuditKey,
    tenant: &str,
    seq: u64,
    key_id: &str,
    prev_hash: &[u8; 32],
    canonical_event: &[u8],
) -> [u8; 32] {
    let mut mac = key.mac();
    mac.update(b"phylax/audit/event/v1");
    update_framed(&mut mac, tenant.as_bytes());
    mac.update(&seq.to_be_bytes());
    update_framed(&mut mac, key_id.as_bytes());
    mac.update(prev_hash);
    update_framed(&mut mac, canonical_event);
    mac.finalize().into_bytes().into()
}

/// A tenant's chain being written: the key and the current head.
///
/// Appending is the only operation; records are plain data the host stores. Keep the
/// [`ChainHead`] (or the last record) to [`resume`](Self::resume) after a restart.
#[derive(Clone, Debug)]
pub struct AuditChain {
    key: AuditKey,
    tenant: String,
    seq: u64,
    hash: [u8; 32],
}

impl AuditChain {
    /// Starts the tenant's chain.
    pub fn new(key: AuditKey, tenant: &str) -> Result<Self, AuditError> {
        check_tenant(tenant)?;
        Ok(Self {
            key,
            tenant: tenant.to_owned(),
            seq: 0,
            hash: genesis_hash(tenant),
        })
    }

    /// Continues a chain from its stored head. The head of an empty chain (`seq` 0) must
    /// carry the tenant's genesis hash: any other hash there is a corrupt head, and
    /// chaining onto it would make a first record no verifier accepts.
    pub fn resume(key: AuditKey, head: &ChainHead) -> Result<Self, AuditError> {
        check_tenant(&head.tenant)?;
        let hash = parse_hash(&head.hash).ok_or(AuditError::Invalid {
            what: "chain head",
            reason: "the hash must be 64 lowercase hex digits",
        })?;
        if head.seq == 0 && hash != genesis_hash(&head.tenant) {
            return Err(AuditError::Invalid {
                what: "chain head",
                reason: "an empty chain's head (seq 0) must carry the tenant's genesis hash",
            });
        }
        Ok(Self {
            key,
            tenant: head.tenant.clone(),
            seq: head.seq,
            hash,
        })
    }

    /// Continues a chain after its last stored record (which is not re-verified).
    pub fn resume_after(key: AuditKey, last: &AuditRecord) -> Result<Self, AuditError> {
        Self::resume(
            key,
            &ChainHead {
                tenant: last.event.tenant.clone(),
                seq: last.seq,
                hash: last.hash.clone(),
            },
        )
    }

    /// Appends an event of this chain's tenant and returns the record to store.
    pub fn append(&mut self, event: AuditEvent) -> Result<AuditRecord, AuditError> {
        event.validate()?;
        if event.tenant != self.tenant {
            return Err(AuditError::InvalidEvent {
                reason: format!(
                    "the event is for tenant `{}` but this is the chain of `{}`",
                    event.tenant, self.tenant
                ),
            });
        }
        let seq = self.seq.checked_add(1).ok_or(AuditError::InvalidEvent {
            reason: "the chain is full (sequence number overflow)".to_owned(),
        })?;
        let canonical = event.canonical_bytes()?;
        let hash = record_mac(
            &self.key,
            &self.tenant,
            seq,
            self.key.key_id(),
            &self.hash,
            &canonical,
        );
        let record = AuditRecord {
            seq,
            key_id: self.key.key_id().to_owned(),
            prev_hash: hex_lower(&self.hash),
            hash: hex_lower(&hash),
            event,
        };
        self.seq = seq;
        self.hash = hash;
        Ok(record)
    }

    /// The current head.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            tenant: self.tenant.clone(),
            seq: self.seq,
            hash: hex_lower(&self.hash),
        }
    }

    /// The audit key's id.
    pub fn key_id(&self) -> &str {
        self.key.key_id()
    }

    /// A signed checkpoint of the current head.
    pub fn checkpoint(&self, signer: &CheckpointSigner, now: u64) -> Checkpoint {
        signer.sign(&self.head(), self.key.key_id(), now)
    }
}

pub(crate) fn check_tenant(tenant: &str) -> Result<(), AuditError> {
    if tenant.is_empty() || tenant.len() > 1024 {
        return Err(AuditError::InvalidEvent {
            reason: "the tenant must be 1 to 1024 bytes".to_owned(),
        });
    }
    Ok(())
}
