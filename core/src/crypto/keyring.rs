//! A tenant's keys: versioned data keys and blind-index keys, wrapped under the root key.
//!
//! [`KeyringState`] is plain data (only wrapped keys) that the host stores next to the
//! tenant. [`Keyring`] is that state opened with the root key: it holds the unwrapped
//! keys (wiped on drop) and caches each field's derived subkey with its expanded AES
//! key schedule, so encrypting a field is one AES-GCM call after the first use.
//!
//! Nonce budget: nonces are random 96-bit values, so each key may encrypt at most 2^32
//! messages before the chance of a repeated nonce passes 2^-32 (NIST SP 800-38D). Since
//! every (tenant, key version, field path) has its own subkey, the budget applies to each
//! of those separately. Rotate the data key well before any single field of a tenant
//! reaches four billion writes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::Mac;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::aead::{AeadKey, NONCE_LEN};
use super::blind_index::IndexSpec;
use super::envelope::{self, Header, HEADER_LEN, OVERHEAD};
use super::error::CryptoError;
use super::kdf::{derive_key, hmac_sha256, push_framed, HmacSha256};
use super::random;
use super::root_key::{KeyKind, RootKey, RootKeys};
use super::secret::Secret32;

/// Version of the stored keyring layout.
pub const KEYRING_FORMAT: u32 = 1;
/// Field subkeys cached per key version before the cache starts over.
const FIELD_CACHE_LIMIT: usize = 4096;

/// What the host stores for a tenant: wrapped keys only, safe to keep in the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyringState {
    /// Always [`KEYRING_FORMAT`].
    pub format: u32,
    /// The tenant these keys belong to.
    pub tenant: String,
    /// Keys that encrypt field values.
    pub data_keys: KeySet,
    /// Keys that compute blind indexes; rotated independently of the data keys.
    pub index_keys: KeySet,
    /// When the keys were destroyed (unix seconds); the key sets are then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroyed_at: Option<u64>,
    /// Id of the root key that wrapped these keys ([`RootKey::id`]); absent in
    /// keyrings made before root-key ids existed (then the root key given must fit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_key_id: Option<String>,
}

/// The versions of one kind of key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeySet {
    /// The version new values use; 0 once destroyed.
    pub active: u32,
    /// Every version still held, oldest first.
    pub versions: Vec<WrappedKey>,
}

/// One wrapped key version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WrappedKey {
    /// Version number, from 1.
    pub version: u32,
    /// Creation time, unix seconds.
    pub created_at: u64,
    /// base64url of nonce, wrapped key and tag.
    pub wrapped: String,
}

/// A tenant's keyring opened with the root key.
pub struct Keyring {
    state: KeyringState,
    data: BTreeMap<u32, Secret32>,
    index: BTreeMap<u32, Secret32>,
    field_keys: SubkeyCache<AeadKey>,
    index_field_keys: SubkeyCache<HmacSha256>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("tenant", &self.state.tenant)
            .field("active_version", &self.state.data_keys.active)
            .field("active_index_version", &self.state.index_keys.active)
            .field("destroyed", &self.is_destroyed())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A new keyring for `tenant` with data and index keys at version 1.
    pub fn create(tenant: &str, root: &RootKey, now: u64) -> Result<Self, CryptoError> {
        envelope::check_name("tenant", tenant, false)?;
        let data = Secret32::random()?;
        let index = Secret32::random()?;
        let state = KeyringState {
            format: KEYRING_FORMAT,
            tenant: tenant.to_owned(),
            data_keys: KeySet {
                active: 1,
                versions: vec![wrap(root, KeyKind::Data, tenant, 1, &data, now)?],
            },
            index_keys: KeySet {
                active: 1,
                versions: vec![wrap(root, KeyKind::Index, tenant, 1, &index, now)?],
            },
            destroyed_at: None,
            root_key_id: Some(root.id().to_owned()),
        };
        Ok(Self::from_parts(
            state,
            BTreeMap::from([(1, data)]),
            BTreeMap::from([(1, index)]),
        ))
    }

