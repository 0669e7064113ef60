//! Wycheproof and RFC vectors for HMAC-SHA256 (RFC 4231) and HKDF-SHA256 (RFC 5869),
//! through the wrappers every Phylax subkey, blind index and MAC goes through.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests and benches fail loudly"
)]

mod common;

use common::manifest_dir;
use hmac::Mac;
use phylax_core::crypto::kdf::{hkdf_sha256, hmac_sha256};
use serde_json::Value;

fn load(path: &str) -> Value {
    let full = format!("{}/tests/data/{path}", manifest_dir());
    serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap()
}

fn hex(t: &Value, key: &str) -> Vec<u8> {
    hex::decode(t[key].as_str().unwrap()).unwrap()
}

fn mac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = hmac_sha256(key);
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

#[test]
fn wycheproof_hmac_sha256() {
    let doc = load("wycheproof/hmac_sha256_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        let tag_len = group["tagSize"].as_u64().unwrap() as usize / 8;
        for t in group["tests"].as_array().unwrap() {
            let computed = mac(&hex(t, "key"), &hex(t, "msg"));
            let matches = computed[..tag_len] == hex(t, "tag")[..];
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert!(matches, "tc {}", t["tcId"]);
                    valid += 1;
                }
                "invalid" => {
                    assert!(!matches, "tc {}", t["tcId"]);
                    invalid += 1;
                }
                other => panic!("unexpected result {other}"),
            }
        }
    }
    assert_eq!(valid + invalid, 174);
    assert!(invalid > 0);
}

#[test]
fn rfc4231_hmac_sha256() {
    let doc = load("rfc/rfc4231_hmac_sha256.json");
    let tests = doc["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 7);
    for t in tests {
        assert_eq!(
            mac(&hex(t, "key"), &hex(t, "msg")),
            hex(t, "tag"),
            "tc {}",
            t["tcId"]
        );
    }
}

#[test]
fn wycheproof_hkdf_sha256() {
    let doc = load("wycheproof/hkdf_sha256_test.json");
    let mut count = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        for t in group["tests"].as_array().unwrap() {
            let size = t["size"].as_u64().unwrap() as usize;
            let mut out = vec![0u8; size];
            let result = hkdf_sha256(&hex(t, "ikm"), &hex(t, "salt"), &hex(t, "info"), &mut out);
            match t["result"].as_str().unwrap() {
                "valid" => assert_eq!(out, hex(t, "okm"), "tc {}", t["tcId"]),
                "invalid" => assert!(result.is_err(), "tc {} must fail", t["tcId"]),
                other => panic!("unexpected result {other}"),
            }
            count += 1;
        }
    }
    assert_eq!(count, 86);
}

#[test]
fn rfc5869_hkdf_sha256() {
    let doc = load("rfc/rfc5869_hkdf_sha256.json");
    let tests = doc["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 3);
    for t in tests {
        let okm = hex(t, "okm");
        let mut out = vec![0u8; okm.len()];
        hkdf_sha256(&hex(t, "ikm"), &hex(t, "salt"), &hex(t, "info"), &mut out).unwrap();
        assert_eq!(out, okm, "tc {}", t["tcId"]);
    }
}
