//! The component answers policy calls byte for byte as the native core does: the whole
//! healthcare-pack decision table, batches, field reads, bundles, and bad input (which
//! must come back as the same error answer, never a trap).
//!
//! Needs the component built first:
//! `cargo build -p phylax-component --target wasm32-wasip2 --release`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::sync::Arc;

use phylax_core::policy::bundle::{Bundle, BundleSigningKey};
use phylax_core::policy::calls::{
    authorize_batch_json, authorize_json, build_engine_json, call_json, load_bundle_json,
    readable_fields_json, validate_policies, verify_bundle, ValidateRequest, VerifyBundleRequest,
};
use phylax_core::policy::{EngineSpec, PolicyFile};
use phylax_core::{calls::parse_request, Answer};
use phylax_engine_wasm::{Error, WasmEngine};
use serde_json::{json, Value};

use common::{cases, pack_spec_json, runtime};

/// Asserts two answers are the same, byte for byte.
fn assert_same_answer(got: &str, want: &str) {
    assert_eq!(got, want, "answers differ");
}

/// Native `validatePolicies` on JSON text, as the component answers it.
fn native_validate(json: &str) -> String {
    match parse_request::<ValidateRequest>(json) {
        Ok(req) => serde_json::to_string(&validate_policies(&req)).unwrap(),
        Err(body) => Answer::<()>::Error(body).to_json(),
    }
}

