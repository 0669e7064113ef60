//! The operator's root key (KEK): wraps every tenant's data and index keys.
//!
//! Phylax never stores it. The host reads it from `PHYLAX_ROOT_KEY` or a key file; an
//! app embedding the core passes it in. What is stored is only the wrapped keys in each
//! tenant's [`KeyringState`](super::KeyringState).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use zeroize::Zeroizing;

use super::aead::{AeadKey, NONCE_LEN};
use super::error::CryptoError;
use super::kdf::{derive_key, push_framed};
use super::random;
use super::secret::Secret32;

/// The root key, held as the AES key it derives for wrapping.
pub struct RootKey {
    kek: AeadKey,
    id: String,
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
        let id = derive_key(secret.expose(), b"phx1/root", b"key-id")?;
        Ok(Self {
            kek: AeadKey::new(kek.expose())?,
            id: URL_SAFE_NO_PAD.encode(id.expose().get(..9).unwrap_or_default()),
        })
    }

    /// The key's public id: 12 base64url characters derived from it (a one-way
    /// fingerprint, safe to store and log). Each keyring records the id of the root key
    /// that wrapped it, so several root keys can be held during a rotation
    /// ([`RootKeys`]) and a keyring names the key it needs.
    pub fn id(&self) -> &str {
        &self.id
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

    /// Seals a short value the host hands out and takes back itself (a console session
    /// cookie): nonce, ciphertext and tag, authenticated with `purpose`. Associated data
    /// of its own domain (`phx1/token`), so no sealed token opens as a wrapped key, nor
    /// a wrapped key as a token.
    pub fn seal_token(&self, purpose: &str, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = random::nonce()?;
        let mut buf = Vec::with_capacity(NONCE_LEN + plain.len() + 16);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plain);
        self.kek
            .seal_in_place(&nonce, &token_aad(purpose), &mut buf, NONCE_LEN)?;
        Ok(buf)
    }

    /// Opens what [`RootKey::seal_token`] sealed for the same purpose; `None` for
    /// anything else (forged, altered, another purpose or another root key).
    pub fn open_token(&self, purpose: &str, sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let (nonce, body) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.kek.open(nonce, &token_aad(purpose), body).ok()
    }
}

fn token_aad(purpose: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + purpose.len());
    aad.extend_from_slice(b"phx1/token");
    push_framed(&mut aad, purpose.as_bytes());
    aad
}

fn wrap_aad(kind: KeyKind, tenant: &str, version: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + tenant.len());
    aad.extend_from_slice(b"phx1/wrap");
    push_framed(&mut aad, kind.as_str().as_bytes());
    push_framed(&mut aad, tenant.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// Several root keys held at once, during a root-key rotation: the first wraps new
/// keys; every one still unwraps the keyrings it wrapped. Once every keyring names the
/// first key (`phylax keys rotate-root`), the others can be discarded, and with them
/// every wrapped key any backup still holds.
#[derive(Debug)]
pub struct RootKeys {
    current: RootKey,
    older: Vec<RootKey>,
}

impl RootKeys {
    /// The keys, the current one first. At least one; ids must differ.
    pub fn new(keys: Vec<RootKey>) -> Result<Self, CryptoError> {
        for (i, k) in keys.iter().enumerate() {
            if keys.iter().skip(i + 1).any(|o| o.id == k.id) {
                return Err(CryptoError::InvalidKey {
                    reason: "the same root key is given twice",
                });
            }
        }
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or(CryptoError::InvalidKey {
            reason: "no root key given",
        })?;
        Ok(Self {
            current,
            older: keys.collect(),
        })
    }

    /// One key.
    pub fn single(key: RootKey) -> Self {
        Self {
            current: key,
            older: Vec::new(),
        }
    }

    /// Parses a comma-separated list of keys (hex or base64url), the current one first.
    pub fn parse_list(text: &str) -> Result<Self, CryptoError> {
        Self::new(
            text.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(RootKey::parse)
                .collect::<Result<_, _>>()?,
        )
    }

    /// The key that wraps new keys.
    pub fn current(&self) -> &RootKey {
        &self.current
    }

    /// The key with this id.
    pub fn get(&self, id: &str) -> Option<&RootKey> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.id == id)
    }

    /// Every key, the current one first.
    pub fn all(&self) -> impl Iterator<Item = &RootKey> {
        std::iter::once(&self.current).chain(&self.older)
    }

    /// Every key id, the current one first.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(&self.current)
            .chain(&self.older)
            .map(RootKey::id)
            .collect()
    }
}