    /// Opens a stored keyring, unwrapping every version with the root key.
    pub fn open(state: KeyringState, root: &RootKey) -> Result<Self, CryptoError> {
        check_state(&state)?;
        check_root(&state, root)?;
        let data = unwrap_all(root, KeyKind::Data, &state.tenant, &state.data_keys)?;
        let index = unwrap_all(root, KeyKind::Index, &state.tenant, &state.index_keys)?;
        let mut state = state;
        // A keyring made before root-key ids: it now names the key that opened it (saved
        // with its next change), so a version added later is wrapped under the same key.
        if state.root_key_id.is_none() && state.destroyed_at.is_none() {
            state.root_key_id = Some(root.id().to_owned());
        }
        Ok(Self::from_parts(state, data, index))
    }

    /// Opens a keyring stored as JSON.
    pub fn open_json(json: &str, root: &RootKey) -> Result<Self, CryptoError> {
        let state = serde_json::from_str(json).map_err(|err| CryptoError::InvalidKeyring {
            reason: format!("not a keyring: {err}"),
        })?;
        Self::open(state, root)
    }

    /// Opens a stored keyring with whichever of `roots` wrapped it: the one it names, or,
    /// for a keyring made before root-key ids, each held key in turn (the wrapping's
    /// authentication tells the right one).
    pub fn open_json_with(json: &str, roots: &RootKeys) -> Result<Self, CryptoError> {
        let state: KeyringState =
            serde_json::from_str(json).map_err(|err| CryptoError::InvalidKeyring {
                reason: format!("not a keyring: {err}"),
            })?;
        match &state.root_key_id {
            Some(id) => {
                let root = roots
                    .get(id)
                    .ok_or_else(|| CryptoError::RootKeyUnknown { id: id.clone() })?;
                Self::open(state, root)
            }
            None => {
                let mut first_error = None;
                for root in roots.all() {
                    match Self::open(state.clone(), root) {
                        Ok(k) => return Ok(k),
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                Err(first_error.unwrap_or(CryptoError::InvalidKey {
                    reason: "no root key given",
                }))
            }
        }
    }

    /// The same keys wrapped under `new_root` instead (a root-key rotation): the state
    /// to store in place of this one. A destroyed keyring has nothing to wrap and is
    /// returned as it is.
    pub fn rewrapped_under(&self, new_root: &RootKey) -> Result<KeyringState, CryptoError> {
        let mut state = self.state.clone();
        if self.is_destroyed() {
            return Ok(state);
        }
        let tenant = state.tenant.clone();
        for (kind, set, keys) in [
            (KeyKind::Data, &mut state.data_keys, &self.data),
            (KeyKind::Index, &mut state.index_keys, &self.index),
        ] {
            for w in &mut set.versions {
                let key = keys.get(&w.version).ok_or(CryptoError::UnknownKeyVersion {
                    kind: kind.as_str(),
                    version: w.version,
                })?;
                *w = wrap(new_root, kind, &tenant, w.version, key, w.created_at)?;
            }
        }
        state.root_key_id = Some(new_root.id().to_owned());
        Ok(state)
    }

    /// The unwrapped keys as JSON (`{"tenant", "dataKeys": {"active", "versions":
    /// [{"version", "key"}]}, "indexKeys": ...}`, keys in base64url), for handing a
    /// departing tenant its own keys sealed to its public key (the host's export). The
    /// result is secret: seal it at once; it is wiped when dropped.
    pub fn key_material(&self) -> Result<Zeroizing<String>, CryptoError> {
        self.check_live()?;
        // Written by hand into a buffer that is wiped on drop: no copy of a key is
        // left in a temporary string or JSON value.
        // Sized up front so the buffer never grows (a grown string would leave a copy of
        // the keys in the old allocation): per key at most ~80 bytes of JSON.
        let keys = self.data.len().saturating_add(self.index.len());
        let capacity = 128usize
            .saturating_add(self.state.tenant.len().saturating_mul(6))
            .saturating_add(keys.saturating_mul(96));
        let mut out = Zeroizing::new(String::with_capacity(capacity));
        let tenant =
            serde_json::to_string(&self.state.tenant).map_err(|e| CryptoError::InvalidKeyring {
                reason: e.to_string(),
            })?;
        out.push_str("{\"tenant\":");
        out.push_str(&tenant);
        for (name, active, keys) in [
            ("dataKeys", self.state.data_keys.active, &self.data),
            ("indexKeys", self.state.index_keys.active, &self.index),
        ] {
            out.push_str(&format!(",\"{name}\":{{\"active\":{active},\"versions\":["));
            for (i, (version, key)) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let text = Zeroizing::new(key.to_base64url());
                out.push_str(&format!("{{\"version\":{version},\"key\":\""));
                out.push_str(&text);
                out.push_str("\"}");
            }
            out.push_str("]}");
        }
        out.push('}');
        Ok(out)
    }

    /// A keyring from [`Keyring::key_material`]: it decrypts, encrypts and computes
    /// blind indexes like the original, but holds no wrapped keys, so it cannot be
    /// stored or rotated.
    pub fn from_key_material(json: &str) -> Result<Self, CryptoError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Material {
            tenant: String,
            data_keys: MaterialSet,
            index_keys: MaterialSet,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct MaterialSet {
            active: u32,
            versions: Vec<MaterialKey>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct MaterialKey {
            version: u32,
            key: String,
        }
        impl Drop for MaterialKey {
            fn drop(&mut self) {
                zeroize::Zeroize::zeroize(&mut self.key);
            }
        }
        let m: Material = serde_json::from_str(json).map_err(|e| CryptoError::InvalidKeyring {
            reason: format!("not key material: {e}"),
        })?;
        envelope::check_name("tenant", &m.tenant, false)?;
        let open = |set: &MaterialSet| -> Result<(KeySet, BTreeMap<u32, Secret32>), CryptoError> {
            let mut keys = BTreeMap::new();
            let mut versions = Vec::new();
            for k in &set.versions {
                if k.version == 0 || keys.insert(k.version, Secret32::parse(&k.key)?).is_some() {
                    return Err(CryptoError::InvalidKeyring {
                        reason: "key versions must be unique and start at 1".to_owned(),
                    });
                }
                versions.push(WrappedKey {
                    version: k.version,
                    created_at: 0,
                    wrapped: String::new(),
                });
            }
            if !keys.contains_key(&set.active) {
                return Err(CryptoError::InvalidKeyring {
                    reason: "the active version is not among the keys".to_owned(),
                });
            }
            Ok((
                KeySet {
                    active: set.active,
                    versions,
                },
                keys,
            ))
        };
        let (data_keys, data) = open(&m.data_keys)?;
        let (index_keys, index) = open(&m.index_keys)?;
        let state = KeyringState {
            format: KEYRING_FORMAT,
            tenant: m.tenant,
            data_keys,
            index_keys,
            destroyed_at: None,
            root_key_id: None,
        };
        Ok(Self::from_parts(state, data, index))
    }

    fn from_parts(
        state: KeyringState,
        data: BTreeMap<u32, Secret32>,
        index: BTreeMap<u32, Secret32>,
    ) -> Self {
        Self {
            state,
            data,
            index,
            field_keys: RwLock::default(),
            index_field_keys: RwLock::default(),
        }
    }

    /// The storable state (wrapped keys only).
    pub fn state(&self) -> &KeyringState {
        &self.state
    }

    /// The storable state as JSON.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers always serializes.
        serde_json::to_string(&self.state).unwrap_or_default()
    }

    /// The tenant the keys belong to.
    pub fn tenant(&self) -> &str {
        &self.state.tenant
    }

    /// The data-key version new ciphertexts use.
    pub fn active_version(&self) -> u32 {
        self.state.data_keys.active
    }

    /// The index-key version new blind indexes use.
    pub fn active_index_version(&self) -> u32 {
        self.state.index_keys.active
    }

    /// Whether the keys were destroyed.
    pub fn is_destroyed(&self) -> bool {
        self.state.destroyed_at.is_some()
    }

    fn destroyed(&self) -> CryptoError {
        CryptoError::KeyDestroyed {
            tenant: self.state.tenant.clone(),
        }
    }

    fn check_live(&self) -> Result<(), CryptoError> {
        if self.is_destroyed() {
            Err(self.destroyed())
        } else {
            Ok(())
        }
    }

    /// Adds a new data-key version and makes it active; older versions still decrypt.
    /// Returns the new version.
    pub fn rotate(&mut self, root: &RootKey, now: u64) -> Result<u32, CryptoError> {
        self.check_live()?;
        check_root(&self.state, root)?;
        let version = next_version(&self.state.data_keys)?;
        let key = Secret32::random()?;
        let wrapped = wrap(root, KeyKind::Data, &self.state.tenant, version, &key, now)?;
        self.state.data_keys.versions.push(wrapped);
        self.state.data_keys.active = version;
        self.data.insert(version, key);
        Ok(version)
    }

    /// Adds a new index-key version and makes it active. Indexes made under older
    /// versions stay computable ([`Keyring::blind_index_all_versions`]) until retired.
    pub fn rotate_index_key(&mut self, root: &RootKey, now: u64) -> Result<u32, CryptoError> {
        self.check_live()?;
        check_root(&self.state, root)?;
        let version = next_version(&self.state.index_keys)?;
        let key = Secret32::random()?;
        let wrapped = wrap(root, KeyKind::Index, &self.state.tenant, version, &key, now)?;
        self.state.index_keys.versions.push(wrapped);
        self.state.index_keys.active = version;
        self.index.insert(version, key);
        Ok(version)
    }

    /// Drops an old data-key version once nothing uses it (after a bulk rewrap).
    /// The active version cannot be retired.
    pub fn retire(&mut self, version: u32) -> Result<(), CryptoError> {
        self.check_live()?;
        retire_version(&mut self.state.data_keys, version, "data")?;
        self.data.remove(&version);
        write_lock(&self.field_keys).remove(&version);
        Ok(())
    }

    /// Drops an old index-key version. The active version cannot be retired.
    pub fn retire_index_key(&mut self, version: u32) -> Result<(), CryptoError> {
        self.check_live()?;
        retire_version(&mut self.state.index_keys, version, "index")?;
        self.index.remove(&version);
        write_lock(&self.index_field_keys).remove(&version);
        Ok(())
    }

    /// Crypto-shreds the tenant: every key version is wiped from memory and from the
    /// state. Save the returned state over the old one (and purge backups) to make it
    /// final; every ciphertext of the tenant then fails with `crypto.key_destroyed`.
    pub fn destroy(&mut self, now: u64) {
        self.data.clear();
        self.index.clear();
        write_lock(&self.field_keys).clear();
        write_lock(&self.index_field_keys).clear();
        self.state.data_keys = KeySet {
            active: 0,
            versions: Vec::new(),
        };
        self.state.index_keys = KeySet {
            active: 0,
            versions: Vec::new(),
        };
        self.state.destroyed_at.get_or_insert(now);
    }

    /// Encrypts one field value to the text form (`phx1.` + base64url).
    pub fn encrypt_field(
        &self,
        field: &str,
        record_id: &str,
        plaintext: &[u8],
    ) -> Result<String, CryptoError> {
        Ok(envelope::encode_text(
            &self.encrypt_field_bytes(field, record_id, plaintext)?,
        ))
    }

    /// Encrypts one field value to the binary form.
    pub fn encrypt_field_bytes(
        &self,
        field: &str,
        record_id: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.encrypt_with_nonce(field, record_id, plaintext, &random::nonce()?)
    }

    /// The one place a field is sealed. The nonce must be fresh and random; only the
    /// public entry points above choose it.
    fn encrypt_with_nonce(
        &self,
        field: &str,
        record_id: &str,
        plaintext: &[u8],
        nonce: &[u8; NONCE_LEN],
    ) -> Result<Vec<u8>, CryptoError> {
        self.check_live()?;
        check_field(field, record_id)?;
        let header = Header {
            key_version: self.state.data_keys.active,
        }
        .to_bytes();
        let key = self.field_key(self.state.data_keys.active, field)?;
        let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
        out.extend_from_slice(&header);
        out.extend_from_slice(nonce);
        out.extend_from_slice(plaintext);
        let aad = envelope::field_aad(&self.state.tenant, field, record_id, &header);
        key.seal_in_place(nonce, &aad, &mut out, HEADER_LEN + NONCE_LEN)?;
        Ok(out)
    }

    /// Decrypts a text-form field ciphertext.
    pub fn decrypt_field(
        &self,
        field: &str,
        record_id: &str,
        ciphertext: &str,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.check_live()?;
        self.decrypt_field_bytes(field, record_id, &envelope::decode_text(ciphertext)?)
    }

    /// Decrypts a text-form field ciphertext whose value is UTF-8 text. A value that is
    /// not text (encrypted through the binary API) is reported as malformed.
    pub fn decrypt_field_text(
        &self,
        field: &str,
        record_id: &str,
        ciphertext: &str,
    ) -> Result<Zeroizing<String>, CryptoError> {
        let bytes = self.decrypt_field(field, record_id, ciphertext)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| CryptoError::MalformedCiphertext {
            reason: "the decrypted value is not UTF-8 text; use the binary API",
        })?;
        Ok(Zeroizing::new(text.to_owned()))
    }

