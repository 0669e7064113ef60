//! The conformance cases through the native core's JSON calls.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should stop the test"
)]

use std::collections::BTreeMap;

use phylax_conformance::{Case, CaseFile, EngineSource, Runtime};
use phylax_core::audit::{calls as audit, AuditKey};
use phylax_core::calls::parse_request;
use phylax_core::crypto::{calls as crypto, with_fixed_nonces, Keyring, RootKey};
use phylax_core::identity::calls as identity;
use phylax_core::policy::calls::{
    authorize_batch_json, authorize_json, build_engine_json, call_json, engine_info,
    load_bundle_json, plan_resources_json, plan_to_sql_json, readable_fields_json,
    validate_policies, verify_bundle, ValidateRequest,
};
use phylax_core::policy::Engine;
use phylax_core::webhook::calls as webhook;
use phylax_core::{Answer, Diagnostic, ErrorBody};
use serde::Deserialize;
use serde_json::{json, Value};

/// The core linked into this test, engines cached per file and fixture.
#[derive(Default)]
struct Native {
    engines: BTreeMap<(String, String), Result<Engine, String>>,
}

fn ok(value: &impl serde::Serialize) -> String {
    Answer::Ok(value).to_json()
}

fn error(err: &impl Diagnostic) -> String {
    Answer::<()>::Error(ErrorBody::from_diagnostic(err)).to_json()
}

/// `openKeyring`'s request: not a core type, the two arguments of `Keyring::open`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpenKeyring {
    root_key: String,
    state: Value,
}

fn open_keyring(root_key: &str, state: &Value) -> Result<Keyring, String> {
    let root = RootKey::parse(root_key).map_err(|err| error(&err))?;
    Keyring::open_json(&state.to_string(), &root).map_err(|err| error(&err))
}

impl Native {
    fn engine(&mut self, file: &CaseFile, case: &Case) -> Result<&Engine, String> {
        let key = file.engine_key(case)?;
        if !self.engines.contains_key(&key) {
            let built = match file.engine_for(case)? {
                EngineSource::Spec(spec) => build_engine_json(&spec),
                EngineSource::Bundle(request) => load_bundle_json(&request),
            };
            self.engines.insert(key.clone(), built);
        }
        let built = self.engines.get(&key).ok_or("engine cache")?;
        // A fixture the core refuses answers every case on it with that refusal.
        built.as_ref().map_err(Clone::clone)
    }

    fn keyring(file: &CaseFile, case: &Case) -> Result<Result<Keyring, String>, String> {
        let fixture = file.keyring_for(case)?;
        Ok(open_keyring(&fixture.root_key, &fixture.state))
    }

    fn call(&mut self, file: &CaseFile, case: &Case) -> Result<String, String> {
        let req = case.request.to_string();
        let req = req.as_str();
        macro_rules! on_keyring {
            ($call:path) => {
                match Self::keyring(file, case)? {
                    Ok(keyring) => call_json(req, |r| $call(&keyring, r)),
                    Err(answer) => answer,
                }
            };
        }
        let answer = match case.op.as_str() {
            "buildEngine" => build_engine_json(req).map_or_else(|e| e, |e| ok(&engine_info(&e))),
            "loadBundle" => load_bundle_json(req).map_or_else(|e| e, |e| ok(&engine_info(&e))),
            "verifyBundle" => call_json(req, verify_bundle),
            "validatePolicies" => match parse_request::<ValidateRequest>(req) {
                Ok(r) => ok(&validate_policies(&r)),
                Err(body) => Answer::<()>::Error(body).to_json(),
            },
            "authorize" => self
                .engine(file, case)
                .map_or_else(|e| e, |e| authorize_json(e, req)),
            "authorizeBatch" => self
                .engine(file, case)
                .map_or_else(|e| e, |e| authorize_batch_json(e, req)),
            "readableFields" => self
                .engine(file, case)
                .map_or_else(|e| e, |e| readable_fields_json(e, req)),
            "planResources" => self
                .engine(file, case)
                .map_or_else(|e| e, |e| plan_resources_json(e, req)),
            "planToSql" => plan_to_sql_json(req),
            "openKeyring" => match parse_request::<OpenKeyring>(req) {
                Ok(r) => match open_keyring(&r.root_key, &r.state) {
                    Ok(k) => {
                        ok(&json!({"tenant": k.tenant(), "activeVersion": k.active_version()}))
                    }
                    Err(answer) => answer,
                },
                Err(body) => Answer::<()>::Error(body).to_json(),
            },
            "encryptField" => on_keyring!(crypto::encrypt_field),
            "decryptField" => on_keyring!(crypto::decrypt_field),
            "needsRewrap" => on_keyring!(crypto::needs_rewrap),
            "rewrap" => on_keyring!(crypto::rewrap),
            "blindIndex" => on_keyring!(crypto::blind_index),
            "encryptRecord" => on_keyring!(crypto::encrypt_record),
            "decryptRecord" => on_keyring!(crypto::decrypt_record),
            "auditAppend" | "auditVerify" => {
                let key = case
                    .audit_key
                    .as_deref()
                    .ok_or("the case names no auditKey")?;
                match AuditKey::parse(key) {
                    Ok(key) if case.op == "auditAppend" => {
                        call_json(req, |r| audit::append(&key, r))
                    }
                    Ok(key) => call_json(req, |r| audit::verify(&key, r)),
                    Err(err) => error(&err),
                }
            }
            "parseApiKey" => call_json(req, identity::parse_api_key),
            "verifyApiKey" => call_json(req, identity::verify_api_key),
            "verifyTokenWithJwks" => call_json(req, identity::verify_token_with_jwks),
            "signWebhook" => call_json(req, webhook::sign),
            "verifyWebhook" => call_json(req, webhook::verify),
            other => return Err(format!("unknown op {other:?}")),
        };
        Ok(answer)
    }
}

impl Runtime for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn answer(&mut self, file: &CaseFile, case: &Case) -> Result<Value, String> {
        let nonces = case.nonce_bytes()?;
        let (answer, unused) = with_fixed_nonces(&nonces, || self.call(file, case));
        if unused > 0 {
            return Err(format!(
                "{unused} of the case's {} nonces were not drawn",
                nonces.len()
            ));
        }
        serde_json::from_str(&answer?).map_err(|err| format!("answer is not JSON: {err}"))
    }
}

#[test]
fn every_case_matches_the_native_core() {
    if let Err(failures) = phylax_conformance::run_and_report(&mut Native::default()) {
        panic!("{failures}");
    }
}
