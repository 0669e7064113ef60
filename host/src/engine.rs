//! The decision engine the server asks: a small trait over the core's JSON calls, so the
//! wasm component engine (`--engine wasm`) can plug in with byte-identical answers.
//!
//! The engine holds the platform pack, every live tenant's current policies, one
//! `Tenant` entity per live tenant and the configured extra base entities. It is rebuilt
//! when a tenant is created or offboarded or its policies change, never per request, and
//! swapped in atomically: requests in flight finish on the engine they started with.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use phylax_core::calls::Answer;
use phylax_core::policy::calls::{
    authorize_batch_json, authorize_json, plan_resources_json, readable_fields_json,
};
use phylax_core::policy::{pack, Engine, EngineSpec, PolicyError, PolicyFile};
use phylax_core::ErrorBody;
use phylax_engine_wasm::{WasmEngine, WasmRuntime};
use serde_json::Value;

/// What the server needs from an engine. Requests and answers are the core's JSON call
/// types as text: `{"ok": ...}` or `{"error": {...}}`.
pub trait DecisionEngine: Send + Sync + fmt::Debug {
    /// `authorize`.
    fn authorize_json(&self, request: &str) -> String;
    /// `authorizeBatch`.
    fn authorize_batch_json(&self, request: &str) -> String;
    /// `readableFields`.
    fn readable_fields_json(&self, request: &str) -> String;
    /// `planResources`: which resources of a type the principal may act on.
    fn plan_resources_json(&self, request: &str) -> String;
    /// The hash of the policies it decides with.
    fn bundle_hash(&self) -> String;
}

/// The core linked in.
#[derive(Debug)]
pub struct NativeEngine(Engine);

impl NativeEngine {
    /// Builds the engine from a spec.
    pub fn build(spec: &EngineSpec) -> Result<Self, PolicyError> {
        Engine::new(spec).map(Self)
    }
}

impl DecisionEngine for NativeEngine {
    fn authorize_json(&self, request: &str) -> String {
        authorize_json(&self.0, request)
    }
    fn authorize_batch_json(&self, request: &str) -> String {
        authorize_batch_json(&self.0, request)
    }
    fn readable_fields_json(&self, request: &str) -> String {
        readable_fields_json(&self.0, request)
    }
    fn plan_resources_json(&self, request: &str) -> String {
        plan_resources_json(&self.0, request)
    }
    fn bundle_hash(&self) -> String {
        self.0.bundle_hash().to_owned()
    }
}

/// The core compiled as a WebAssembly component, run by wasmtime (`--engine wasm`):
/// the same JSON calls, byte-identical answers.
#[derive(Debug)]
pub struct WasmDecisionEngine(WasmEngine);

impl WasmDecisionEngine {
    /// Builds the engine from a spec inside the component.
    pub fn build(runtime: &WasmRuntime, spec: &EngineSpec) -> Result<Self, ErrorBody> {
        let json = serde_json::to_string(spec).map_err(|e| engine_failure(&e))?;
        match WasmEngine::from_spec_json(runtime, &json) {
            Ok(engine) => Ok(Self(engine)),
            // The component's refusal is the core's error answer, as natively.
            Err(phylax_engine_wasm::Error::Rejected(answer)) => {
                match serde_json::from_str::<Answer<Value>>(&answer) {
                    Ok(Answer::Error(body)) => Err(body),
                    _ => Err(engine_failure(&answer)),
                }
            }
            Err(e) => Err(engine_failure(&e)),
        }
    }

    /// A call into the component. Component calls block their thread (and WASI may enter
    /// the tokio runtime), so on the server's worker threads they run in `block_in_place`.
    fn call(
        &self,
        op: impl FnOnce(&WasmEngine) -> Result<String, phylax_engine_wasm::Error>,
    ) -> String {
        let run =
            || op(&self.0).unwrap_or_else(|e| Answer::<()>::Error(engine_failure(&e)).to_json());
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }
}

