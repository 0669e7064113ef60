//! JSON call types for field encryption (DESIGN.md §1.5).
//!
//! A keyring is a stateful handle in every transport (a JS object, a wasm resource, a
//! tenant on the server), so these calls take the opened [`Keyring`] beside the request.
//! Field values cross as UTF-8 text; binary payloads use the `_bytes` methods of
//! [`Keyring`] directly.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::blind_index::IndexSpec;
use super::error::CryptoError;
use super::keyring::Keyring;
use super::record::{EncryptedRecord, RecordSpec};

/// Encrypt one field value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncryptFieldRequest {
    /// Field path, e.g. `patients.diagnosis`.
    pub field: String,
    /// Record id the value belongs to.
    pub record_id: String,
    /// The value.
    pub plaintext: String,
}

/// A field ciphertext in text form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiphertextResponse {
    /// `phx1.` + base64url.
    pub ciphertext: String,
}

/// Decrypt one field value (also the shape of rewrap and needs-rewrap requests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecryptFieldRequest {
    /// Field path used to encrypt.
    pub field: String,
    /// Record id used to encrypt.
    pub record_id: String,
    /// The `phx1.` string.
    pub ciphertext: String,
}

/// A decrypted field value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaintextResponse {
    /// The value.
    pub plaintext: String,
}

/// Whether a ciphertext is under an older key version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NeedsRewrapResponse {
    /// True when [`rewrap`] would re-encrypt it.
    pub needs_rewrap: bool,
}

/// Compute a blind index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlindIndexRequest {
    /// Field path, e.g. `patients.email`.
    pub field: String,
    /// The value to index (or to search for).
    pub value: String,
    /// Normalization and length.
    #[serde(default)]
    pub index: IndexSpec,
    /// Return the index under every index-key version held (for searching during an
    /// index-key rotation), newest first.
    #[serde(default)]
    pub all_versions: bool,
}

/// Blind indexes, newest key version first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BlindIndexResponse {
    /// One index, or one per index-key version.
    pub indexes: Vec<String>,
}

/// Encrypt the listed fields of a record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncryptRecordRequest {
    /// Which fields to encrypt and index.
    pub spec: RecordSpec,
    /// The record's id.
    pub record_id: String,
    /// The record (a JSON object).
    pub record: Value,
}

/// Decrypt the listed fields of a record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecryptRecordRequest {
    /// The spec it was encrypted with.
    pub spec: RecordSpec,
    /// The record's id.
    pub record_id: String,
    /// The encrypted record.
    pub record: Value,
    /// When present, only these pointers are decrypted; other listed fields are dropped.
    /// `null` is refused, not read as "every field": a caller whose policy lookup gave
    /// nothing must not get the whole record (fail closed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_set"
    )]
    pub readable: Option<BTreeSet<String>>,
}

/// An optional set that, when given, is a set: absent is `None` (by `default`), `null` an error.
fn present_set<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeSet<String>>, D::Error> {
    BTreeSet::deserialize(deserializer).map(Some)
}

/// A decrypted record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordResponse {
    /// The record.
    pub record: Value,
}

/// `encryptField`.
pub fn encrypt_field(
    keyring: &Keyring,
    req: &EncryptFieldRequest,
) -> Result<CiphertextResponse, CryptoError> {
    Ok(CiphertextResponse {
        ciphertext: keyring.encrypt_field(&req.field, &req.record_id, req.plaintext.as_bytes())?,
    })
}

/// `decryptField`.
pub fn decrypt_field(
    keyring: &Keyring,
    req: &DecryptFieldRequest,
) -> Result<PlaintextResponse, CryptoError> {
    Ok(PlaintextResponse {
        plaintext: keyring
            .decrypt_field_text(&req.field, &req.record_id, &req.ciphertext)?
            .to_string(),
    })
}

/// `needsRewrap`.
pub fn needs_rewrap(
    keyring: &Keyring,
    req: &DecryptFieldRequest,
) -> Result<NeedsRewrapResponse, CryptoError> {
    Ok(NeedsRewrapResponse {
        needs_rewrap: keyring.needs_rewrap(&req.ciphertext)?,
    })
}

/// `rewrap`.
pub fn rewrap(
    keyring: &Keyring,
    req: &DecryptFieldRequest,
) -> Result<CiphertextResponse, CryptoError> {
    Ok(CiphertextResponse {
        ciphertext: keyring.rewrap(&req.field, &req.record_id, &req.ciphertext)?,
    })
}

/// `blindIndex`.
pub fn blind_index(
    keyring: &Keyring,
    req: &BlindIndexRequest,
) -> Result<BlindIndexResponse, CryptoError> {
    let indexes = if req.all_versions {
        keyring.blind_index_all_versions(&req.field, &req.value, &req.index)?
    } else {
        vec![keyring.blind_index(&req.field, &req.value, &req.index)?]
    };
    Ok(BlindIndexResponse { indexes })
}

/// `encryptRecord`.
pub fn encrypt_record(
    keyring: &Keyring,
    req: &EncryptRecordRequest,
) -> Result<EncryptedRecord, CryptoError> {
    keyring.encrypt_record(&req.spec, &req.record_id, &req.record)
}

/// `decryptRecord`.
pub fn decrypt_record(
    keyring: &Keyring,
    req: &DecryptRecordRequest,
) -> Result<RecordResponse, CryptoError> {
    Ok(RecordResponse {
        record: keyring.decrypt_record(
            &req.spec,
            &req.record_id,
            &req.record,
            req.readable.as_ref(),
        )?,
    })
}