    /// Decrypts a binary-form field ciphertext.
    pub fn decrypt_field_bytes(
        &self,
        field: &str,
        record_id: &str,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.check_live()?;
        check_field(field, record_id)?;
        let parts = envelope::split(ciphertext)?;
        let key = self.field_key(parts.header.key_version, field)?;
        let aad = envelope::field_aad(&self.state.tenant, field, record_id, parts.header_bytes);
        key.open(parts.nonce, &aad, parts.body_and_tag)
    }

    /// The header and associated data that seal or open one field value under data-key
    /// `version` (`None`: the active one), for a platform AES-256-GCM (WebCrypto) that
    /// does the cipher itself: `header | nonce | AES-256-GCM(subkey, nonce, aad, value)`
    /// is then byte for byte what [`Keyring::encrypt_field_bytes`] makes. Checks what the
    /// core's own path checks: a live keyring, the names, a known version.
    pub fn field_sealing(
        &self,
        field: &str,
        record_id: &str,
        version: Option<u32>,
    ) -> Result<([u8; HEADER_LEN], Vec<u8>), CryptoError> {
        self.check_live()?;
        check_field(field, record_id)?;
        let key_version = version.unwrap_or(self.state.data_keys.active);
        if !self.data.contains_key(&key_version) {
            return Err(CryptoError::UnknownKeyVersion {
                kind: "data",
                version: key_version,
            });
        }
        let header = Header { key_version }.to_bytes();
        let aad = envelope::field_aad(&self.state.tenant, field, record_id, &header);
        Ok((header, aad))
    }

