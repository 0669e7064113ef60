//! Signed checkpoints: "the head of tenant T's chain was `seq` with this hash".
//!
//! The signature is Ed25519 over
//!
//! ```text
//! "phylax/audit/checkpoint/v1" ‖ len‖tenant ‖ seq (u64 big-endian) ‖ head hash (32 bytes)
//!     ‖ len‖audit key id ‖ time (u64 big-endian)
//! ```
//!
//! A checkpoint is only useful if it is kept away from the log it vouches for (another
//! system, an external timestamp, a ticket): then whoever can edit the log cannot make
//! it end earlier unnoticed. Verifiers need only the signer's public key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::chain::ChainHead;
use super::error::AuditError;
use super::key::parse_hash;
use crate::crypto::Secret32;

/// A signed statement of a chain's head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    /// The tenant.
    pub tenant: String,
    /// The head's sequence number.
    pub seq: u64,
    /// The head's hash, 64 hex digits.
    pub head_hash: String,
    /// The audit key id of the chain.
    pub key_id: String,
    /// When it was signed, unix seconds.
    pub time: u64,
    /// Ed25519 signature, base64url without padding.
    pub signature: String,
}

/// A signed record of a retention prune: the tenant's events before `first_kept_seq`
/// were deleted on purpose, and `prev_hash` is the hash of the last one deleted, so what
/// remains verifies from it ([`verify_retained`](super::verify::verify_retained)). Signed
/// like a checkpoint but under its own domain (`phylax/audit/prune/v1`), so no
/// checkpoint can pass for a prune: a chain that starts late without one was truncated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PruneRecord {
    /// The tenant.
    pub tenant: String,
    /// The first sequence number kept.
    pub first_kept_seq: u64,
    /// The hash of event `first_kept_seq - 1`, 64 hex digits.
    pub prev_hash: String,
    /// The audit key id of the chain.
    pub key_id: String,
    /// When the prune happened, unix seconds.
    pub time: u64,
    /// Ed25519 signature, base64url without padding.
    pub signature: String,
}

const CHECKPOINT_DOMAIN: &[u8] = b"phylax/audit/checkpoint/v1";
const PRUNE_DOMAIN: &[u8] = b"phylax/audit/prune/v1";

fn signed_bytes(tenant: &str, seq: u64, head_hash: &[u8; 32], key_id: &str, time: u64) -> Vec<u8> {
    domain_signed_bytes(CHECKPOINT_DOMAIN, tenant, seq, head_hash, key_id, time)
}

fn domain_signed_bytes(
    domain: &[u8],
    tenant: &str,
    seq: u64,
    head_hash: &[u8; 32],
    key_id: &str,
    time: u64,
) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64 + tenant.len() + key_id.len());
    buf.extend_from_slice(domain);
    crate::crypto::kdf::push_framed(&mut buf, tenant.as_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(head_hash);
    crate::crypto::kdf::push_framed(&mut buf, key_id.as_bytes());
    buf.extend_from_slice(&time.to_be_bytes());
    buf
}

/// Signs checkpoints with an Ed25519 key. `Debug` shows only the public key.
#[derive(Clone)]
pub struct CheckpointSigner {
    key: SigningKey,
}

impl CheckpointSigner {
    /// Uses a 32-byte Ed25519 seed.
    pub fn from_secret(seed: &Secret32) -> Self {
        Self {
            key: SigningKey::from_bytes(seed.expose()),
        }
    }

    /// A fresh random signing key and its seed (store the seed; it is not recoverable).
    pub fn generate() -> Result<(Self, Secret32), AuditError> {
        let seed = Secret32::random().map_err(|_| AuditError::Invalid {
            what: "checkpoint key",
            reason: "no secure randomness available",
        })?;
        Ok((Self::from_secret(&seed), seed))
    }

    /// The public key, base64url without padding, for [`CheckpointVerifier::parse`].
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes())
    }

    /// The verifier matching this signer.
    pub fn verifier(&self) -> CheckpointVerifier {
        CheckpointVerifier {
            key: self.key.verifying_key(),
        }
    }

    /// Signs `head` of a chain written under audit key `key_id`. A head whose hash is not
    /// 64 lowercase hex digits is signed over zero bytes, so it can never verify.
    pub fn sign(&self, head: &ChainHead, key_id: &str, now: u64) -> Checkpoint {
        let hash = parse_hash(&head.hash).unwrap_or([0u8; 32]);
        let signature = self
            .key
            .sign(&signed_bytes(&head.tenant, head.seq, &hash, key_id, now));
        Checkpoint {
            tenant: head.tenant.clone(),
            seq: head.seq,
            head_hash: head.hash.clone(),
            key_id: key_id.to_owned(),
            time: now,
            signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        }
    }
}

