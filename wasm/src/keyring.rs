//! `RootKey` and `Keyring` handles over `phylax_core::crypto`.

use phylax_core::crypto;
use phylax_core::crypto::calls::{BlindIndexRequest, DecryptRecordRequest, EncryptRecordRequest};
use wasm_bindgen::prelude::*;

use crate::convert::{check, from_json, to_json, unix_seconds};

/// The operator's root key. Held only in WASM memory; `free()` wipes it.
#[wasm_bindgen]
#[derive(Debug)]
pub struct RootKey {
    pub(crate) inner: crypto::RootKey,
}

#[wasm_bindgen]
impl RootKey {
    /// Parses 64 hex digits or 43 base64url characters.
    pub fn parse(text: &str) -> Result<RootKey, JsValue> {
        Ok(Self {
            inner: check(crypto::RootKey::parse(text))?,
        })
    }

    /// A fixed, publicly known key for demos and tests only.
    #[wasm_bindgen(js_name = insecureDevKey)]
    pub fn insecure_dev_key() -> Result<RootKey, JsValue> {
        Ok(Self {
            inner: check(crypto::RootKey::insecure_dev_key())?,
        })
    }
}

/// A tenant's opened keyring.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Keyring {
    inner: crypto::Keyring,
}

#[wasm_bindgen]
impl Keyring {
    /// A new keyring for `tenant`.
    pub fn create(tenant: &str, root: &RootKey, now: f64) -> Result<Keyring, JsValue> {
        Ok(Self {
            inner: check(crypto::Keyring::create(
                tenant,
                &root.inner,
                unix_seconds(now)?,
            ))?,
        })
    }

    /// Opens a stored keyring state given as JSON text.
    pub fn open(state_json: &str, root: &RootKey) -> Result<Keyring, JsValue> {
        Ok(Self {
            inner: check(crypto::Keyring::open_json(state_json, &root.inner))?,
        })
    }

    /// The storable state (wrapped keys only) as JSON text.
    pub fn state(&self) -> String {
        self.inner.to_json()
    }

    /// The tenant.
    #[wasm_bindgen(getter)]
    pub fn tenant(&self) -> String {
        self.inner.tenant().to_owned()
    }

    /// The active data-key version.
    #[wasm_bindgen(getter, js_name = activeVersion)]
    pub fn active_version(&self) -> u32 {
        self.inner.active_version()
    }

    /// The active index-key version.
    #[wasm_bindgen(getter, js_name = activeIndexVersion)]
    pub fn active_index_version(&self) -> u32 {
        self.inner.active_index_version()
    }

    /// Whether the keys were destroyed.
    #[wasm_bindgen(getter, js_name = isDestroyed)]
    pub fn is_destroyed(&self) -> bool {
        self.inner.is_destroyed()
    }

    /// Adds and activates a new data-key version; returns it.
    pub fn rotate(&mut self, root: &RootKey, now: f64) -> Result<u32, JsValue> {
        check(self.inner.rotate(&root.inner, unix_seconds(now)?))
    }

    /// Adds and activates a new index-key version; returns it.
    #[wasm_bindgen(js_name = rotateIndexKey)]
    pub fn rotate_index_key(&mut self, root: &RootKey, now: f64) -> Result<u32, JsValue> {
        check(self.inner.rotate_index_key(&root.inner, unix_seconds(now)?))
    }

    /// Drops an old data-key version.
    pub fn retire(&mut self, version: u32) -> Result<(), JsValue> {
        check(self.inner.retire(version))
    }

    /// Crypto-shreds the tenant's keys.
    pub fn destroy(&mut self, now: f64) -> Result<(), JsValue> {
        self.inner.destroy(unix_seconds(now)?);
        Ok(())
    }

    /// Encrypts a text value to a `phx1.` string.
    #[wasm_bindgen(js_name = encryptField)]
    pub fn encrypt_field(
        &self,
        field: &str,
        record_id: &str,
        plaintext: &str,
    ) -> Result<String, JsValue> {
        check(
            self.inner
                .encrypt_field(field, record_id, plaintext.as_bytes()),
        )
    }

