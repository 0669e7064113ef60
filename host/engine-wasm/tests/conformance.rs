//! The conformance cases (`conformance/cases`) through the wasm32-wasip2 component in
//! wasmtime: the release build of the component, unmodified; fixed nonces reach it
//! through the WASI random source this host hands its instances.
//!
//! Needs the component built first:
//! `cargo build -p phylax-component --target wasm32-wasip2 --release`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::collections::BTreeMap;

use phylax_conformance::{Case, CaseFile, EngineSource, Runtime};
use phylax_engine_wasm::{
    component_path, Error, InsecureRandomQueue, WasmEngine, WasmKeyring, WasmRuntime,
};
use serde_json::{json, Value};

struct Wasmtime {
    runtime: WasmRuntime,
    random: InsecureRandomQueue,
    /// Whether this case's nonces were queued (only keyring calls queue them).
    queued: bool,
    engines: BTreeMap<(String, String), Built>,
}

/// An engine fixture, built once per file.
enum Built {
    Engine(WasmEngine),
    /// The core refused the fixture: its error answer answers every case on it.
    Refused(String),
    /// The runtime failed: every case on it fails.
    Failed(String),
}

/// A component call's outcome as answer text: a constructor's refusal is the core's
/// error answer; a trap or a runtime failure fails the case.
fn answer_text(result: Result<String, Error>) -> Result<String, String> {
    match result {
        Ok(text) | Err(Error::Rejected(text)) => Ok(text),
        Err(err) => Err(format!("the component failed: {err}")),
    }
}

/// `{"ok": value}` around a plain (non-answer) JSON text, unless it is an error answer.
fn wrap_plain(text: &str) -> Result<String, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("error").is_some() && value.get("valid").is_none() {
        Ok(text.to_owned())
    } else {
        Ok(json!({ "ok": value }).to_string())
    }
}

impl Wasmtime {
    fn new() -> Self {
        let random = InsecureRandomQueue::default();
        let runtime = WasmRuntime::with_insecure_random(component_path(), random.clone())
            .unwrap_or_else(|err| {
                panic!(
                    "{err}\n(looked at `{}`)\nbuild the component first: \
                     cargo build -p phylax-component --target wasm32-wasip2 --release",
                    component_path().display()
                )
            });
        Self {
            runtime,
            random,
            queued: false,
            engines: BTreeMap::new(),
        }
    }

    fn engine(
        &mut self,
        file: &CaseFile,
        case: &Case,
    ) -> Result<Result<&WasmEngine, String>, String> {
        let key = file.engine_key(case)?;
        if !self.engines.contains_key(&key) {
            let built = match file.engine_for(case)? {
                EngineSource::Spec(spec) => WasmEngine::from_spec_json(&self.runtime, &spec),
                EngineSource::Bundle(request) => {
                    WasmEngine::from_bundle_json(&self.runtime, &request)
                }
            };
            let built = match built {
                Ok(engine) => Built::Engine(engine.with_pool_size(1)),
                Err(Error::Rejected(answer)) => Built::Refused(answer),
                Err(err) => Built::Failed(format!("the component failed: {err}")),
            };
            self.engines.insert(key.clone(), built);
        }
        let built = self.engines.get(&key).ok_or("engine cache")?;
        match built {
            Built::Engine(engine) => Ok(Ok(engine)),
            Built::Refused(answer) => Ok(Err(answer.clone())),
            Built::Failed(failure) => Err(failure.clone()),
        }
    }

    /// Opens a keyring in the component: the keyring, or the core's refusal as answer text.
    fn open_keyring(
        &self,
        root_key: &str,
        state: &Value,
    ) -> Result<Result<WasmKeyring, String>, String> {
        match WasmKeyring::open(&self.runtime, &state.to_string(), root_key) {
            Ok(keyring) => Ok(Ok(keyring)),
            Err(Error::Rejected(answer)) => Ok(Err(answer)),
            Err(err) => Err(format!("the component failed: {err}")),
        }
    }