#[test]
fn pack_table_is_byte_identical() {
    let cases = cases();
    let spec = pack_spec_json(&cases);
    let native = build_engine_json(&spec).unwrap();
    let wasm = WasmEngine::from_spec_json(runtime(), &spec).unwrap();
    assert_eq!(wasm.bundle_hash(), native.bundle_hash());
    assert_eq!(
        wasm.info_json().unwrap(),
        format!(r#"{{"bundleHash":"{}"}}"#, native.bundle_hash())
    );

    let list = cases["cases"].as_array().unwrap();
    assert_eq!(list.len(), 7 * 13 * 2 * 2 * 2 * 2);
    let mut allowed = 0;
    for case in list {
        let request = case["request"].to_string();
        let want = authorize_json(&native, &request);
        let got = wasm.authorize_json(&request).unwrap();
        assert_eq!(got, want, "{}", case["name"]);
        // And the table's expectation, so a shared regression cannot hide.
        let answer: Value = serde_json::from_str(&got).unwrap();
        assert_eq!(
            answer["ok"]["decision"], case["decision"],
            "{}",
            case["name"]
        );
        if case["decision"] == "allow" {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 208);
}

#[test]
fn batches_and_field_reads_are_byte_identical() {
    let cases = cases();
    let spec = pack_spec_json(&cases);
    let native = build_engine_json(&spec).unwrap();
    let wasm = WasmEngine::from_spec_json(runtime(), &spec).unwrap();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap().iter().step_by(7) {
        let r = &case["request"];
        let batch = json!({
            "principal": r["principal"], "context": r["context"], "entities": r["entities"],
            "items": [
                {"action": r["action"], "resource": r["resource"]},
                {"action": {"type": "Action", "id": "export"}, "resource": r["resource"]},
                {"action": {"type": "Action", "id": "view"}, "resource": r["resource"], "context": {"mfa": false}},
            ],
        })
        .to_string();
        assert_eq!(
            wasm.authorize_batch_json(&batch).unwrap(),
            authorize_batch_json(&native, &batch),
            "batch of {}",
            case["name"]
        );
        let fields = json!({
            "principal": r["principal"], "resource": r["resource"], "context": r["context"],
            "entities": r["entities"], "fields": ["/name", "/diagnosis"],
        })
        .to_string();
        let got = wasm.readable_fields_json(&fields).unwrap();
        assert_eq!(
            got,
            readable_fields_json(&native, &fields),
            "fields of {}",
            case["name"]
        );
        if r["resource"]["type"] == "Record" {
            assert!(got.starts_with(r#"{"ok":"#), "{got}");
        }
        checked += 1;
    }
    assert_eq!(checked, 1456_usize.div_ceil(7));
}

#[test]
fn signed_bundles_load_and_tampering_is_refused_alike() {
    let cases = cases();
    let spec: EngineSpec = serde_json::from_str(&pack_spec_json(&cases)).unwrap();
    let key = BundleSigningKey::generate().unwrap();
    let other = BundleSigningKey::generate().unwrap();
    let signed = key
        .sign(Bundle::new(spec, "2024.7", 1_720_000_000))
        .unwrap();

    let load = json!({"bundle": signed, "publicKey": key.public_key().to_string()}).to_string();
    let native = load_bundle_json(&load).unwrap();
    let wasm = WasmEngine::from_bundle_json(runtime(), &load).unwrap();
    assert_eq!(wasm.bundle_hash(), signed.hash);
    for case in cases["cases"].as_array().unwrap().iter().step_by(13) {
        let request = case["request"].to_string();
        assert_eq!(
            wasm.authorize_json(&request).unwrap(),
            authorize_json(&native, &request)
        );
    }

    // verifyBundle, good and bad.
    let verify = json!({"bundle": signed, "publicKey": key.public_key().to_string()}).to_string();
    let want = call_json(&verify, |r: &VerifyBundleRequest| verify_bundle(r));
    assert_eq!(runtime().verify_bundle_json(&verify).unwrap(), want);
    assert!(want.contains(r#""version":"2024.7""#), "{want}");

    // A policy slipped in after signing; signed by someone else; garbage signature;
    // not a bundle at all; a malformed public key.
    let mut tampered = signed.clone();
    tampered.bundle.platform_policies.push(PolicyFile::new(
        "evil.cedar",
        "permit (principal, action, resource);",
    ));
    let mut garbage = signed.clone();
    garbage.signature = "!!".to_owned();
    let bad_loads = [
        json!({"bundle": tampered, "publicKey": key.public_key().to_string()}).to_string(),
        json!({"bundle": signed, "publicKey": other.public_key().to_string()}).to_string(),
        json!({"bundle": garbage, "publicKey": key.public_key().to_string()}).to_string(),
        json!({"bundle": {}, "publicKey": key.public_key().to_string()}).to_string(),
        json!({"bundle": signed, "publicKey": "abc"}).to_string(),
        "{".to_owned(),
    ];
    let mut codes = Vec::new();
    for load in &bad_loads {
        let want = load_bundle_json(load).unwrap_err();
        match WasmEngine::from_bundle_json(runtime(), load) {
            Err(Error::Rejected(got)) => assert_eq!(got, want),
            other => panic!("expected a rejection like {want}, got {other:?}"),
        }
        let verify = call_json(load, |r: &VerifyBundleRequest| verify_bundle(r));
        assert_eq!(runtime().verify_bundle_json(load).unwrap(), verify);
        let answer: Value = serde_json::from_str(&want).unwrap();
        codes.push(answer["error"]["code"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        codes,
        [
            "policy.bundle_tampered",
            "policy.bundle_signature_invalid",
            "policy.bundle_malformed",
            "request.malformed",
            "policy.invalid_key",
            "request.malformed"
        ]
    );
}

#[test]
fn bad_requests_answer_the_same_errors_and_never_trap() {
    let cases = cases();
    let spec = pack_spec_json(&cases);
    let native = build_engine_json(&spec).unwrap();
    let wasm = WasmEngine::from_spec_json(runtime(), &spec)
        .unwrap()
        .with_pool_size(1);
    let good = cases["cases"][1]["request"].to_string();
    let good_answer = authorize_json(&native, &good);

    let mut unknown_type = cases["cases"][1]["request"].clone();
    unknown_type["principal"] = json!({"type": "Robot", "id": "r2d2"});
    let mut unknown_field = cases["cases"][1]["request"].clone();
    unknown_field["colour"] = json!("blue");
    let mut unknown_action = cases["cases"][1]["request"].clone();
    unknown_action["action"] = json!({"type": "Action", "id": "teleport"});
    let mut bad_context = cases["cases"][1]["request"].clone();
    bad_context["context"] = json!({"mfa": "yes"});
    let mut bad_entity = cases["cases"][1]["request"].clone();
    bad_entity["entities"] = json!([{"uid": {"type": "User"}, "attrs": {}, "parents": []}]);
    let bad = [
        String::new(),
        "{".to_owned(),
        "null".to_owned(),
        "[]".to_owned(),
        "\u{0}\u{ffff}".to_owned(),
        "{}".to_owned(),
        unknown_type.to_string(),
        unknown_field.to_string(),
        unknown_action.to_string(),
        bad_context.to_string(),
        bad_entity.to_string(),
        "x".repeat(100_000),
    ];
    for request in &bad {
        let want = authorize_json(&native, request);
        assert!(want.starts_with(r#"{"error":"#), "{want}");
        assert_eq!(wasm.authorize_json(request).unwrap(), want);
        assert_eq!(
            wasm.authorize_batch_json(request).unwrap(),
            authorize_batch_json(&native, request)
        );
        assert_eq!(
            wasm.readable_fields_json(request).unwrap(),
            readable_fields_json(&native, request)
        );
        // Still the same instance, still answering.
        assert_eq!(wasm.authorize_json(&good).unwrap(), good_answer);
    }
    assert_eq!(wasm.instances_built(), 1);

    // Engines that cannot be built: the same error answer as native.
    let mut spec_value: Value = serde_json::from_str(&spec).unwrap();
    spec_value["platformPolicies"][0]["text"] =
        json!("permit (principal, action, resource) when { principal.nope };");
    let mut syntax = spec_value.clone();
    syntax["platformPolicies"][0]["text"] = json!("permit (principal,");
    let mut bad_schema = spec_value.clone();
    bad_schema["schema"] = json!("entity ;");
    let specs = [
        "{".to_owned(),
        "{}".to_owned(),
        spec_value.to_string(),
        syntax.to_string(),
        bad_schema.to_string(),
    ];
    for spec in &specs {
        let want = build_engine_json(spec).unwrap_err();
        match WasmEngine::from_spec_json(runtime(), spec) {
            Err(Error::Rejected(got)) => assert_same_answer(&got, &want),
            other => panic!("expected a rejection like {want}, got {other:?}"),
        }
        // validatePolicies on the same text.
        let validate = match serde_json::from_str::<Value>(spec) {
            Ok(v) if v.get("schema").is_some() => json!({
                "schema": v["schema"], "policies": v["platformPolicies"],
            })
            .to_string(),
            _ => spec.clone(),
        };
        assert_same_answer(
            &runtime().validate_policies_json(&validate).unwrap(),
            &native_validate(&validate),
        );
    }
}

#[test]
fn one_engine_answers_many_threads() {
    let cases = Arc::new(cases());
    let spec = pack_spec_json(&cases);
    let native = Arc::new(build_engine_json(&spec).unwrap());
    let wasm = Arc::new(
        WasmEngine::from_spec_json(runtime(), &spec)
            .unwrap()
            .with_pool_size(3),
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (cases, native, wasm) = (cases.clone(), native.clone(), wasm.clone());
            std::thread::spawn(move || {
                for case in cases["cases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .skip(t)
                    .step_by(11)
                {
                    let request = case["request"].to_string();
                    assert_eq!(
                        wasm.authorize_json(&request).unwrap(),
                        authorize_json(&native, &request)
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let built = wasm.instances_built();
    assert!((1..=3).contains(&built), "{built} instances");
}
