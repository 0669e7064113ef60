//! Blind indexes: equality search over encrypted fields.
//!
//! A blind index is HMAC-SHA256 of a normalized value under a per-tenant, per-field
//! index key, truncated. The app stores it in a column beside the ciphertext and looks
//! rows up by computing the index of the search term. Truncation trades false positives
//! (more rows to decrypt and filter) for less leakage: equal indexes reveal equal
//! values, shorter ones say less. The normalization is part of the MAC input, so the
//! same value indexed two ways gives unrelated indexes.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::error::CryptoError;

/// How a value is normalized before it is indexed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Normalization {
    /// The value as given.
    #[default]
    Exact,
    /// Leading and trailing whitespace removed.
    Trim,
    /// Unicode NFKC, lowercased, trimmed, inner whitespace collapsed to one space.
    Casefold,
    /// Trimmed and lowercased (email addresses: `Ann@Example.org` = `ann@example.org`).
    Email,
    /// ASCII digits only (phone numbers, SSNs: `+1 (555) 010-2030` = `15550102030`).
    Digits,
}

impl Normalization {
    /// The name used in specs and in the MAC input.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Trim => "trim",
            Self::Casefold => "casefold",
            Self::Email => "email",
            Self::Digits => "digits",
        }
    }

    /// Normalizes `value`.
    pub fn apply(self, value: &str) -> String {
        match self {
            Self::Exact => value.to_owned(),
            Self::Trim => value.trim().to_owned(),
            Self::Casefold => {
                let folded: String = value.nfkc().collect::<String>().to_lowercase();
                folded.split_whitespace().collect::<Vec<_>>().join(" ")
            }
            Self::Email => value.trim().to_lowercase(),
            Self::Digits => value.chars().filter(char::is_ascii_digit).collect(),
        }
    }
}

/// How a field is indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexSpec {
    /// The normalization applied first.
    #[serde(default)]
    pub normalization: Normalization,
    /// Bytes of the HMAC kept, 4 to 32 (default 16).
    #[serde(default = "default_index_bytes")]
    pub bytes: u8,
}

fn default_index_bytes() -> u8 {
    16
}

impl Default for IndexSpec {
    fn default() -> Self {
        Self {
            normalization: Normalization::Exact,
            bytes: default_index_bytes(),
        }
    }
}

impl IndexSpec {
    /// An index with the given normalization and the default length.
    pub fn new(normalization: Normalization) -> Self {
        Self {
            normalization,
            ..Self::default()
        }
    }

    pub(crate) fn check(&self) -> Result<(), CryptoError> {
        if (4..=32).contains(&self.bytes) {
            Ok(())
        } else {
            Err(CryptoError::InvalidSpec {
                reason: format!("index length must be 4 to 32 bytes, not {}", self.bytes),
            })
        }
    }
}
