//! `WasmEngine`: the native `Engine`'s JSON calls, answered by the component.

use std::sync::{Mutex, MutexGuard, PoisonError};

use wasmtime::component::ResourceAny;

use crate::error::Error;
use crate::instance::{Instance, WasmRuntime};

/// How an engine was made, so a failed instance can be rebuilt the same way.
#[derive(Clone, Debug)]
enum Source {
    /// `buildEngine` from a spec.
    Spec(String),
    /// `loadBundle` from `{bundle, publicKey, entities?}`.
    Bundle(String),
}

/// One instance holding one built engine.
struct Slot {
    instance: Instance,
    engine: ResourceAny,
}

/// A policy engine running in the component: the same answers, byte for byte, as
/// `phylax_core::policy::calls::{authorize_json, ...}` on a natively built engine.
///
/// # Concurrency
///
/// `WasmEngine` is `Send + Sync`; share it (e.g. in an `Arc`) and call it from any
/// thread. A component instance runs one call at a time, so the engine keeps a small
/// pool of instances, each with its own copy of the built engine behind a `Mutex`.
/// A call takes the first free instance; only when all built ones are busy is another
/// one built (one more engine build, as costly as the first), up to the pool size
/// (default: the number of CPUs); past that a call waits for an instance. Sequential
/// use therefore only ever builds one.
///
/// Calls block the calling thread for the decision's duration (tens of microseconds for
/// the healthcare pack) and, under contention, for the wait. From async code (tokio) call
/// through `tokio::task::spawn_blocking`: it never blocks a runtime worker, and the WASI
/// host functions behind the component may themselves enter a tokio runtime, which is
/// not allowed on a runtime worker thread.
///
/// # Failures
///
/// Bad input never fails a call: it is answered with the core's `{"error": ...}` text.
/// Should an instance trap anyway (a bug), the call returns [`Error::Trap`], the instance
/// is dropped and a new one is built from the same spec or bundle on demand.
pub struct WasmEngine {
    runtime: WasmRuntime,
    source: Source,
    slots: Vec<Mutex<Option<Slot>>>,
    bundle_hash: String,
}

impl std::fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmEngine")
            .field("bundle_hash", &self.bundle_hash)
            .field("instances", &self.slots.len())
            .finish_non_exhaustive()
    }
}

/// The default pool size: one instance per CPU.
fn default_pool_size() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

impl WasmEngine {
    /// `buildEngine` from an engine spec's JSON text. A refused spec gives
    /// [`Error::Rejected`] with the core's error answer text, as
    /// `phylax_core::policy::calls::build_engine_json` returns it natively.
    pub fn from_spec_json(runtime: &WasmRuntime, json: &str) -> Result<Self, Error> {
        Self::new(runtime, Source::Spec(json.to_owned()), default_pool_size())
    }

    /// `loadBundle` from `{bundle, publicKey, entities?}` JSON text (the bundle's
    /// signature is checked inside the component before anything in it is used). A bad
    /// signature or bundle gives [`Error::Rejected`], as `load_bundle_json` natively.
    pub fn from_bundle_json(runtime: &WasmRuntime, json: &str) -> Result<Self, Error> {
        Self::new(
            runtime,
            Source::Bundle(json.to_owned()),
            default_pool_size(),
        )
    }

    /// The same engine with at most `instances` instances (at least one).
    #[must_use]
    pub fn with_pool_size(mut self, instances: usize) -> Self {
        let instances = instances.max(1);
        self.slots.truncate(instances);
        self.slots.resize_with(instances, || Mutex::new(None));
        self
    }

    fn new(runtime: &WasmRuntime, source: Source, pool_size: usize) -> Result<Self, Error> {
        let mut first = build(runtime, &source)?;
        let info = first
            .instance
            .bindings
            .phylax_core_policy()
            .engine()
            .call_info(&mut first.instance.store, first.engine)
            .map_err(Error::Trap)?;
        let bundle_hash = parse_bundle_hash(&info).ok_or_else(|| {
            Error::Trap(wasmtime::Error::msg(format!(
                "unexpected engine info `{info}`"
            )))
        })?;
        let mut slots = Vec::with_capacity(pool_size.max(1));
        slots.push(Mutex::new(Some(first)));
        slots.resize_with(pool_size.max(1), || Mutex::new(None));
        Ok(Self {
            runtime: runtime.clone(),
            source,
            slots,
            bundle_hash,
        })
    }

    /// `sha256:` + hex of the engine's bundle; every answer carries it.
    pub fn bundle_hash(&self) -> &str {
        &self.bundle_hash
    }

    /// `engineInfo` as JSON text: `{"bundleHash":"sha256:..."}`.
    pub fn info_json(&self) -> Result<String, Error> {
        self.with_slot(|slot| {
            slot.instance
                .bindings
                .phylax_core_policy()
                .engine()
                .call_info(&mut slot.instance.store, slot.engine)
        })
    }