    /// The per-field subkey of data-key `version`, as bytes, for a platform AES-256-GCM
    /// to import once as a non-extractable key. Everything sealed with it stays bound to
    /// this tenant and field by the associated data ([`Keyring::field_sealing`]); the
    /// bytes are wiped when the returned secret drops (docs/security.md says where they
    /// travel in the npm package).
    pub fn field_subkey(&self, version: u32, field: &str) -> Result<Secret32, CryptoError> {
        self.check_live()?;
        envelope::check_name("field path", field, false)?;
        let key = self
            .data
            .get(&version)
            .ok_or(CryptoError::UnknownKeyVersion {
                kind: "data",
                version,
            })?;
        derive_key(
            key.expose(),
            b"phx1/field-key",
            &field_info(&self.state.tenant, field),
        )
    }

    /// Whether a text ciphertext was made under an older key version. Reads only the
    /// header (the first 8 base64 characters).
    pub fn needs_rewrap(&self, ciphertext: &str) -> Result<bool, CryptoError> {
        self.check_live()?;
        Ok(Header::peek_text(ciphertext)?.key_version != self.state.data_keys.active)
    }

    /// Re-encrypts a ciphertext under the active key version; the plaintext never leaves
    /// the core and is wiped after use. A value already under the active version is
    /// returned unchanged, but only after it decrypts: rewrap never vouches for a
    /// ciphertext it has not authenticated.
    pub fn rewrap(
        &self,
        field: &str,
        record_id: &str,
        ciphertext: &str,
    ) -> Result<String, CryptoError> {
        // Authenticated either way: a ciphertext is returned only if it decrypts for this
        // tenant, field and record (never another's, nor garbage with a valid header).
        let plaintext = self.decrypt_field(field, record_id, ciphertext)?;
        if !self.needs_rewrap(ciphertext)? {
            return Ok(ciphertext.to_owned());
        }
        self.encrypt_field(field, record_id, &plaintext)
    }

