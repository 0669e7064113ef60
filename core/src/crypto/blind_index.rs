//! Blind indexes: equality search over encrypted fields.
//!
//! A blind index is HMAC-SHA256 of a normalized value under a per-tenant, per-field
//! index key, truncated. The app stores it in a column beside the ciphertext and looks
//! rows up by computing the index of the search term. Truncation trades false positives
//! (more rows to decrypt and filter) for less leakage: equal indexes reveal equal
//! values, shorter ones say less. The normalization is part of the MAC input, so the
//! same value indexed two ways gives unrelated indexes.

use serde::{Deserialize, Serialize};

use super::error::CryptoError;

/// Unicode NFKC. Natively (and in the wasmtime component) from the unicode-normalization
/// crate's tables (feature `nfkc-tables`). The npm package is built without them (~124 KB
/// of the module, 63 KB gzipped) and registers the platform's `String.prototype.normalize`
/// instead ([`set_platform_nfkc`]); the two can differ only on characters newer than the
/// platform's Unicode version (docs/security.md).
static PLATFORM_NFKC: std::sync::OnceLock<fn(&str) -> Option<String>> = std::sync::OnceLock::new();

/// Registers the platform's NFKC, for a build without `nfkc-tables` (the first call wins;
/// with the tables it is never used). Without either, a casefold index fails closed with
/// `crypto.normalizer_unavailable`.
pub fn set_platform_nfkc(normalize: fn(&str) -> Option<String>) {
    let _ = PLATFORM_NFKC.set(normalize);
}

#[cfg(feature = "nfkc-tables")]
fn nfkc(value: &str) -> Result<String, CryptoError> {
    use unicode_normalization::UnicodeNormalization;
    Ok(value.nfkc().collect())
}

#[cfg(not(feature = "nfkc-tables"))]
fn nfkc(value: &str) -> Result<String, CryptoError> {
    PLATFORM_NFKC
        .get()
        .and_then(|normalize| normalize(value))
        .ok_or(CryptoError::NormalizerUnavailable)
}

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
    pub fn apply(self, value: &str) -> Result<String, CryptoError> {
        Ok(match self {
            Self::Exact => value.to_owned(),
            Self::Trim => value.trim().to_owned(),
            Self::Casefold => {
                let folded: String = nfkc(value)?.to_lowercase();
                folded.split_whitespace().collect::<Vec<_>>().join(" ")
            }
            Self::Email => value.trim().to_lowercase(),
            Self::Digits => value.chars().filter(char::is_ascii_digit).collect(),
        })
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

#[cfg(all(test, not(feature = "nfkc-tables")))]
mod platform_nfkc_tests {
    use super::*;
    use crate::error::Diagnostic;

    /// Without the tables, casefold fails closed until the platform's NFKC is registered,
    /// and then uses it; the other normalizations never need it.
    #[test]
    fn casefold_fails_closed_without_a_normalizer() {
        assert_eq!(Normalization::Trim.apply(" a ").unwrap(), "a");
        assert_eq!(
            Normalization::Casefold
                .apply("Ａnn")
                .err()
                .map(|e| e.code()),
            Some("crypto.normalizer_unavailable")
        );
        // A stand-in for String.prototype.normalize("NFKC") on the one character used.
        set_platform_nfkc(|s| Some(s.replace('Ａ', "A")));
        assert_eq!(
            Normalization::Casefold.apply(" Ａnn  Lee ").unwrap(),
            "ann lee"
        );
    }
}
