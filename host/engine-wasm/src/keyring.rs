//! `WasmKeyring`: a tenant's keyring opened inside the component.

use std::sync::{Mutex, MutexGuard, PoisonError};

use wasmtime::component::ResourceAny;
use wasmtime::Store;

use crate::error::Error;
use crate::instance::bindings::exports::phylax::core::crypto::GuestKeyring;
use crate::instance::{HostState, Instance, WasmRuntime};

/// The instance with the root key and the opened keyring in it.
struct Slot {
    instance: Instance,
    root: ResourceAny,
    keyring: ResourceAny,
}

/// A tenant's keyring in the component: the field calls of
/// `phylax_core::crypto::calls` on JSON text, answers as `{"ok": ...}` / `{"error": ...}`.
///
/// The root key is parsed inside the component and stays there (it is needed again for
/// rotation); the host's copy of the text can be dropped after [`WasmKeyring::open`].
///
/// # Concurrency
///
/// `Send + Sync`, one instance behind a `Mutex`: calls on one keyring run one at a time
/// (a field encryption is a few microseconds plus the call). Key management mutates the
/// keyring, which is why it is not pooled like [`WasmEngine`](crate::WasmEngine); open
/// one `WasmKeyring` per tenant. Call from async code through `spawn_blocking`.
///
/// Should the instance trap (a bug), the keys are gone with it: the call returns
/// [`Error::Trap`] and later calls [`Error::KeyringLost`]; open it again from
/// its stored state.
pub struct WasmKeyring {
    slot: Mutex<Option<Slot>>,
}

impl std::fmt::Debug for WasmKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmKeyring").finish_non_exhaustive()
    }
}

/// Which constructor.
enum Make<'a> {
    Create { tenant: &'a str, now: u64 },
    Open { state_json: &'a str },
}

impl WasmKeyring {
    /// A new keyring for `tenant` (fresh random data and index keys), `now` in Unix
    /// seconds. Store its [`state_json`](Self::state_json).
    pub fn create(
        runtime: &WasmRuntime,
        tenant: &str,
        root_key: &str,
        now: u64,
    ) -> Result<Self, Error> {
        Self::make(runtime, root_key, Make::Create { tenant, now })
    }

    /// Opens a stored keyring state (JSON) under the root key (64 hex digits or 43
    /// base64url characters). A bad key or state gives [`Error::Rejected`] with the
    /// core's error answer.
    pub fn open(runtime: &WasmRuntime, state_json: &str, root_key: &str) -> Result<Self, Error> {
        Self::make(runtime, root_key, Make::Open { state_json })
    }

    /// Opens under the publicly known development root key. Demos and tests only.
    pub fn open_with_insecure_dev_key(
        runtime: &WasmRuntime,
        state_json: &str,
    ) -> Result<Self, Error> {
        let mut instance = runtime.instantiate()?;
        let crypto = instance.bindings.phylax_core_crypto();
        let root = crypto
            .root_key()
            .call_insecure_dev_key(&mut instance.store)
            .map_err(Error::Trap)?
            .map_err(Error::Rejected)?;
        Self::finish(instance, root, Make::Open { state_json })
    }

    fn make(runtime: &WasmRuntime, root_key: &str, make: Make<'_>) -> Result<Self, Error> {
        let mut instance = runtime.instantiate()?;
        let root = instance
            .bindings
            .phylax_core_crypto()
            .root_key()
            .call_parse(&mut instance.store, root_key)
            .map_err(Error::Trap)?
            .map_err(Error::Rejected)?;
        Self::finish(instance, root, make)
    }

    fn finish(mut instance: Instance, root: ResourceAny, make: Make<'_>) -> Result<Self, Error> {
        let keyring = instance.bindings.phylax_core_crypto().keyring();
        let made = match make {
            Make::Create { tenant, now } => {
                keyring.call_create(&mut instance.store, tenant, root, now)
            }
            Make::Open { state_json } => keyring.call_open(&mut instance.store, state_json, root),
        };
        let keyring = made.map_err(Error::Trap)?.map_err(Error::Rejected)?;
        Ok(Self {
            slot: Mutex::new(Some(Slot {
                instance,
                root,
                keyring,
            })),
        })
    }

    /// Runs `call` with the keyring's bindings, store, keyring handle and root key handle.
    fn with<R>(
        &self,
        call: impl FnOnce(
            GuestKeyring<'_>,
            &mut Store<HostState>,
            ResourceAny,
            ResourceAny,
        ) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        let mut guard: MutexGuard<'_, Option<Slot>> =
            self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(Slot {
            instance: Instance { store, bindings },
            root,
            keyring,
        }) = guard.as_mut()
        else {
            return Err(Error::KeyringLost);
        };
        call(
            bindings.phylax_core_crypto().keyring(),
            store,
            *keyring,
            *root,
        )
        .map_err(|err| {
            *guard = None;
            Error::Trap(err)
        })
    }

    /// The storable state (wrapped keys only) as JSON text.
    pub fn state_json(&self) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_state(store, keyring))
    }

    /// The tenant.
    pub fn tenant(&self) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_tenant(store, keyring))
    }

    /// The active data-key version.
    pub fn active_version(&self) -> Result<u32, Error> {
        self.with(|k, store, keyring, _| k.call_active_version(store, keyring))
    }

    /// Adds and activates a new data-key version: `{"ok": version}`. Store the new state.
    pub fn rotate(&self, now: u64) -> Result<String, Error> {
        self.with(|k, store, keyring, root| k.call_rotate(store, keyring, root, now))
    }

    /// Adds and activates a new index-key version: `{"ok": version}`.
    pub fn rotate_index_key(&self, now: u64) -> Result<String, Error> {
        self.with(|k, store, keyring, root| k.call_rotate_index_key(store, keyring, root, now))
    }

    /// Drops an old data-key version: `{"ok": null}`.
    pub fn retire(&self, version: u32) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_retire(store, keyring, version))
    }

    /// Crypto-shreds the tenant's keys: `{"ok": null}`.
    pub fn destroy(&self, now: u64) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_destroy(store, keyring, now))
    }

    /// `{field, recordId, plaintext}` → `{"ok":{"ciphertext"}}`.
    pub fn encrypt_field_json(&self, json: &str) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_encrypt_field(store, keyring, json))
    }

    /// `{field, recordId, ciphertext}` → `{"ok":{"plaintext"}}`.
    pub fn decrypt_field_json(&self, json: &str) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_decrypt_field(store, keyring, json))
    }

    /// `{field, recordId, ciphertext}` → `{"ok":{"needsRewrap"}}`.
    pub fn needs_rewrap_json(&self, json: &str) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_needs_rewrap(store, keyring, json))
    }

    /// `{field, recordId, ciphertext}` → `{"ok":{"ciphertext"}}` under the active version.
    pub fn rewrap_json(&self, json: &str) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_rewrap(store, keyring, json))
    }

    /// `{field, value, index?, allVersions?}` → `{"ok":{"indexes"}}`.
    pub fn blind_index_json(&self, json: &str) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_blind_index(store, keyring, json))
    }

    /// `{spec, recordId, record}` → `{"ok":{"record","indexes"}}`.
    pub fn encrypt_record_json(&self, json: &str) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_encrypt_record(store, keyring, json))
    }

    /// `{spec, recordId, record, readable?}` → `{"ok":{"record"}}`.
    pub fn decrypt_record_json(&self, json: &str) -> Result<String, Error> {
        self.with(|k, store, keyring, _| k.call_decrypt_record(store, keyring, json))
    }
}
