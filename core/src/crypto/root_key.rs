//! The operator's root key (KEK): wraps every tenant's data and index keys.
//!
//! Phylax never stores it. The host reads it from `PHYLAX_ROOT_KEY` or a key file; an
//! app embedding the core passes it in. What is stored is only the wrapped keys in each
//! tenant's [`KeyringState`](super::KeyringState).

use zeroize::Zeroizing;

use super::aead::{AeadKey, NONCE_LEN};
use super::error::CryptoError;
use super::kdf::{derive_key, push_framed};
use super::random;
use super::secret::Secret32;

/// The root key, held as the AES key it derives for wrapping.
pub struct RootKey {
    kek: AeadKey,
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(..)")
    }
}

/// Which kind of tenant key is wrapped (part of the wrapping's associated data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// Encrypts field values.
    Data,
    /// Keys blind indexes.
    Index,
}

impl KeyKind {
    /// `data` or `index`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Index => "index",
        }
    }
}

impl RootKey {
    /// Uses 32 bytes of key material given by the operator.
    pub fn from_secret(secret: &Secret32) -> Result<Self, CryptoError> {
        let kek = derive_key(secret.expose(), b"phx1/root", b"key-encryption-key")?;
        Ok(Self {
            kek: AeadKey::new(kek.expose())?,
        })
    }

    /// Parses 64 hex digits or 43 base64url characters.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        Self::from_secret(&Secret32::parse(text)?)
    }

    /// A fixed, publicly known key for demos and tests. Anything it protects is readable by
    /// anyone: never use it for real data.
    pub fn insecure_dev_key() -> Result<Self, CryptoError> {
        Self::from_secret(&Secret32::from_bytes(*b"phylax-insecure-development-key!"))
    }

    /// Wraps a tenant key: base64url of nonce, ciphertext and tag.
    pub(crate) fn wrap(
        &self,
        kind: KeyKind,
        tenant: &str,
        version: u32,
        key: &Secret32,
    ) -> Result<Vec<u8>, CryptoError> {
        let nonce = random::nonce()?;
        let mut buf = Vec::with_capacity(NONCE_LEN + 32 + 16);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(key.expose());
        self.kek.seal_in_place(
            &nonce,
            &wrap_aad(kind, tenant, version),
            &mut buf,
            NONCE_LEN,
        )?;
        Ok(buf)
    }

    /// Unwraps what [`RootKey::wrap`] made for the same kind, tenant and version.
    pub(crate) fn unwrap(
        &self,
        kind: KeyKind,
        tenant: &str,
        version: u32,
        wrapped: &[u8],
    ) -> Result<Secret32, CryptoError> {
        let fail = || CryptoError::UnwrapFailed {
            kind: kind.as_str(),
            tenant: tenant.to_owned(),
            version,
        };
        let (nonce, body) = wrapped.split_at_checked(NONCE_LEN).ok_or_else(fail)?;
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail())?;
        let plain: Zeroizing<Vec<u8>> = self
            .kek
            .open(nonce, &wrap_aad(kind, tenant, version), body)
            .map_err(|_| fail())?;
        Secret32::from_slice(&plain).map_err(|_| fail())
    }
}

fn wrap_aad(kind: KeyKind, tenant: &str, version: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + tenant.len());
    aad.extend_from_slice(b"phx1/wrap");
    push_framed(&mut aad, kind.as_str().as_bytes());
    push_framed(&mut aad, tenant.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}
