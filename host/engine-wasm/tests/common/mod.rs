//! Shared by the test files: the component (compiled once per test binary), the pack's
//! engine spec and its cases.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use phylax_core::policy::pack;
use phylax_engine_wasm::{component_path, WasmRuntime};
use serde_json::Value;

/// The component runtime. The component must have been built before the tests run:
/// `cargo build -p phylax-component --target wasm32-wasip2 --release`.
pub fn runtime() -> &'static WasmRuntime {
    static RUNTIME: OnceLock<WasmRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        WasmRuntime::new().unwrap_or_else(|err| {
            panic!(
                "{err}\n(looked at `{}`)\nbuild the component first: \
                 cargo build -p phylax-component --target wasm32-wasip2 --release",
                component_path().display()
            )
        })
    })
}

/// `core/tests/pack_cases.json`.
pub fn cases() -> Value {
    serde_json::from_str(include_str!("../../../../core/tests/pack_cases.json")).unwrap()
}

/// The healthcare pack's engine spec with the table's base entities, as JSON text.
pub fn pack_spec_json(cases: &Value) -> String {
    let spec = pack::healthcare(
        BTreeMap::new(),
        cases["baseEntities"].as_array().unwrap().clone(),
    )
    .unwrap();
    serde_json::to_string(&spec).unwrap()
}
