//! Whole-record helpers: encrypt or decrypt the listed fields of a JSON object in one
//! call, with blind indexes for the searchable ones.
//!
//! One call per record instead of one per field matters most across the JS↔WASM
//! boundary, where the cost of a call dominates small fields. A field's path in the
//! associated data is the spec's name, a dot, and the JSON pointer without its leading
//! slash (`patients` + `/contact/email` → `patients.contact/email`), so every field has
//! its own subkey and a value cannot be moved between fields. Each value is encrypted as
//! its JSON text, so numbers, objects and arrays come back as they went in. Absent
//! fields and `null`s are left as they are.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use super::blind_index::IndexSpec;
use super::error::CryptoError;
use super::keyring::Keyring;

/// Which fields of a kind of record are encrypted, and which are searchable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordSpec {
    /// The kind of record, e.g. `patients`; the first part of each field path.
    pub name: String,
    /// The encrypted fields.
    pub fields: Vec<FieldSpec>,
}

/// One encrypted field of a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldSpec {
    /// JSON pointer to the value, e.g. `/diagnosis` or `/contact/email`.
    pub pointer: String,
    /// Present when the field is searchable by equality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexSpec>,
}

/// A record with its listed fields encrypted, and the blind indexes of the searchable
/// ones (keyed by pointer) to store beside it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncryptedRecord {
    /// The record, listed fields replaced by `phx1.` strings.
    pub record: Value,
    /// Blind index per searchable pointer that had a value.
    pub indexes: BTreeMap<String, String>,
}

impl RecordSpec {
    /// Checks the pointers: each starts with `/`, appears once, and none lies inside another.
    pub fn check(&self) -> Result<(), CryptoError> {
        let invalid = |reason: String| Err(CryptoError::InvalidSpec { reason });
        if self.name.is_empty() {
            return invalid("the record spec needs a name, e.g. `patients`".to_owned());
        }
        let mut seen = BTreeSet::new();
        for field in &self.fields {
            let p = &field.pointer;
            if !p.starts_with('/') || p.len() < 2 {
                return invalid(format!(
                    "`{p}` is not a JSON pointer to a field (it must start with `/`)"
                ));
            }
            if !seen.insert(p.as_str()) {
                return invalid(format!("`{p}` is listed twice"));
            }
            if let Some(index) = &field.index {
                index.check()?;
            }
        }
        for a in &seen {
            for b in &seen {
                if a != b && b.starts_with(a) && b.as_bytes().get(a.len()) == Some(&b'/') {
                    return invalid(format!("`{b}` lies inside `{a}`; list one of them"));
                }
            }
        }
        Ok(())
    }

    /// The field path a pointer is encrypted under.
    pub fn field_path(&self, pointer: &str) -> String {
        format!("{}.{}", self.name, pointer.trim_start_matches('/'))
    }
}

impl Keyring {
    /// Encrypts the spec's fields of `record` and computes its blind indexes.
    pub fn encrypt_record(
        &self,
        spec: &RecordSpec,
        record_id: &str,
        record: &Value,
    ) -> Result<EncryptedRecord, CryptoError> {
        spec.check()?;
        let mut out = record.clone();
        let mut indexes = BTreeMap::new();
        for field in &spec.fields {
            let Some(slot) = out.pointer_mut(&field.pointer) else {
                continue;
            };
            if slot.is_null() {
                continue;
            }
            let in_field = |source| CryptoError::InField {
                pointer: field.pointer.clone(),
                source: Box::new(source),
            };
            let path = spec.field_path(&field.pointer);
            if let Some(index) = &field.index {
                let text = match &*slot {
                    Value::String(s) => Zeroizing::new(s.clone()),
                    other => Zeroizing::new(other.to_string()),
                };
                let bi = self.blind_index(&path, &text, index).map_err(in_field)?;
                indexes.insert(field.pointer.clone(), bi);
            }
            let plaintext = Zeroizing::new(serde_json::to_vec(&*slot).unwrap_or_default());
            *slot = Value::String(
                self.encrypt_field(&path, record_id, &plaintext)
                    .map_err(in_field)?,
            );
        }
        Ok(EncryptedRecord {
            record: out,
            indexes,
        })
    }

    /// Decrypts the spec's fields of `record`. With `readable`, only the pointers in that
    /// set are decrypted; the other listed fields are removed from the answer, so a caller
    /// allowed to read some fields never receives the others, even encrypted.
    pub fn decrypt_record(
        &self,
        spec: &RecordSpec,
        record_id: &str,
        record: &Value,
        readable: Option<&BTreeSet<String>>,
    ) -> Result<Value, CryptoError> {
        spec.check()?;
        let mut out = record.clone();
        for field in &spec.fields {
            if readable.is_some_and(|set| !set.contains(&field.pointer)) {
                remove_pointer(&mut out, &field.pointer);
                continue;
            }
            let Some(slot) = out.pointer_mut(&field.pointer) else {
                continue;
            };
            let in_field = |source| CryptoError::InField {
                pointer: field.pointer.clone(),
                source: Box::new(source),
            };
            let ciphertext = match &*slot {
                Value::Null => continue,
                Value::String(s) => s,
                _ => {
                    return Err(in_field(CryptoError::MalformedCiphertext {
                        reason: "an encrypted field must hold a `phx1.` string",
                    }))
                }
            };
            let path = spec.field_path(&field.pointer);
            let plaintext = self
                .decrypt_field(&path, record_id, ciphertext)
                .map_err(in_field)?;
            *slot = serde_json::from_slice(&plaintext).map_err(|_| {
                in_field(CryptoError::MalformedCiphertext {
                    reason:
                        "the decrypted value is not JSON; it was not encrypted as a record field",
                })
            })?;
        }
        Ok(out)
    }
}

/// Removes the value at `pointer` (an object member, or an array element set to null).
fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let token = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&token);
        }
        Some(Value::Array(items)) => {
            if let Some(item) = token.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}
