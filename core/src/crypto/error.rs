//! Errors of field encryption, key management and blind indexes.

use crate::error::Diagnostic;

/// Why a crypto operation failed.
///
/// Decryption failures are deliberately opaque: a tampered ciphertext, a wrong key and a
/// ciphertext moved to another tenant, record or field all give [`CryptoError::DecryptFailed`].
/// Only states that are not secret (a destroyed keyring, an unknown key version, a string
/// that is not a Phylax ciphertext at all) have errors of their own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The ciphertext failed authentication: it was modified, belongs to another tenant,
    /// field or record, or the key is wrong. Fix: decrypt with the same tenant, field path
    /// and record id used to encrypt.
    #[error(
        "could not decrypt: the ciphertext does not authenticate for this tenant, field and record"
    )]
    DecryptFailed,
    /// The tenant's keys were destroyed (crypto-shredded); its data is gone for good.
    #[error(
        "the keys of tenant `{tenant}` were destroyed; its ciphertexts can no longer be decrypted"
    )]
    KeyDestroyed {
        /// The tenant whose keys were destroyed.
        tenant: String,
    },
    /// The ciphertext names a key version this keyring does not hold.
    #[error("the ciphertext needs {kind} key version {version}, which this keyring does not hold")]
    UnknownKeyVersion {
        /// `data` or `index`.
        kind: &'static str,
        /// The version asked for.
        version: u32,
    },
    /// The input is not a Phylax ciphertext (wrong prefix, bad base64, too short,
    /// unsupported format version or algorithm).
    #[error("not a phylax ciphertext: {reason}")]
    MalformedCiphertext {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Key material has the wrong length or encoding.
    #[error("invalid key: {reason}")]
    InvalidKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A wrapped key in the keyring did not open under this root key: the root key is
    /// not the one the keyring was made with, or the stored keyring was modified.
    #[error("a wrapped {kind} key of tenant `{tenant}` (version {version}) does not open under this root key")]
    UnwrapFailed {
        /// `data` or `index`.
        kind: &'static str,
        /// The tenant of the keyring.
        tenant: String,
        /// The key version that failed.
        version: u32,
    },
    /// The stored keyring is inconsistent (no active version, duplicate versions, ...).
    #[error("invalid keyring: {reason}")]
    InvalidKeyring {
        /// What is inconsistent.
        reason: String,
    },
    /// A name used in the associated data (tenant, field path) is empty or too long.
    #[error("invalid {what}: {reason}")]
    InvalidName {
        /// `tenant`, `field path` or `record id`.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A record spec or record does not fit together.
    #[error("invalid record spec: {reason}")]
    InvalidSpec {
        /// What is wrong.
        reason: String,
    },
    /// An operation on one field of a record failed.
    #[error("field `{pointer}`: {source}")]
    InField {
        /// JSON pointer of the field.
        pointer: String,
        /// The underlying error.
        source: Box<CryptoError>,
    },
    /// The keyring was wrapped under a root key that is not held (discarded after a
    /// root-key rotation, or not configured).
    #[error("the keyring is wrapped under root key `{id}`, which is not held")]
    RootKeyUnknown {
        /// The id the keyring names.
        id: String,
    },
    /// The operating system (or, in a browser, `crypto.getRandomValues`) gave no randomness.
    #[error("no secure randomness available")]
    RandomUnavailable,
    /// No Unicode NFKC in this build: the npm package's module registers the platform's
    /// on load; a build without it and without `nfkc-tables` cannot casefold.
    #[error("no Unicode NFKC normalization is available in this build")]
    NormalizerUnavailable,
}

impl Diagnostic for CryptoError {
    fn code(&self) -> &'static str {
        match self {
            Self::DecryptFailed => "crypto.decrypt_failed",
            Self::KeyDestroyed { .. } => "crypto.key_destroyed",
            Self::UnknownKeyVersion { .. } => "crypto.unknown_key_version",
            Self::MalformedCiphertext { .. } => "crypto.malformed_ciphertext",
            Self::InvalidKey { .. } => "crypto.invalid_key",
            Self::UnwrapFailed { .. } => "crypto.unwrap_failed",
            Self::InvalidKeyring { .. } => "crypto.invalid_keyring",
            Self::InvalidName { .. } => "crypto.invalid_name",
            Self::InvalidSpec { .. } => "crypto.invalid_spec",
            Self::InField { source, .. } => source.code(),
            Self::RootKeyUnknown { .. } => "crypto.root_key_unknown",
            Self::RandomUnavailable => "crypto.random_unavailable",
            Self::NormalizerUnavailable => "crypto.normalizer_unavailable",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::DecryptFailed => "decrypt with the same tenant, field path and record id used to encrypt, and check the value was not altered",
            Self::KeyDestroyed { .. } => "the tenant was offboarded; its encrypted data is unrecoverable by design",
            Self::UnknownKeyVersion { .. } => "load the tenant's current keyring; a newer one holds every version still in use",
            Self::MalformedCiphertext { .. } => "pass the exact string returned by encryption (it starts with `phx1.`)",
            Self::InvalidKey { .. } => "a key is 32 random bytes, given as 64 hex digits or 43 base64url characters",
            Self::UnwrapFailed { .. } => "use the root key the keyring was created with, and check the stored keyring was not modified",
            Self::InvalidKeyring { .. } => "load the keyring exactly as it was saved",
            Self::InvalidName { .. } => "use a non-empty tenant and field path of at most 1024 bytes",
            Self::InvalidSpec { .. } => "list each field once as a JSON pointer (`/diagnosis`), with an optional index spec",
            Self::InField { source, .. } => source.hint(),
            Self::RootKeyUnknown { .. } => "hold that root key (PHYLAX_ROOT_KEYS lists every key still in use, the current one first); a key discarded after a rotation cannot be brought back, by design",
            Self::RandomUnavailable => "run where the OS or the browser offers a secure random source",
            Self::NormalizerUnavailable => "load the module through the package (it registers `String.prototype.normalize`), or build phylax-core with `nfkc-tables`",
        }
    }
}
