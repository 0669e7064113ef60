//! Webhook signatures: HMAC vectors (RFC 4231, Wycheproof), replay window, tampering,
//! wrong and rotated secrets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests should fail loudly"
)]

mod common;

use common::manifest_dir;
use hmac::Mac;
use phylax_core::crypto::kdf::hmac_sha256;
use phylax_core::webhook::{self, calls, WebhookError, WebhookSecret};
use phylax_core::Diagnostic;
use serde_json::Value;

const PAYLOAD: &[u8] = br#"{"id":"evt_1","type":"patient.updated"}"#;
const T: u64 = 1_700_000_000;

fn secret(text: &str) -> WebhookSecret {
    WebhookSecret::new(text).unwrap()
}

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(format!("{}/tests/data/{path}", manifest_dir())).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn tag(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = hmac_sha256(key);
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

#[test]
fn rfc4231_vectors_pass() {
    let vectors = load("rfc/rfc4231_hmac_sha256.json");
    let tests = vectors["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 7);
    for case in tests {
        let key = hex::decode(case["key"].as_str().unwrap()).unwrap();
        let msg = hex::decode(case["msg"].as_str().unwrap()).unwrap();
        let expected = hex::decode(case["tag"].as_str().unwrap()).unwrap();
        assert_eq!(tag(&key, &msg), expected, "RFC 4231 case {}", case["tcId"]);
    }
}

#[test]
fn wycheproof_vectors_pass() {
    let vectors = load("wycheproof/hmac_sha256_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in vectors["testGroups"].as_array().unwrap() {
        let tag_bytes = usize::try_from(group["tagSize"].as_u64().unwrap() / 8).unwrap();
        for case in group["tests"].as_array().unwrap() {
            let key = hex::decode(case["key"].as_str().unwrap()).unwrap();
            let msg = hex::decode(case["msg"].as_str().unwrap()).unwrap();
            let expected = hex::decode(case["tag"].as_str().unwrap()).unwrap();
            let computed = tag(&key, &msg);
            let matches = expected.len() == tag_bytes && computed[..tag_bytes] == expected[..];
            match case["result"].as_str().unwrap() {
                "valid" => {
                    assert!(matches, "Wycheproof tcId {} should verify", case["tcId"]);
                    valid += 1;
                }
                "invalid" => {
                    assert!(!matches, "Wycheproof tcId {} should fail", case["tcId"]);
                    invalid += 1;
                }
                other => panic!("unexpected result {other}"),
            }
        }
    }
    assert_eq!(valid + invalid, vectors["numberOfTests"].as_u64().unwrap());
    assert!(valid > 0 && invalid > 0);
}

#[test]
fn the_header_matches_an_independent_implementation() {
    // Python: hmac.new(b"whsec_test_secret", b"1700000000." + payload, sha256).hexdigest()
    let header = webhook::sign(&[secret("whsec_test_secret")], T, PAYLOAD).unwrap();
    assert_eq!(
        header,
        "t=1700000000,v1=dfda14f117b8ea36df8053dbbf288652cf72a56ae29320829d30839256820707"
    );
}

#[test]
fn a_signed_webhook_verifies_within_the_tolerance() {
    let s = secret("whsec_current");
    let header = webhook::sign(std::slice::from_ref(&s), T, PAYLOAD).unwrap();
    for now in [T, T + 300, T - 300, T + 1] {
        let ok = webhook::verify(&header, PAYLOAD, std::slice::from_ref(&s), now, 300).unwrap();
        assert_eq!(ok.timestamp, T);
        assert_eq!(ok.secret_index, 0);
    }
}

#[test]
fn a_replay_after_the_window_is_too_old_and_a_future_stamp_too_new() {
    let s = secret("whsec_current");
    let header = webhook::sign(std::slice::from_ref(&s), T, PAYLOAD).unwrap();
    let err =
        webhook::verify(&header, PAYLOAD, std::slice::from_ref(&s), T + 301, 300).unwrap_err();
    assert_eq!(
        err,
        WebhookError::TooOld {
            timestamp: T,
            now: T + 301,
            tolerance: 300
        }
    );
    assert_eq!(err.code(), "webhook.too_old");
    let err = webhook::verify(&header, PAYLOAD, &[s], T - 301, 300).unwrap_err();
    assert_eq!(err.code(), "webhook.too_new");
}

#[test]
fn a_tampered_payload_or_timestamp_fails() {
    let s = secret("whsec_current");
    let header = webhook::sign(std::slice::from_ref(&s), T, PAYLOAD).unwrap();
    let mut tampered = PAYLOAD.to_vec();
    tampered[10] ^= 1;
    let err = webhook::verify(&header, &tampered, std::slice::from_ref(&s), T, 300).unwrap_err();
    assert_eq!(err, WebhookError::SignatureMismatch);
    assert_eq!(err.code(), "webhook.signature_mismatch");

    // Moving the timestamp forward to dodge the replay window breaks the signature.
    let moved = header.replace("t=1700000000", "t=1700000900");
    assert_eq!(
        webhook::verify(&moved, PAYLOAD, std::slice::from_ref(&s), T + 900, 300).unwrap_err(),
        WebhookError::SignatureMismatch
    );
    // A forged old request is a mismatch, not "too old": timing errors only for genuine ones.
    let forged = format!("t={},v1={}", T - 10_000, "ab".repeat(32));
    assert_eq!(
        webhook::verify(&forged, PAYLOAD, &[s], T, 300).unwrap_err(),
        WebhookError::SignatureMismatch
    );
}

#[test]
fn a_wrong_secret_fails() {
    let header = webhook::sign(&[secret("whsec_sender")], T, PAYLOAD).unwrap();
    assert_eq!(
        webhook::verify(&header, PAYLOAD, &[secret("whsec_receiver")], T, 300).unwrap_err(),
        WebhookError::SignatureMismatch
    );
}

#[test]
fn rotation_works_with_several_signatures_and_several_secrets() {
    let old = secret("whsec_old");
    let new = secret("whsec_new");
    // During the rotation the sender signs with both.
    let both = webhook::sign(&[new.clone(), old.clone()], T, PAYLOAD).unwrap();
    assert_eq!(both.matches(",v1=").count(), 2);
    // A receiver that still has only the old secret, or already only the new one: both fine.
    assert!(webhook::verify(&both, PAYLOAD, std::slice::from_ref(&old), T, 300).is_ok());
    assert!(webhook::verify(&both, PAYLOAD, std::slice::from_ref(&new), T, 300).is_ok());

    // A receiver holding both secrets learns which one the sender used.
    let old_only = webhook::sign(std::slice::from_ref(&old), T, PAYLOAD).unwrap();
    let ok = webhook::verify(&old_only, PAYLOAD, &[new.clone(), old.clone()], T, 300).unwrap();
    assert_eq!(ok.secret_index, 1);
    // Once the old secret is retired, its signatures stop verifying.
    assert_eq!(
        webhook::verify(&old_only, PAYLOAD, &[new], T, 300).unwrap_err(),
        WebhookError::SignatureMismatch
    );
}

#[test]
fn malformed_headers_are_refused_with_clear_codes() {
    let s = [secret("whsec_x")];
    let good_sig = "ab".repeat(32);
    let cases = [
        ("", "webhook.malformed_header"),
        ("garbage", "webhook.malformed_header"),
        (
            &format!("v1={good_sig}") as &str,
            "webhook.malformed_header",
        ),
        ("t=1700000000", "webhook.no_signature"),
        ("t=1700000000,v0=abc", "webhook.no_signature"),
        (&format!("t=-5,v1={good_sig}"), "webhook.malformed_header"),
        (
            &format!("t=01700000000,v1={good_sig}"),
            "webhook.malformed_header",
        ),
        (
            &format!("t=1,t=2,v1={good_sig}"),
            "webhook.malformed_header",
        ),
        ("t=1700000000,v1=xyz", "webhook.malformed_header"),
        (
            &format!("t=1700000000,v1={}", "ab".repeat(31)),
            "webhook.malformed_header",
        ),
    ];
    for (header, code) in cases {
        let err = webhook::verify(header, PAYLOAD, &s, T, 300).unwrap_err();
        assert_eq!(err.code(), code, "header {header:?}: {err}");
    }
    assert_eq!(
        webhook::verify("t=1,v1=00", PAYLOAD, &[], T, 300)
            .unwrap_err()
            .code(),
        "webhook.invalid_secret"
    );
    assert!(WebhookSecret::new("").is_err());
    // Unknown schemes beside v1 are ignored; whitespace after commas is tolerated.
    let header = webhook::sign(&s, T, PAYLOAD)
        .unwrap()
        .replace(",v1=", ", v0=zz, v1=");
    assert!(webhook::verify(&header, PAYLOAD, &s, T, 300).is_ok());
}

#[test]
fn generated_secrets_are_strong_and_hidden() {
    let (secret, text) = WebhookSecret::generate().unwrap();
    assert!(text.starts_with("whsec_"));
    assert_eq!(text.len(), 6 + 43);
    assert_eq!(format!("{secret:?}"), "WebhookSecret(..)");
    let (_, other) = WebhookSecret::generate().unwrap();
    assert_ne!(*text, *other);
}

#[test]
fn json_calls_sign_and_verify() {
    let sign: calls::SignRequest = phylax_core::calls::parse_request(
        r#"{"payload":"{\"id\":\"evt_1\"}","secrets":["whsec_a"],"timestamp":1700000000}"#,
    )
    .unwrap();
    let header = calls::sign(&sign).unwrap().header;
    let req = calls::VerifyRequest {
        header,
        payload: sign.payload.clone(),
        secrets: vec!["whsec_b".to_owned(), "whsec_a".to_owned()],
        now: T + 10,
        tolerance_seconds: 300,
    };
    let json: Value =
        serde_json::from_str(&phylax_core::Answer::from_result(calls::verify(&req)).to_json())
            .unwrap();
    assert_eq!(json["ok"]["timestamp"], T);
    assert_eq!(json["ok"]["secretIndex"], 1);

    let late = calls::VerifyRequest {
        now: T + 1_000,
        ..req
    };
    let json: Value =
        serde_json::from_str(&phylax_core::Answer::from_result(calls::verify(&late)).to_json())
            .unwrap();
    assert_eq!(json["error"]["code"], "webhook.too_old");
    assert!(json["error"]["hint"].as_str().unwrap().contains("replay"));
    // Default tolerance applies when omitted.
    let req: calls::VerifyRequest = phylax_core::calls::parse_request(
        r#"{"header":"t=1,v1=00","payload":"","secrets":["s"],"now":1}"#,
    )
    .unwrap();
    assert_eq!(req.tolerance_seconds, 300);
}
