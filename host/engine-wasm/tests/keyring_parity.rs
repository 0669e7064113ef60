//! Keyrings in the component interoperate with native ones: what one encrypts the other
//! decrypts, blind indexes agree, key management in one is seen by the other, and errors
//! are the same answers.
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

use phylax_core::crypto::calls::{
    self, BlindIndexRequest, DecryptFieldRequest, EncryptRecordRequest,
};
use phylax_core::crypto::{Keyring, RootKey};
use phylax_core::policy::calls::call_json;
use phylax_core::{Answer, ErrorBody};
use phylax_engine_wasm::{Error, WasmKeyring};
use serde_json::{json, Value};

use common::runtime;

const ROOT: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_ROOT: &str = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const NOW: u64 = 1_720_000_000;

fn ok(answer: &str) -> Value {
    let value: Value = serde_json::from_str(answer).unwrap();
    assert!(value.get("ok").is_some(), "{answer}");
    value["ok"].clone()
}

fn native_keyring(state: &str) -> Keyring {
    Keyring::open_json(state, &RootKey::parse(ROOT).unwrap()).unwrap()
}

#[test]
fn fields_round_trip_both_ways() {
    let native = Keyring::create("acme", &RootKey::parse(ROOT).unwrap(), NOW).unwrap();
    let wasm = WasmKeyring::open(runtime(), &native.to_json(), ROOT).unwrap();
    assert_eq!(wasm.tenant().unwrap(), "acme");
    assert_eq!(wasm.state_json().unwrap(), native.to_json());

    // Encrypt in the component, decrypt natively.
    let request =
        json!({"field": "patients.diagnosis", "recordId": "r1", "plaintext": "J45.909 asthma ✓"});
    let ciphertext = ok(&wasm.encrypt_field_json(&request.to_string()).unwrap())["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ciphertext.starts_with("phx1."));
    assert_eq!(
        native
            .decrypt_field_text("patients.diagnosis", "r1", &ciphertext)
            .unwrap()
            .to_string(),
        "J45.909 asthma ✓"
    );

    // Encrypt natively, decrypt in the component.
    let native_ct = native
        .encrypt_field("patients.note", "r2", "called back 14:05".as_bytes())
        .unwrap();
    let decrypt =
        json!({"field": "patients.note", "recordId": "r2", "ciphertext": native_ct}).to_string();
    assert_eq!(
        wasm.decrypt_field_json(&decrypt).unwrap(),
        call_json(&decrypt, |r: &DecryptFieldRequest| calls::decrypt_field(
            &native, r
        ))
    );
    assert_eq!(
        ok(&wasm.decrypt_field_json(&decrypt).unwrap())["plaintext"],
        "called back 14:05"
    );

    // Copied to another record or field, tampered, not a ciphertext: the same errors.
    let mut flipped = native_ct.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let bad = [
        json!({"field": "patients.note", "recordId": "r3", "ciphertext": native_ct}),
        json!({"field": "patients.other", "recordId": "r2", "ciphertext": native_ct}),
        json!({"field": "patients.note", "recordId": "r2", "ciphertext": String::from_utf8(flipped).unwrap()}),
        json!({"field": "patients.note", "recordId": "r2", "ciphertext": "phx1.!!"}),
        json!({"field": "patients.note", "recordId": "r2"}),
        json!("not an object"),
    ];
    for request in bad
        .iter()
        .map(Value::to_string)
        .chain(["{".to_owned(), String::new()])
    {
        let want = call_json(&request, |r: &DecryptFieldRequest| {
            calls::decrypt_field(&native, r)
        });
        assert!(want.starts_with(r#"{"error":"#), "{want}");
        assert_eq!(wasm.decrypt_field_json(&request).unwrap(), want);
        assert_eq!(
            wasm.rewrap_json(&request).unwrap(),
            call_json(&request, |r: &DecryptFieldRequest| calls::rewrap(
                &native, r
            ))
        );
        // Still answering.
        assert_eq!(
            ok(&wasm.decrypt_field_json(&decrypt).unwrap())["plaintext"],
            "called back 14:05"
        );
    }

    // Blind indexes are deterministic: identical text.
    for normalization in ["exact", "email", "digits", "casefold"] {
        let request = json!({"field": "patients.email", "value": " Ann@Example.org ",
            "index": {"normalization": normalization}, "allVersions": true})
        .to_string();
        assert_eq!(
            wasm.blind_index_json(&request).unwrap(),
            call_json(&request, |r: &BlindIndexRequest| calls::blind_index(
                &native, r
            ))
        );
    }
}

#[test]
fn records_and_rotation_cross_the_boundary() {
    // Created in the component: keys come from WASI randomness.
    let wasm = WasmKeyring::create(runtime(), "globex", ROOT, NOW).unwrap();
    let other = WasmKeyring::create(runtime(), "globex", ROOT, NOW).unwrap();
    assert_ne!(
        wasm.state_json().unwrap(),
        other.state_json().unwrap(),
        "random keys"
    );
    let native = native_keyring(&wasm.state_json().unwrap());

    let spec = json!({"name": "patients", "fields": [
        {"pointer": "/diagnosis"},
        {"pointer": "/email", "index": {"normalization": "email"}},
    ]});
    let record = json!({"name": "Ann", "diagnosis": "J45", "email": "ann@example.org"});
    let encrypt = json!({"spec": spec, "recordId": "p1", "record": record}).to_string();
    let encrypted = ok(&wasm.encrypt_record_json(&encrypt).unwrap());
    let native_encrypted = ok(&call_json(&encrypt, |r: &EncryptRecordRequest| {
        calls::encrypt_record(&native, r)
    }));
    // Random nonces differ; the blind indexes do not.
    assert_eq!(encrypted["indexes"], native_encrypted["indexes"]);
    assert_ne!(
        encrypted["record"]["diagnosis"],
        native_encrypted["record"]["diagnosis"]
    );

    // Each decrypts the other's record, whole or only the readable fields.
    for (record, decryptor) in [(&encrypted, "native"), (&native_encrypted, "wasm")] {
        for readable in [None, Some(json!(["/email"]))] {
            let mut decrypt = json!({"spec": spec, "recordId": "p1", "record": record["record"]});
            if let Some(readable) = &readable {
                decrypt["readable"] = readable.clone();
            }
            let decrypt = decrypt.to_string();
            let want = call_json(&decrypt, |r| calls::decrypt_record(&native, r));
            let got = wasm.decrypt_record_json(&decrypt).unwrap();
            assert_eq!(got, want, "{decryptor} {readable:?}");
            let got = ok(&got);
            assert_eq!(got["record"]["email"], "ann@example.org");
            assert_eq!(got["record"]["name"], "Ann");
            let diagnosis = if readable.is_some() {
                Value::Null
            } else {
                json!("J45")
            };
            assert_eq!(
                got["record"]
                    .get("diagnosis")
                    .cloned()
                    .unwrap_or(Value::Null),
                diagnosis
            );
        }
    }

    // Rotate in the component; the stored state opens natively and rewraps agree.
    let old = ok(&wasm
        .encrypt_field_json(
            &json!({"field": "patients.diagnosis", "recordId": "p1", "plaintext": "J45"})
                .to_string(),
        )
        .unwrap())["ciphertext"]
        .clone();
    assert_eq!(ok(&wasm.rotate(NOW + 60).unwrap()), json!(2));
    assert_eq!(wasm.active_version().unwrap(), 2);
    let native = native_keyring(&wasm.state_json().unwrap());
    assert_eq!(native.active_version(), 2);
    let field =
        json!({"field": "patients.diagnosis", "recordId": "p1", "ciphertext": old}).to_string();
    assert_eq!(
        ok(&wasm.needs_rewrap_json(&field).unwrap())["needsRewrap"],
        true
    );
    let rewrapped = ok(&wasm.rewrap_json(&field).unwrap())["ciphertext"].clone();
    let rewrapped = rewrapped.as_str().unwrap();
    assert!(!native.needs_rewrap(rewrapped).unwrap());
    assert_eq!(
        native
            .decrypt_field_text("patients.diagnosis", "p1", rewrapped)
            .unwrap()
            .to_string(),
        "J45"
    );
    assert_eq!(ok(&wasm.rotate_index_key(NOW + 61).unwrap()), json!(2));
    assert_eq!(ok(&wasm.retire(1).unwrap()), Value::Null);
    assert_eq!(
        wasm.retire(7).unwrap(),
        Answer::<()>::from_result(native_keyring(&wasm.state_json().unwrap()).retire(7)).to_json()
    );

    // Crypto-shredding in the component: the same error everywhere afterwards.
    assert_eq!(ok(&wasm.destroy(NOW + 120).unwrap()), Value::Null);
    let shredded = native_keyring(&wasm.state_json().unwrap());
    assert!(shredded.is_destroyed());
    let field = json!({"field": "patients.diagnosis", "recordId": "p1", "ciphertext": rewrapped})
        .to_string();
    let want = call_json(&field, |r: &DecryptFieldRequest| {
        calls::decrypt_field(&shredded, r)
    });
    assert!(want.contains("error"), "{want}");
    assert_eq!(wasm.decrypt_field_json(&field).unwrap(), want);
}

#[test]
fn bad_keys_and_states_are_refused_alike() {
    let state = Keyring::create("acme", &RootKey::parse(ROOT).unwrap(), NOW)
        .unwrap()
        .to_json();
    let native_error = |state: &str, root: &str| -> String {
        let result = RootKey::parse(root).and_then(|root| Keyring::open_json(state, &root));
        match result {
            Ok(_) => panic!("native opened it"),
            Err(err) => Answer::<()>::Error(ErrorBody::from_diagnostic(&err)).to_json(),
        }
    };
    for (state, root) in [
        (state.as_str(), OTHER_ROOT),
        (state.as_str(), "not a key"),
        (state.as_str(), ""),
        ("{", ROOT),
        ("{}", ROOT),
        ("", ROOT),
    ] {
        match WasmKeyring::open(runtime(), state, root) {
            Err(Error::Rejected(got)) => assert_eq!(got, native_error(state, root)),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
    match WasmKeyring::create(runtime(), "", ROOT, NOW) {
        Err(Error::Rejected(got)) => {
            let native = Keyring::create("", &RootKey::parse(ROOT).unwrap(), NOW).unwrap_err();
            assert_eq!(
                got,
                Answer::<()>::Error(ErrorBody::from_diagnostic(&native)).to_json()
            );
        }
        Ok(_) => {
            assert!(Keyring::create("", &RootKey::parse(ROOT).unwrap(), NOW).is_ok());
        }
        Err(other) => panic!("{other}"),
    }

    // The development key opens what it created, in both.
    let dev = RootKey::insecure_dev_key().unwrap();
    let state = Keyring::create("demo", &dev, NOW).unwrap().to_json();
    let wasm = WasmKeyring::open_with_insecure_dev_key(runtime(), &state).unwrap();
    assert_eq!(wasm.tenant().unwrap(), "demo");
}