fn engine_failure(err: &dyn fmt::Display) -> ErrorBody {
    ErrorBody {
        code: "engine.failed".to_owned(),
        message: format!("the wasm engine failed: {err}"),
        hint: "this is a bug in the component; the request was denied. Report it with the request"
            .to_owned(),
    }
}

impl DecisionEngine for WasmDecisionEngine {
    fn authorize_json(&self, request: &str) -> String {
        self.call(|e| e.authorize_json(request))
    }
    fn authorize_batch_json(&self, request: &str) -> String {
        self.call(|e| e.authorize_batch_json(request))
    }
    fn readable_fields_json(&self, request: &str) -> String {
        self.call(|e| e.readable_fields_json(request))
    }
    fn plan_resources_json(&self, request: &str) -> String {
        self.call(|e| e.plan_resources_json(request))
    }
    fn bundle_hash(&self) -> String {
        self.0.bundle_hash().to_owned()
    }
}

/// A function building an engine from a spec.
pub type BuildFn = dyn Fn(&EngineSpec) -> Result<Arc<dyn DecisionEngine>, ErrorBody> + Send + Sync;

/// Builds engines from specs: natively, or in the wasm component.
#[derive(Clone)]
pub struct EngineFactory(pub Arc<BuildFn>);

impl fmt::Debug for EngineFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EngineFactory(..)")
    }
}

impl EngineFactory {
    /// The native engine.
    pub fn native() -> Self {
        Self(Arc::new(|spec| {
            let engine = NativeEngine::build(spec).map_err(|e| ErrorBody::from_diagnostic(&e))?;
            Ok(Arc::new(engine) as Arc<dyn DecisionEngine>)
        }))
    }

    /// The wasm component engine. Compiles the component once (a few seconds), here.
    pub fn wasm() -> Result<Self, String> {
        let runtime = WasmRuntime::new().map_err(|e| format!("`--engine wasm`: {e}"))?;
        Ok(Self(Arc::new(move |spec| {
            let engine = WasmDecisionEngine::build(&runtime, spec)?;
            Ok(Arc::new(engine) as Arc<dyn DecisionEngine>)
        })))
    }

    /// Builds one engine.
    pub fn build(&self, spec: &EngineSpec) -> Result<Arc<dyn DecisionEngine>, ErrorBody> {
        (self.0)(spec)
    }
}

/// The engine spec for the given live tenants and their current policies: the
/// healthcare pack, one `Tenant` entity per tenant, and extra base entities.
pub fn spec_for(
    tenants: &[String],
    policies: BTreeMap<String, Vec<PolicyFile>>,
    extra_entities: &[Value],
) -> Result<EngineSpec, PolicyError> {
    let mut entities: Vec<Value> = tenants
        .iter()
        .map(
            |t| serde_json::json!({"uid": {"type": "Tenant", "id": t}, "attrs": {}, "parents": []}),
        )
        .collect();
    // An extra entity with the same uid as a generated tenant entity replaces it.
    let extra_uids: Vec<&Value> = extra_entities.iter().filter_map(|e| e.get("uid")).collect();
    entities.retain(|e| e.get("uid").is_none_or(|uid| !extra_uids.contains(&uid)));
    entities.extend(extra_entities.iter().cloned());
    pack::healthcare(policies, entities)
}

/// The current engine, swapped atomically on rebuild.
#[derive(Debug)]
pub struct EngineCell(RwLock<Arc<dyn DecisionEngine>>);

impl EngineCell {
    /// Holds `engine`.
    pub fn new(engine: Arc<dyn DecisionEngine>) -> Self {
        Self(RwLock::new(engine))
    }

    /// The engine to use for one request.
    pub fn current(&self) -> Arc<dyn DecisionEngine> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces the engine.
    pub fn replace(&self, engine: Arc<dyn DecisionEngine>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = engine;
    }
}
