//! API keys issued, rotated and revoked in the component are the keys the native core
//! verifies (the conformance cases cover the deterministic calls; these draw randomness).
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

use phylax_core::identity::calls::{self, VerifyApiKeyRequest};
use serde_json::{json, Value};

use common::runtime;

const NOW: u64 = 1_720_000_000;

fn ok(answer: &str) -> Value {
    let value: Value = serde_json::from_str(answer).unwrap();
    assert!(value.get("ok").is_some(), "{answer}");
    value["ok"].clone()
}

fn native_verify(api_key: &Value, record: &Value, now: u64) -> Result<Value, String> {
    let request: VerifyApiKeyRequest = serde_json::from_value(
        json!({"apiKey": api_key, "record": record, "now": now, "requiredScopes": ["patients:read"]}),
    )
    .unwrap();
    calls::verify_api_key(&request)
        .map(|verified| serde_json::to_value(verified).unwrap())
        .map_err(|err| phylax_core::Diagnostic::code(&err).to_owned())
}

#[test]
fn keys_issued_in_the_component_verify_natively_through_rotation_and_revocation() {
    let rt = runtime();
    let issued = ok(&rt
        .issue_api_key_json(
            &json!({"tenant": "acme", "scopes": ["patients:read"], "now": NOW}).to_string(),
        )
        .unwrap());
    let (key, record) = (&issued["apiKey"], &issued["record"]);
    assert_eq!(
        native_verify(key, record, NOW + 1).unwrap()["tenant"],
        "acme"
    );

    // Two issues never share a secret.
    let again = ok(&rt
        .issue_api_key_json(&json!({"tenant": "acme", "now": NOW}).to_string())
        .unwrap());
    assert_ne!(again["apiKey"], issued["apiKey"]);

    let rotated = ok(&rt
        .rotate_api_key_json(
            &json!({"record": record, "now": NOW + 10, "overlapSeconds": 60}).to_string(),
        )
        .unwrap());
    let (new_key, new_record, old_record) =
        (&rotated["apiKey"], &rotated["record"], &rotated["previous"]);
    assert!(native_verify(new_key, new_record, NOW + 11).is_ok());
    assert!(
        native_verify(key, old_record, NOW + 11).is_ok(),
        "inside the overlap"
    );
    assert_eq!(
        native_verify(key, old_record, NOW + 100),
        Err("api_key.superseded".to_owned())
    );

    let revoked = ok(&rt
        .revoke_api_key_json(&json!({"record": new_record, "now": NOW + 20}).to_string())
        .unwrap());
    assert_eq!(
        native_verify(new_key, &revoked["record"], NOW + 21),
        Err("api_key.revoked".to_owned())
    );
}
