//! The compiled component and its instances.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use wasmtime::component::{Component, Linker, ResourceAny, ResourceTable};
use wasmtime::Store;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::error::Error;
use crate::locate::component_path;

/// Host bindings generated from `wasm/wit/phylax.wit`, the same file the component is
/// built from.
#[allow(
    missing_debug_implementations,
    clippy::all,
    clippy::pedantic,
    reason = "generated code"
)]
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        world: "phylax",
        path: "../../wasm/wit",
    });
}

use bindings::{Phylax, PhylaxPre};

/// What a store holds besides the instance: the WASI context. It grants randomness and
/// clocks (what the core uses) and the process's stderr (where a panic would report);
/// no files, no environment, no arguments, no network, no stdin or stdout.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// One instance of the component in its own store. Not shared: whoever holds it (behind
/// a mutex) calls into it.
pub(crate) struct Instance {
    pub(crate) store: Store<HostState>,
    pub(crate) bindings: Phylax,
}

/// The component, compiled once per process, ready to instantiate.
///
/// `WasmRuntime` is cheap to clone (an `Arc`) and `Send + Sync`. Compiling the component
/// (`Component::new`, cranelift) is the expensive step, seconds for the ~2 MB component;
/// do it once at startup and share the runtime. Each [`WasmEngine`](crate::WasmEngine)
/// and [`WasmKeyring`](crate::WasmKeyring) instantiates it from the pre-linked
/// `InstancePre`, which costs well under a millisecond.
#[derive(Clone)]
pub struct WasmRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    pre: PhylaxPre<HostState>,
    /// An instance for the stateless calls (`validatePolicies`, `verifyBundle`, ...).
    utility: Mutex<Option<Instance>>,
    /// Test vectors only: where every instance's WASI randomness comes from first.
    #[cfg(feature = "insecure-fixed-random")]
    random: Option<crate::fixed_random::InsecureRandomQueue>,
}

impl std::fmt::Debug for WasmRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmRuntime").finish_non_exhaustive()
    }
}

impl WasmRuntime {
    /// Loads the component from [`component_path`] (`$PHYLAX_COMPONENT_WASM`, else the
    /// cargo target directory).
    pub fn new() -> Result<Self, Error> {
        Self::from_file(component_path())
    }