    /// `authorize` on JSON text: the `{"ok": decision}` / `{"error": ...}` answer.
    pub fn authorize_json(&self, json: &str) -> Result<String, Error> {
        self.with_slot(|slot| {
            slot.instance
                .bindings
                .phylax_core_policy()
                .engine()
                .call_authorize(&mut slot.instance.store, slot.engine, json)
        })
    }

    /// `authorizeBatch` on JSON text.
    pub fn authorize_batch_json(&self, json: &str) -> Result<String, Error> {
        self.with_slot(|slot| {
            slot.instance
                .bindings
                .phylax_core_policy()
                .engine()
                .call_authorize_batch(&mut slot.instance.store, slot.engine, json)
        })
    }

    /// `readableFields` on JSON text.
    pub fn readable_fields_json(&self, json: &str) -> Result<String, Error> {
        self.with_slot(|slot| {
            slot.instance
                .bindings
                .phylax_core_policy()
                .engine()
                .call_readable_fields(&mut slot.instance.store, slot.engine, json)
        })
    }

    /// `planResources` on JSON text.
    pub fn plan_resources_json(&self, json: &str) -> Result<String, Error> {
        self.with_slot(|slot| {
            slot.instance
                .bindings
                .phylax_core_policy()
                .engine()
                .call_plan_resources(&mut slot.instance.store, slot.engine, json)
        })
    }

    /// How many instances are built now (for metrics and tests).
    pub fn instances_built(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| {
                slot.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_some()
            })
            .count()
    }

    /// Runs `call` on a free instance: the first built one that is free, else an unbuilt
    /// one (built now), else waits for one.
    fn with_slot(
        &self,
        call: impl FnOnce(&mut Slot) -> wasmtime::Result<String>,
    ) -> Result<String, Error> {
        let mut free_unbuilt = None;
        for slot in &self.slots {
            if let Ok(guard) = slot.try_lock() {
                if guard.is_some() {
                    return self.run(guard, call);
                }
                if free_unbuilt.is_none() {
                    free_unbuilt = Some(guard);
                }
            }
        }
        if let Some(guard) = free_unbuilt {
            return self.run(guard, call);
        }
        // Every instance is busy: wait for one, spreading the waiters.
        let index = std::thread::current()
            .id()
            .as_u64_hash()
            .checked_rem(self.slots.len())
            .unwrap_or(0);
        match self.slots.get(index).or_else(|| self.slots.first()) {
            Some(slot) => self.run(slot.lock().unwrap_or_else(PoisonError::into_inner), call),
            None => Err(Error::Trap(wasmtime::Error::msg(
                "the engine has no instances",
            ))),
        }
    }

    fn run(
        &self,
        mut guard: MutexGuard<'_, Option<Slot>>,
        call: impl FnOnce(&mut Slot) -> wasmtime::Result<String>,
    ) -> Result<String, Error> {
        let slot = match guard.as_mut() {
            Some(slot) => slot,
            None => guard.insert(build(&self.runtime, &self.source)?),
        };
        call(slot).map_err(|err| {
            // A trapped instance cannot be used again: drop it; the next call rebuilds.
            *guard = None;
            Error::Trap(err)
        })
    }
}

/// Instantiates the component and builds the engine in it.
fn build(runtime: &WasmRuntime, source: &Source) -> Result<Slot, Error> {
    let mut instance = runtime.instantiate()?;
    let engine = instance.bindings.phylax_core_policy().engine();
    let built = match source {
        Source::Spec(json) => engine.call_build(&mut instance.store, json),
        Source::Bundle(json) => engine.call_load_bundle(&mut instance.store, json),
    };
    match built.map_err(Error::Trap)? {
        Ok(engine) => Ok(Slot { instance, engine }),
        Err(answer) => Err(Error::Rejected(answer)),
    }
}

/// The `bundleHash` of `{"bundleHash":"..."}`, without a JSON parser: the hash is
/// `sha256:` + hex, so it needs no unescaping.
fn parse_bundle_hash(info: &str) -> Option<String> {
    info.strip_prefix(r#"{"bundleHash":""#)?
        .strip_suffix(r#""}"#)
        .filter(|hash| hash.chars().all(|c| c.is_ascii_alphanumeric() || c == ':'))
        .map(str::to_owned)
}

/// A spread of waiting threads over the instances.
trait ThreadSpread {
    fn as_u64_hash(&self) -> usize;
}

impl ThreadSpread for std::thread::ThreadId {
    fn as_u64_hash(&self) -> usize {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut hasher);
        usize::try_from(hasher.finish() % 1024).unwrap_or(0)
    }
}