    /// The blind index of `value` for `field` under the active index key:
    /// `"<version>.<base64url>"`.
    pub fn blind_index(
        &self,
        field: &str,
        value: &str,
        spec: &IndexSpec,
    ) -> Result<String, CryptoError> {
        self.check_live()?;
        self.blind_index_version(self.state.index_keys.active, field, value, spec)
    }

    /// The blind index of `value` under every index-key version held, newest first: what
    /// to search for while stored indexes are being moved to a new index key.
    pub fn blind_index_all_versions(
        &self,
        field: &str,
        value: &str,
        spec: &IndexSpec,
    ) -> Result<Vec<String>, CryptoError> {
        self.check_live()?;
        self.index
            .keys()
            .rev()
            .map(|version| self.blind_index_version(*version, field, value, spec))
            .collect()
    }

    fn blind_index_version(
        &self,
        version: u32,
        field: &str,
        value: &str,
        spec: &IndexSpec,
    ) -> Result<String, CryptoError> {
        check_field(field, "")?;
        spec.check()?;
        let normalized = Zeroizing::new(spec.normalization.apply(value)?);
        let mut mac = HmacSha256::clone(&*self.index_field_key(version, field)?);
        let mut framed = Vec::with_capacity(16);
        push_framed(&mut framed, spec.normalization.as_str().as_bytes());
        mac.update(&framed);
        mac.update(normalized.as_bytes());
        let digest = mac.finalize().into_bytes();
        let truncated = digest
            .get(..usize::from(spec.bytes))
            .ok_or(CryptoError::InvalidSpec {
                reason: "index length must be 4 to 32 bytes".to_owned(),
            })?;
        Ok(format!("{version}.{}", URL_SAFE_NO_PAD.encode(truncated)))
    }