    fn call(&mut self, file: &CaseFile, case: &Case, nonces: &[u8]) -> Result<String, String> {
        let req = case.request.to_string();
        let req = req.as_str();
        let rt = &self.runtime;
        macro_rules! on_engine {
            ($method:ident) => {
                match self.engine(file, case)? {
                    Ok(engine) => answer_text(engine.$method(req)),
                    Err(answer) => Ok(answer),
                }
            };
        }
        macro_rules! on_keyring {
            ($method:ident) => {{
                let fixture = file.keyring_for(case)?;
                match self.open_keyring(&fixture.root_key, &fixture.state)? {
                    Ok(keyring) => {
                        // Queued only now: opening the keyring draws no nonces, but the
                        // instance's start-up may draw randomness of its own.
                        self.random.push(nonces);
                        self.queued = true;
                        answer_text(keyring.$method(req))
                    }
                    Err(answer) => Ok(answer),
                }
            }};
        }
        match case.op.as_str() {
            "buildEngine" | "loadBundle" => {
                let built = if case.op == "buildEngine" {
                    WasmEngine::from_spec_json(rt, req)
                } else {
                    WasmEngine::from_bundle_json(rt, req)
                };
                match built {
                    Ok(engine) => wrap_plain(&answer_text(engine.info_json())?),
                    Err(err) => answer_text(Err(err)),
                }
            }
            "verifyBundle" => answer_text(rt.verify_bundle_json(req)),
            "validatePolicies" => wrap_plain(&answer_text(rt.validate_policies_json(req))?),
            "authorize" => on_engine!(authorize_json),
            "authorizeBatch" => on_engine!(authorize_batch_json),
            "readableFields" => on_engine!(readable_fields_json),
            "planResources" => on_engine!(plan_resources_json),
            "planToSql" => answer_text(rt.plan_to_sql_json(req)),
            "openKeyring" => {
                let (Some(root_key), Some(state), 2) = (
                    case.request.get("rootKey").and_then(Value::as_str),
                    case.request.get("state"),
                    case.request.as_object().map_or(0, serde_json::Map::len),
                ) else {
                    return Err("openKeyring's request must be {rootKey, state}".to_owned());
                };
                match self.open_keyring(root_key, state)? {
                    Ok(keyring) => {
                        let tenant = keyring.tenant().map_err(|e| e.to_string())?;
                        let version = keyring.active_version().map_err(|e| e.to_string())?;
                        Ok(json!({"ok": {"tenant": tenant, "activeVersion": version}}).to_string())
                    }
                    Err(answer) => Ok(answer),
                }
            }
            "encryptField" => on_keyring!(encrypt_field_json),
            "decryptField" => on_keyring!(decrypt_field_json),
            "needsRewrap" => on_keyring!(needs_rewrap_json),
            "rewrap" => on_keyring!(rewrap_json),
            "blindIndex" => on_keyring!(blind_index_json),
            "encryptRecord" => on_keyring!(encrypt_record_json),
            "decryptRecord" => on_keyring!(decrypt_record_json),
            "auditAppend" | "auditVerify" => {
                let key = case
                    .audit_key
                    .as_deref()
                    .ok_or("the case names no auditKey")?;
                if case.op == "auditAppend" {
                    answer_text(rt.audit_append_json(key, req))
                } else {
                    answer_text(rt.audit_verify_json(key, req))
                }
            }
            "parseApiKey" => answer_text(rt.parse_api_key_json(req)),
            "verifyApiKey" => answer_text(rt.verify_api_key_json(req)),
            "verifyTokenWithJwks" => answer_text(rt.verify_token_with_jwks_json(req)),
            "signWebhook" => answer_text(rt.sign_webhook_json(req)),
            "verifyWebhook" => answer_text(rt.verify_webhook_json(req)),
            other => Err(format!("unknown op {other:?}")),
        }
    }
}

impl Runtime for Wasmtime {
    fn name(&self) -> &'static str {
        "wasmtime"
    }

    fn answer(&mut self, file: &CaseFile, case: &Case) -> Result<Value, String> {
        let nonces: Vec<u8> = case.nonce_bytes()?.concat();
        self.random.clear();
        self.queued = false;
        let answer = self.call(file, case, &nonces);
        let unused = if self.queued {
            self.random.clear()
        } else {
            nonces.len()
        };
        if unused > 0 {
            return Err(format!(
                "{} of the case's {} nonces were not drawn",
                unused.div_ceil(12),
                nonces.len() / 12
            ));
        }
        serde_json::from_str(&answer?).map_err(|err| format!("answer is not JSON: {err}"))
    }
}

#[test]
fn every_case_matches_the_component() {
    if let Err(failures) = phylax_conformance::run_and_report(&mut Wasmtime::new()) {
        panic!("{failures}");
    }
}
