//! `phylax:core/crypto`: root keys and keyrings over `phylax_core::crypto`.
//!
//! Field calls run the core's typed calls (`phylax_core::crypto::calls`) through the same
//! JSON call envelope as the policy calls. Key management (rotate, retire, destroy)
//! mutates the keyring, so the handle keeps it in a `RefCell` (a component instance is
//! single-threaded; the host serializes calls into one instance).

use std::cell::RefCell;

use phylax_core::crypto::calls::{
    self, BlindIndexRequest, DecryptFieldRequest, DecryptRecordRequest, EncryptFieldRequest,
    EncryptRecordRequest,
};
use phylax_core::crypto::{Keyring as CoreKeyring, RootKey as CoreRootKey};
use phylax_core::policy::calls::call_json;
use phylax_core::Answer;

use crate::bindings::exports::phylax::core::crypto::{
    Guest, GuestKeyring, GuestRootKey, Keyring, RootKey, RootKeyBorrow,
};
use crate::{error_text, Component};

/// The `root-key` resource.
#[derive(Debug)]
pub struct RootKeyHandle {
    key: CoreRootKey,
}

/// The `keyring` resource.
#[derive(Debug)]
pub struct KeyringHandle {
    keyring: RefCell<CoreKeyring>,
}

impl Guest for Component {
    type RootKey = RootKeyHandle;
    type Keyring = KeyringHandle;
}

impl GuestRootKey for RootKeyHandle {
    fn parse(text: String) -> Result<RootKey, String> {
        CoreRootKey::parse(&text)
            .map(|key| RootKey::new(Self { key }))
            .map_err(|err| error_text(&err))
    }

    fn insecure_dev_key() -> Result<RootKey, String> {
        CoreRootKey::insecure_dev_key()
            .map(|key| RootKey::new(Self { key }))
            .map_err(|err| error_text(&err))
    }
}

impl KeyringHandle {
    fn handle(keyring: CoreKeyring) -> Keyring {
        Keyring::new(Self {
            keyring: RefCell::new(keyring),
        })
    }

    /// Runs a read-only JSON call on the keyring. A `RefCell` borrow cannot fail here:
    /// the only mutable borrows are in the key-management methods, which do not re-enter.
    fn call<Req, Resp>(
        &self,
        json: &str,
        op: impl FnOnce(&CoreKeyring, &Req) -> Result<Resp, phylax_core::crypto::CryptoError>,
    ) -> String
    where
        Req: for<'de> serde::Deserialize<'de>,
        Resp: serde::Serialize,
    {
        let keyring = self.keyring.borrow();
        call_json(json, |req: &Req| op(&keyring, req))
    }
}

impl GuestKeyring for KeyringHandle {
    fn create(tenant: String, root: RootKeyBorrow<'_>, now: u64) -> Result<Keyring, String> {
        let root = root.get::<RootKeyHandle>();
        CoreKeyring::create(&tenant, &root.key, now)
            .map(Self::handle)
            .map_err(|err| error_text(&err))
    }

    fn open(state_json: String, root: RootKeyBorrow<'_>) -> Result<Keyring, String> {
        let root = root.get::<RootKeyHandle>();
        CoreKeyring::open_json(&state_json, &root.key)
            .map(Self::handle)
            .map_err(|err| error_text(&err))
    }

    fn state(&self) -> String {
        self.keyring.borrow().to_json()
    }

    fn tenant(&self) -> String {
        self.keyring.borrow().tenant().to_owned()
    }

    fn active_version(&self) -> u32 {
        self.keyring.borrow().active_version()
    }

    fn rotate(&self, root: RootKeyBorrow<'_>, now: u64) -> String {
        let root = root.get::<RootKeyHandle>();
        Answer::from_result(self.keyring.borrow_mut().rotate(&root.key, now)).to_json()
    }

    fn rotate_index_key(&self, root: RootKeyBorrow<'_>, now: u64) -> String {
        let root = root.get::<RootKeyHandle>();
        Answer::from_result(self.keyring.borrow_mut().rotate_index_key(&root.key, now)).to_json()
    }

    fn retire(&self, version: u32) -> String {
        Answer::from_result(self.keyring.borrow_mut().retire(version)).to_json()
    }

    fn destroy(&self, now: u64) -> String {
        self.keyring.borrow_mut().destroy(now);
        Answer::Ok(()).to_json()
    }

    fn encrypt_field(&self, request_json: String) -> String {
        self.call(&request_json, |k, req: &EncryptFieldRequest| {
            calls::encrypt_field(k, req)
        })
    }

    fn decrypt_field(&self, request_json: String) -> String {
        self.call(&request_json, |k, req: &DecryptFieldRequest| {
            calls::decrypt_field(k, req)
        })
    }

    fn needs_rewrap(&self, request_json: String) -> String {
        self.call(&request_json, |k, req: &DecryptFieldRequest| {
            calls::needs_rewrap(k, req)
        })
    }

    fn rewrap(&self, request_json: String) -> String {
        self.call(&request_json, |k, req: &DecryptFieldRequest| {
            calls::rewrap(k, req)
        })
    }

    fn blind_index(&self, request_json: String) -> String {
        self.call(&request_json, |k, req: &BlindIndexRequest| {
            calls::blind_index(k, req)
        })
    }

    fn encrypt_record(&self, request_json: String) -> String {
        self.call(&request_json, |k, req: &EncryptRecordRequest| {
            calls::encrypt_record(k, req)
        })
    }

    fn decrypt_record(&self, request_json: String) -> String {
        self.call(&request_json, |k, req: &DecryptRecordRequest| {
            calls::decrypt_record(k, req)
        })
    }
}