    fn field_key(&self, version: u32, field: &str) -> Result<Arc<AeadKey>, CryptoError> {
        cached_subkey(
            &self.field_keys,
            &self.data,
            "data",
            version,
            field,
            |key| {
                let subkey = derive_key(
                    key.expose(),
                    b"phx1/field-key",
                    &field_info(&self.state.tenant, field),
                )?;
                AeadKey::new(subkey.expose())
            },
        )
    }

    fn index_field_key(&self, version: u32, field: &str) -> Result<Arc<HmacSha256>, CryptoError> {
        cached_subkey(
            &self.index_field_keys,
            &self.index,
            "index",
            version,
            field,
            |key| {
                let subkey = derive_key(
                    key.expose(),
                    b"phx1/index-key",
                    &field_info(&self.state.tenant, field),
                )?;
                Ok(hmac_sha256(subkey.expose()))
            },
        )
    }
}

/// Subkeys cached per key version and field path, derived from the version's key on
/// first use. The cache starts over past [`FIELD_CACHE_LIMIT`] fields of one version.
type SubkeyCache<T> = RwLock<HashMap<u32, HashMap<String, Arc<T>>>>;

fn cached_subkey<T>(
    cache: &SubkeyCache<T>,
    keys: &BTreeMap<u32, Secret32>,
    kind: &'static str,
    version: u32,
    field: &str,
    derive: impl FnOnce(&Secret32) -> Result<T, CryptoError>,
) -> Result<Arc<T>, CryptoError> {
    if let Some(key) = read_lock(cache).get(&version).and_then(|m| m.get(field)) {
        return Ok(Arc::clone(key));
    }
    let key = keys
        .get(&version)
        .ok_or(CryptoError::UnknownKeyVersion { kind, version })?;
    let subkey = Arc::new(derive(key)?);
    let mut cache = write_lock(cache);
    let per_version = cache.entry(version).or_default();
    if per_version.len() >= FIELD_CACHE_LIMIT {
        per_version.clear();
    }
    per_version.insert(field.to_owned(), Arc::clone(&subkey));
    Ok(subkey)
}