    /// Decrypts a `phx1.` string to text.
    #[wasm_bindgen(js_name = decryptField)]
    pub fn decrypt_field(
        &self,
        field: &str,
        record_id: &str,
        ciphertext: &str,
    ) -> Result<String, JsValue> {
        check(self.inner.decrypt_field_text(field, record_id, ciphertext))
            .map(|text| text.to_string())
    }

    /// Encrypts bytes to the binary form.
    #[wasm_bindgen(js_name = encryptBytes)]
    pub fn encrypt_bytes(
        &self,
        field: &str,
        record_id: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, JsValue> {
        check(self.inner.encrypt_field_bytes(field, record_id, plaintext))
    }

    /// Decrypts the binary form to bytes.
    #[wasm_bindgen(js_name = decryptBytes)]
    pub fn decrypt_bytes(
        &self,
        field: &str,
        record_id: &str,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, JsValue> {
        check(self.inner.decrypt_field_bytes(field, record_id, ciphertext)).map(|p| p.to_vec())
    }

    /// For the package's WebCrypto path (large values): `header(6) | associated data`
    /// that seal (`version` 0: the active one) or open a field value under `version`.
    /// Internal to the package (`keyring.ts`); checks what `encryptBytes` checks.
    #[wasm_bindgen(js_name = __fieldSealing)]
    pub fn field_sealing(
        &self,
        field: &str,
        record_id: &str,
        version: u32,
    ) -> Result<Vec<u8>, JsValue> {
        let (header, aad) = check(self.inner.field_sealing(
            field,
            record_id,
            (version != 0).then_some(version),
        ))?;
        Ok([&header[..], &aad[..]].concat())
    }

    /// For the package's WebCrypto path: the 12-byte nonce to seal with, drawn where the
    /// core draws its own (its pool; the fixed nonces of a conformance run), so both paths
    /// make the same bytes. Draw it before `__fieldSealing`, as the core does.
    #[wasm_bindgen(js_name = __fieldNonce)]
    pub fn field_nonce() -> Result<Vec<u8>, JsValue> {
        Ok(check(crypto::fresh_nonce())?.to_vec())
    }

    /// For the package's WebCrypto path: the field's 32-byte subkey under `version`,
    /// copied straight into a JS `Uint8Array` (the WASM copy is wiped on return) that
    /// `keyring.ts` imports once as a non-extractable `CryptoKey` and then zero-fills.
    #[wasm_bindgen(js_name = __fieldSubkey)]
    pub fn field_subkey(&self, field: &str, version: u32) -> Result<js_sys::Uint8Array, JsValue> {
        let subkey = check(self.inner.field_subkey(version, field))?;
        Ok(js_sys::Uint8Array::from(&subkey.expose()[..]))
    }

    /// Whether a ciphertext is under an older key version.
    #[wasm_bindgen(js_name = needsRewrap)]
    pub fn needs_rewrap(&self, ciphertext: &str) -> Result<bool, JsValue> {
        check(self.inner.needs_rewrap(ciphertext))
    }

    /// Re-encrypts under the active key version.
    pub fn rewrap(
        &self,
        field: &str,
        record_id: &str,
        ciphertext: &str,
    ) -> Result<String, JsValue> {
        check(self.inner.rewrap(field, record_id, ciphertext))
    }

    /// `{field, value, index?, allVersions?}` → `{indexes}`.
    #[wasm_bindgen(js_name = blindIndex)]
    pub fn blind_index(&self, request_json: &str) -> Result<String, JsValue> {
        let request: BlindIndexRequest = from_json(request_json)?;
        to_json(&check(crypto::calls::blind_index(&self.inner, &request))?)
    }

    /// `{spec, recordId, record}` → `{record, indexes}`.
    #[wasm_bindgen(js_name = encryptRecord)]
    pub fn encrypt_record(&self, request_json: &str) -> Result<String, JsValue> {
        let request: EncryptRecordRequest = from_json(request_json)?;
        to_json(&check(crypto::calls::encrypt_record(
            &self.inner,
            &request,
        ))?)
    }

    /// `{spec, recordId, record, readable?}` → `{record}`.
    #[wasm_bindgen(js_name = decryptRecord)]
    pub fn decrypt_record(&self, request_json: &str) -> Result<String, JsValue> {
        let request: DecryptRecordRequest = from_json(request_json)?;
        to_json(&check(crypto::calls::decrypt_record(
            &self.inner,
            &request,
        ))?)
    }
}