impl CheckpointSigner {
    /// Signs a prune record: `tenant`'s events before `first_kept_seq` are deleted, the
    /// last deleted one having hash `prev_hash`.
    pub fn sign_prune(
        &self,
        tenant: &str,
        first_kept_seq: u64,
        prev_hash: &str,
        key_id: &str,
        now: u64,
    ) -> PruneRecord {
        let hash = parse_hash(prev_hash).unwrap_or([0u8; 32]);
        let message = domain_signed_bytes(PRUNE_DOMAIN, tenant, first_kept_seq, &hash, key_id, now);
        PruneRecord {
            tenant: tenant.to_owned(),
            first_kept_seq,
            prev_hash: prev_hash.to_owned(),
            key_id: key_id.to_owned(),
            time: now,
            signature: URL_SAFE_NO_PAD.encode(self.key.sign(&message).to_bytes()),
        }
    }
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// Checks checkpoint signatures with the signer's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointVerifier {
    key: VerifyingKey,
}

/// A checkpoint whose signature verified; only [`CheckpointVerifier::check`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedCheckpoint {
    pub(crate) checkpoint: Checkpoint,
    pub(crate) head_hash: [u8; 32],
}

impl TrustedCheckpoint {
    /// The checkpoint.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
}

impl CheckpointVerifier {
    /// Parses a public key: 32 bytes as base64url (43 characters) or 64 hex digits.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let bad = AuditError::Invalid {
            what: "checkpoint public key",
            reason: "expected a 32-byte Ed25519 public key as base64url or hex",
        };
        let bytes = Secret32::parse(text).map_err(|_| bad.clone())?;
        let key = VerifyingKey::from_bytes(bytes.expose()).map_err(|_| bad)?;
        Ok(Self { key })
    }

    /// Verifies a prune record's signature and returns the head the kept events continue
    /// from (sequence number `first_kept_seq - 1`, hash `prev_hash`).
    pub fn check_prune(&self, prune: &PruneRecord) -> Result<ChainHead, AuditError> {
        let hash = parse_hash(&prune.prev_hash).ok_or(AuditError::BadCheckpoint {
            reason: "the prune record's previous hash is not 64 lowercase hex digits",
        })?;
        if prune.first_kept_seq < 2 {
            return Err(AuditError::BadCheckpoint {
                reason: "a prune record keeps events from sequence number 2 or later",
            });
        }
        let signature = URL_SAFE_NO_PAD
            .decode(&prune.signature)
            .ok()
            .and_then(|raw| Signature::from_slice(&raw).ok())
            .ok_or(AuditError::BadCheckpoint {
                reason: "the prune record's signature is not 64 bytes of base64url",
            })?;
        let message = domain_signed_bytes(
            PRUNE_DOMAIN,
            &prune.tenant,
            prune.first_kept_seq,
            &hash,
            &prune.key_id,
            prune.time,
        );
        self.key
            .verify_strict(&message, &signature)
            .map_err(|_| AuditError::BadCheckpoint {
                reason: "the prune record's signature does not verify under this public key",
            })?;
        Ok(ChainHead {
            tenant: prune.tenant.clone(),
            seq: prune.first_kept_seq - 1,
            hash: prune.prev_hash.clone(),
        })
    }

    /// Verifies the signature. Every field is covered, so any change fails.
    pub fn check(&self, checkpoint: &Checkpoint) -> Result<TrustedCheckpoint, AuditError> {
        let head_hash = parse_hash(&checkpoint.head_hash).ok_or(AuditError::BadCheckpoint {
            reason: "the head hash is not 64 lowercase hex digits",
        })?;
        let raw = URL_SAFE_NO_PAD.decode(&checkpoint.signature).map_err(|_| {
            AuditError::BadCheckpoint {
                reason: "the signature is not base64url",
            }
        })?;
        let signature = Signature::from_slice(&raw).map_err(|_| AuditError::BadCheckpoint {
            reason: "the signature is not 64 bytes",
        })?;
        let message = signed_bytes(
            &checkpoint.tenant,
            checkpoint.seq,
            &head_hash,
            &checkpoint.key_id,
            checkpoint.time,
        );
        self.key
            .verify_strict(&message, &signature)
            .map_err(|_| AuditError::BadCheckpoint {
                reason: "the signature does not verify under this public key",
            })?;
        Ok(TrustedCheckpoint {
            checkpoint: checkpoint.clone(),
            head_hash,
        })
    }
}