fn field_info(tenant: &str, field: &str) -> Vec<u8> {
    let mut info = Vec::with_capacity(8 + tenant.len() + field.len());
    push_framed(&mut info, tenant.as_bytes());
    push_framed(&mut info, field.as_bytes());
    info
}

fn check_field(field: &str, record_id: &str) -> Result<(), CryptoError> {
    envelope::check_name("field path", field, false)?;
    envelope::check_name("record id", record_id, true)
}

fn wrap(
    root: &RootKey,
    kind: KeyKind,
    tenant: &str,
    version: u32,
    key: &Secret32,
    now: u64,
) -> Result<WrappedKey, CryptoError> {
    Ok(WrappedKey {
        version,
        created_at: now,
        wrapped: URL_SAFE_NO_PAD.encode(root.wrap(kind, tenant, version, key)?),
    })
}

fn unwrap_all(
    root: &RootKey,
    kind: KeyKind,
    tenant: &str,
    set: &KeySet,
) -> Result<BTreeMap<u32, Secret32>, CryptoError> {
    set.versions
        .iter()
        .map(|w| {
            let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(&w.wrapped).map_err(|_| {
                CryptoError::UnwrapFailed {
                    kind: kind.as_str(),
                    tenant: tenant.to_owned(),
                    version: w.version,
                }
            })?);
            Ok((w.version, root.unwrap(kind, tenant, w.version, &bytes)?))
        })
        .collect()
}

/// A keyring that names its root key must be opened with that key.
fn check_root(state: &KeyringState, root: &RootKey) -> Result<(), CryptoError> {
    match &state.root_key_id {
        Some(id) if id != root.id() => Err(CryptoError::RootKeyUnknown { id: id.clone() }),
        _ => Ok(()),
    }
}

fn check_state(state: &KeyringState) -> Result<(), CryptoError> {
    let invalid = |reason: &str| {
        Err(CryptoError::InvalidKeyring {
            reason: reason.to_owned(),
        })
    };
    if state.format != KEYRING_FORMAT {
        return invalid("unsupported keyring format");
    }
    envelope::check_name("tenant", &state.tenant, false)?;
    for set in [&state.data_keys, &state.index_keys] {
        if state.destroyed_at.is_some() {
            if !set.versions.is_empty() || set.active != 0 {
                return invalid("a destroyed keyring must hold no keys");
            }
            continue;
        }
        if !set.versions.iter().any(|w| w.version == set.active) {
            return invalid("the active version is not among the stored versions");
        }
        let mut seen = std::collections::BTreeSet::new();
        if !set
            .versions
            .iter()
            .all(|w| w.version > 0 && seen.insert(w.version))
        {
            return invalid("key versions must be unique and start at 1");
        }
    }
    Ok(())
}

fn next_version(set: &KeySet) -> Result<u32, CryptoError> {
    set.versions
        .iter()
        .map(|w| w.version)
        .max()
        .unwrap_or(0)
        .checked_add(1)
        .ok_or(CryptoError::InvalidKeyring {
            reason: "no key versions left".to_owned(),
        })
}