    /// Loads the component from a file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Compiles the component from its bytes and links it against WASI.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let engine = wasmtime::Engine::new(&wasmtime::Config::new()).map_err(Error::Load)?;
        let component = Component::new(&engine, bytes).map_err(Error::Load)?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(Error::Load)?;
        let pre = linker.instantiate_pre(&component).map_err(Error::Load)?;
        let pre = PhylaxPre::new(pre).map_err(Error::Load)?;
        Ok(Self {
            inner: Arc::new(Inner {
                pre,
                utility: Mutex::new(None),
                #[cfg(feature = "insecure-fixed-random")]
                random: None,
            }),
        })
    }

    /// Test vectors only: a runtime whose instances draw WASI randomness from `queue`
    /// before the OS (see `InsecureRandomQueue`). Needs the `insecure-fixed-random`
    /// feature, which only the conformance test enables.
    #[cfg(feature = "insecure-fixed-random")]
    #[doc(hidden)]
    pub fn with_insecure_random(
        path: impl AsRef<Path>,
        queue: crate::fixed_random::InsecureRandomQueue,
    ) -> Result<Self, Error> {
        let runtime = Self::from_file(path)?;
        let inner = Arc::try_unwrap(runtime.inner)
            .map_err(|_| Error::Load(wasmtime::Error::msg("runtime already shared")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                random: Some(queue),
                ..inner
            }),
        })
    }

    /// A fresh instance in a fresh store.
    pub(crate) fn instantiate(&self) -> Result<Instance, Error> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stderr();
        #[cfg(feature = "insecure-fixed-random")]
        if let Some(queue) = &self.inner.random {
            wasi.secure_random(queue.rng());
        }
        let wasi = wasi.build();
        let mut store = Store::new(
            self.inner.pre.engine(),
            HostState {
                wasi,
                table: ResourceTable::new(),
            },
        );
        let bindings = self
            .inner
            .pre
            .instantiate(&mut store)
            .map_err(Error::Trap)?;
        Ok(Instance { store, bindings })
    }

    /// Runs a stateless call on the shared utility instance, replacing it if it failed.
    fn stateless<R>(
        &self,
        call: impl FnOnce(&mut Instance) -> wasmtime::Result<R>,
    ) -> Result<R, Error> {
        let mut slot = self
            .inner
            .utility
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let instance = match slot.as_mut() {
            Some(instance) => instance,
            None => slot.insert(self.instantiate()?),
        };
        call(instance).map_err(|err| {
            *slot = None;
            Error::Trap(err)
        })
    }

    /// `validatePolicies` on JSON text: the verdict `{valid, error?, diagnostics}`, or
    /// a `request.malformed` error answer, as the core answers natively.
    pub fn validate_policies_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_policy()
                .call_validate_policies(&mut i.store, json)
        })
    }

    /// `issueApiKey` on JSON text, as `phylax_core::identity::calls::issue_api_key`.
    pub fn issue_api_key_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_identity()
                .call_issue_api_key(&mut i.store, json)
        })
    }

    /// `parseApiKey` on JSON text.
    pub fn parse_api_key_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_identity()
                .call_parse_api_key(&mut i.store, json)
        })
    }

    /// `verifyApiKey` on JSON text.
    pub fn verify_api_key_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_identity()
                .call_verify_api_key(&mut i.store, json)
        })
    }

    /// `rotateApiKey` on JSON text.
    pub fn rotate_api_key_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_identity()
                .call_rotate_api_key(&mut i.store, json)
        })
    }

    /// `revokeApiKey` on JSON text.
    pub fn revoke_api_key_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_identity()
                .call_revoke_api_key(&mut i.store, json)
        })
    }

    /// `verifyTokenWithJwks` on JSON text (one-shot: the JWKS is parsed on every call).
    pub fn verify_token_with_jwks_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_identity()
                .call_verify_token_with_jwks(&mut i.store, json)
        })
    }

    /// `signWebhook` on JSON text.
    pub fn sign_webhook_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_webhook()
                .call_sign(&mut i.store, json)
        })
    }

    /// `verifyWebhook` on JSON text.
    pub fn verify_webhook_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_webhook()
                .call_verify(&mut i.store, json)
        })
    }

    /// `auditAppend` (`{head, events}`) under `audit_key` (64 hex digits or 43 base64url
    /// characters). A bad key gives [`Error::Rejected`] with the core's error answer.
    pub fn audit_append_json(&self, audit_key: &str, json: &str) -> Result<String, Error> {
        self.with_audit_key(audit_key, |i, key| {
            i.bindings
                .phylax_core_audit()
                .audit_key()
                .call_append(&mut i.store, key, json)
        })
    }

    /// `auditVerify` (`{tenant, records, start?, checkpoint?, checkpointPublicKey?}`)
    /// under `audit_key`.
    pub fn audit_verify_json(&self, audit_key: &str, json: &str) -> Result<String, Error> {
        self.with_audit_key(audit_key, |i, key| {
            i.bindings
                .phylax_core_audit()
                .audit_key()
                .call_verify(&mut i.store, key, json)
        })
    }

    /// Parses the audit key in the utility instance, runs `call`, drops the key there.
    fn with_audit_key(
        &self,
        audit_key: &str,
        call: impl FnOnce(&mut Instance, ResourceAny) -> wasmtime::Result<String>,
    ) -> Result<String, Error> {
        let answer = self.stateless(|i| {
            let parsed = i
                .bindings
                .phylax_core_audit()
                .audit_key()
                .call_parse(&mut i.store, audit_key)?;
            let key = match parsed {
                Ok(key) => key,
                Err(rejected) => return Ok(Err(rejected)),
            };
            let answer = call(i, key);
            key.resource_drop(&mut i.store)?;
            answer.map(Ok)
        })?;
        answer.map_err(Error::Rejected)
    }

    /// `planToSql` on JSON text: `{"ok":{sql, params}}` or an error answer.
    pub fn plan_to_sql_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_policy()
                .call_plan_to_sql(&mut i.store, json)
        })
    }

    /// `verifyBundle` on JSON text: `{"ok":{hash, version, createdAt}}` or an error answer.
    pub fn verify_bundle_json(&self, json: &str) -> Result<String, Error> {
        self.stateless(|i| {
            i.bindings
                .phylax_core_policy()
                .call_verify_bundle(&mut i.store, json)
        })
    }
}
