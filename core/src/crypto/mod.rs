//! Field encryption: AES-256-GCM under per-field subkeys of versioned tenant keys.
//!
//! ```text
//! root key (operator, never stored)
//!   └─ wraps ─ tenant data keys v1, v2, ... (random; stored wrapped in KeyringState)
//!                └─ HKDF-SHA256(tenant, field path) ─ field subkey ─ AES-256-GCM
//!   └─ wraps ─ tenant index keys v1, ...   └─ HKDF ─ HMAC-SHA256 ─ blind index
//! ```
//!
//! Start with [`Keyring`]; [`envelope`] documents the ciphertext format and [`calls`]
//! the JSON call types.

pub mod aead;
pub mod blind_index;
pub mod calls;
pub mod envelope;
mod error;
pub mod kdf;
pub mod keyring;
mod random;
pub mod record;
pub mod root_key;
pub mod secret;

pub use blind_index::{IndexSpec, Normalization};
pub use error::CryptoError;
pub use keyring::{KeySet, Keyring, KeyringState, WrappedKey};
pub use record::{EncryptedRecord, FieldSpec, RecordSpec};
pub use root_key::{RootKey, RootKeys};
pub use secret::Secret32;

/// A fresh 96-bit AES-GCM nonce from the core's source (the pool on wasm32, the fixed
/// nonces of a conformance run): for a platform AES-GCM sealing what the core would.
pub fn fresh_nonce() -> Result<[u8; aead::NONCE_LEN], CryptoError> {
    random::nonce()
}

#[cfg(feature = "insecure-fixed-nonces")]
#[doc(hidden)]
pub use random::fixed::with_fixed_nonces;