fn retire_version(set: &mut KeySet, version: u32, kind: &'static str) -> Result<(), CryptoError> {
    if version == set.active {
        return Err(CryptoError::InvalidKeyring {
            reason: format!("version {version} is active and cannot be retired; rotate first"),
        });
    }
    let before = set.versions.len();
    set.versions.retain(|w| w.version != version);
    if set.versions.len() == before {
        return Err(CryptoError::UnknownKeyVersion { kind, version });
    }
    Ok(())
}

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // A poisoned cache is still a valid cache: entries are inserted whole.
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
impl Keyring {
    /// Test-only: seal with a chosen nonce, for known-answer tests.
    pub(crate) fn encrypt_field_with_nonce_for_tests(
        &self,
        field: &str,
        record_id: &str,
        plaintext: &[u8],
        nonce: &[u8; NONCE_LEN],
    ) -> Result<Vec<u8>, CryptoError> {
        self.encrypt_with_nonce(field, record_id, plaintext, nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_header_nonce_body_tag_and_deterministic_for_a_fixed_nonce() {
        let root = RootKey::insecure_dev_key().unwrap();
        let k = Keyring::create("acme", &root, 1).unwrap();
        let nonce = [0x11; NONCE_LEN];
        let a = k
            .encrypt_field_with_nonce_for_tests("f", "r", b"hello", &nonce)
            .unwrap();
        let b = k
            .encrypt_field_with_nonce_for_tests("f", "r", b"hello", &nonce)
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(&a[..HEADER_LEN], &[1, 1, 0, 0, 0, 1]);
        assert_eq!(&a[HEADER_LEN..HEADER_LEN + NONCE_LEN], &nonce);
        assert_eq!(a.len(), 5 + OVERHEAD);
        assert_eq!(&k.decrypt_field_bytes("f", "r", &a).unwrap()[..], b"hello");
    }

    /// The platform path (another AES-256-GCM over the exported subkey, header and
    /// associated data) makes the core's bytes, under every version still held.
    #[test]
    fn field_sealing_and_subkey_reproduce_the_core_envelope() {
        use crate::error::Diagnostic;
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let root = RootKey::insecure_dev_key().unwrap();
        let mut k = Keyring::create("acme", &root, 1).unwrap();
        let nonce = [0x22; NONCE_LEN];
        let old = k
            .encrypt_field_with_nonce_for_tests("notes", "r-1", b"old text", &nonce)
            .unwrap();
        k.rotate(&root, 2).unwrap();
        let value = vec![0x5a_u8; 70_000];
        let core = k
            .encrypt_field_with_nonce_for_tests("notes", "r-1", &value, &nonce)
            .unwrap();
        let (header, aad) = k.field_sealing("notes", "r-1", None).unwrap();
        let subkey = k.field_subkey(2, "notes").unwrap();
        let cipher = aes_gcm::Aes256Gcm::new(subkey.expose().into());
        let sealed = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: &value,
                    aad: &aad,
                },
            )
            .unwrap();
        assert_eq!([&header[..], &nonce[..], &sealed[..]].concat(), core);
        // Opening the older version: its header's version, its subkey.
        let (header1, aad1) = k.field_sealing("notes", "r-1", Some(1)).unwrap();
        assert_eq!(&header1[..], &old[..HEADER_LEN]);
        let cipher1 = aes_gcm::Aes256Gcm::new(k.field_subkey(1, "notes").unwrap().expose().into());
        let opened = cipher1
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: &old[HEADER_LEN + NONCE_LEN..],
                    aad: &aad1,
                },
            )
            .unwrap();
        assert_eq!(opened, b"old text");
        // Another field's subkey, an unknown version, a destroyed keyring: refused or
        // useless, as on the core's path.
        assert!(k.field_subkey(3, "notes").is_err());
        assert!(k.field_sealing("notes", "r-1", Some(7)).is_err());
        assert!(k.field_sealing("", "r-1", None).is_err());
        assert_ne!(
            k.field_subkey(2, "notes").unwrap().expose(),
            k.field_subkey(2, "ssn").unwrap().expose()
        );
        k.destroy(3);
        assert_eq!(
            k.field_subkey(2, "notes").err().map(|e| e.code()),
            Some("crypto.key_destroyed")
        );
        assert!(k.field_sealing("notes", "r-1", None).is_err());
    }
}
