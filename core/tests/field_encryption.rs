//! Field encryption behaviour: round trips, tampering, moved ciphertexts, rotation,
//! rewrap, crypto-shredding, stored keyrings, blind indexes and record helpers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests and benches fail loudly"
)]

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use phylax_core::crypto::envelope::{self, OVERHEAD};
use phylax_core::crypto::{
    CryptoError, FieldSpec, IndexSpec, Keyring, KeyringState, Normalization, RecordSpec, RootKey,
    Secret32,
};
use phylax_core::Diagnostic;
use proptest::prelude::*;
use serde_json::{json, Value};

const NOW: u64 = 1_700_000_000;
const FIELD: &str = "patients.diagnosis";

fn root() -> RootKey {
    RootKey::parse("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap()
}

fn keyring(tenant: &str) -> Keyring {
    Keyring::create(tenant, &root(), NOW).unwrap()
}

fn code<T: std::fmt::Debug>(result: Result<T, CryptoError>) -> &'static str {
    result.unwrap_err().code()
}

#[test]
fn round_trip_text_and_binary() {
    let k = keyring("acme");
    let ct = k.encrypt_field(FIELD, "p1", b"asthma").unwrap();
    assert!(ct.starts_with("phx1."));
    assert_eq!(&k.decrypt_field(FIELD, "p1", &ct).unwrap()[..], b"asthma");
    let bin = k.encrypt_field_bytes(FIELD, "p1", b"asthma").unwrap();
    assert_eq!(bin.len(), 6 + OVERHEAD);
    assert_eq!(
        &k.decrypt_field_bytes(FIELD, "p1", &bin).unwrap()[..],
        b"asthma"
    );
    // Two encryptions of one value differ (random nonce).
    assert_ne!(ct, k.encrypt_field(FIELD, "p1", b"asthma").unwrap());
    // Empty values and empty record ids are fine.
    let empty = k.encrypt_field(FIELD, "", b"").unwrap();
    assert!(k.decrypt_field(FIELD, "", &empty).unwrap().is_empty());
}

#[test]
fn overhead_is_34_bytes() {
    assert_eq!(OVERHEAD, 34);
    let k = keyring("acme");
    for len in [0, 1, 32, 256, 4096] {
        assert_eq!(
            k.encrypt_field_bytes(FIELD, "r", &vec![1; len])
                .unwrap()
                .len(),
            len + 34
        );
    }
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let k = keyring("acme");
    let ct = k
        .encrypt_field_bytes(FIELD, "p1", b"a sample of PHI, 32 bytes long..")
        .unwrap();
    for byte in 0..ct.len() {
        for bit in 0..8 {
            let mut bad = ct.clone();
            bad[byte] ^= 1 << bit;
            let err = k.decrypt_field_bytes(FIELD, "p1", &bad).unwrap_err();
            if byte >= envelope::HEADER_LEN {
                // nonce, body and tag: authentication fails, opaquely
                assert_eq!(err, CryptoError::DecryptFailed, "byte {byte} bit {bit}");
            } else {
                // header: unsupported version/algorithm, unknown key version, or failed tag
                assert!(
                    matches!(
                        err,
                        CryptoError::MalformedCiphertext { .. }
                            | CryptoError::UnknownKeyVersion { .. }
                            | CryptoError::DecryptFailed
                    ),
                    "byte {byte} bit {bit}: {err:?}"
                );
            }
            // The text form rejects it the same way.
            let text = envelope::encode_text(&bad);
            assert!(k.decrypt_field(FIELD, "p1", &text).is_err());
        }
    }
}

#[test]
fn header_key_version_is_authenticated() {
    // With versions 1 and 2 both held, relabelling a v1 ciphertext as v2 must not open.
    let mut k = keyring("acme");
    let ct = k.encrypt_field_bytes(FIELD, "p1", b"x").unwrap();
    k.rotate(&root(), NOW + 1).unwrap();
    let mut relabelled = ct.clone();
    relabelled[5] = 2;
    assert_eq!(
        k.decrypt_field_bytes(FIELD, "p1", &relabelled),
        Err(CryptoError::DecryptFailed)
    );
}

#[test]
fn moved_ciphertexts_are_rejected() {
    let a = keyring("tenant-a");
    let b = keyring("tenant-b");
    let ct = a.encrypt_field(FIELD, "p1", b"secret").unwrap();
    assert_eq!(
        a.decrypt_field(FIELD, "p2", &ct),
        Err(CryptoError::DecryptFailed),
        "other record"
    );
    assert_eq!(
        a.decrypt_field("patients.notes", "p1", &ct),
        Err(CryptoError::DecryptFailed),
        "other field"
    );
    assert_eq!(
        b.decrypt_field(FIELD, "p1", &ct),
        Err(CryptoError::DecryptFailed),
        "other tenant"
    );
    // Framing: ("ab","c") and ("a","bc") are different places.
    let framed = a.encrypt_field("ab", "c", b"v").unwrap();
    assert_eq!(
        a.decrypt_field("a", "bc", &framed),
        Err(CryptoError::DecryptFailed)
    );
}

#[test]
fn garbage_and_truncation_give_clear_errors() {
    let k = keyring("acme");
    let ct = k.encrypt_field(FIELD, "p1", b"value").unwrap();
    for end in 0..ct.len() {
        let err = k.decrypt_field(FIELD, "p1", &ct[..end]).unwrap_err();
        assert!(
            matches!(
                err,
                CryptoError::MalformedCiphertext { .. } | CryptoError::DecryptFailed
            ),
            "prefix of {end}: {err:?}"
        );
    }
    for garbage in [
        "",
        "phx1.",
        "phx1.!!!!",
        "phx2.AQEAAAAB",
        "hello",
        "phx1.AAAAAAAA",
        "phx1.AQIAAAAB",
    ] {
        assert_eq!(
            code(k.decrypt_field(FIELD, "p1", garbage)),
            "crypto.malformed_ciphertext",
            "{garbage:?}"
        );
        assert!(k.needs_rewrap(garbage).is_err());
    }
    assert_eq!(code(k.encrypt_field("", "p1", b"x")), "crypto.invalid_name");
    assert_eq!(
        code(k.encrypt_field(&"f".repeat(1025), "p1", b"x")),
        "crypto.invalid_name"
    );
}

#[test]
fn rotate_then_rewrap_then_retire() {
    let mut k = keyring("acme");
    let v1 = k.encrypt_field(FIELD, "p1", b"old").unwrap();
    assert!(!k.needs_rewrap(&v1).unwrap());
    assert_eq!(k.rotate(&root(), NOW + 10).unwrap(), 2);
    assert_eq!(k.active_version(), 2);
    assert!(k.needs_rewrap(&v1).unwrap());
    assert_eq!(&k.decrypt_field(FIELD, "p1", &v1).unwrap()[..], b"old");
    let v2 = k.rewrap(FIELD, "p1", &v1).unwrap();
    assert_ne!(v1, v2);
    assert!(!k.needs_rewrap(&v2).unwrap());
    assert_eq!(&k.decrypt_field(FIELD, "p1", &v2).unwrap()[..], b"old");
    // Rewrapping a current value is a no-op.
    assert_eq!(k.rewrap(FIELD, "p1", &v2).unwrap(), v2);
    // Rewrap still checks the binding of the old value.
    assert_eq!(k.rewrap(FIELD, "p2", &v1), Err(CryptoError::DecryptFailed));
    // Retire v1: v1 ciphertexts now name a missing version.
    assert_eq!(
        code(k.retire(2)),
        "crypto.invalid_keyring",
        "the active version stays"
    );
    k.retire(1).unwrap();
    assert_eq!(
        code(k.decrypt_field(FIELD, "p1", &v1)),
        "crypto.unknown_key_version"
    );
    assert_eq!(&k.decrypt_field(FIELD, "p1", &v2).unwrap()[..], b"old");
}

#[test]
fn destroy_is_final_and_distinct() {
    let mut k = keyring("acme");
    let ct = k.encrypt_field(FIELD, "p1", b"phi").unwrap();
    k.destroy(NOW + 5);
    assert!(k.is_destroyed());
    let err = k.decrypt_field(FIELD, "p1", &ct).unwrap_err();
    assert_eq!(
        err,
        CryptoError::KeyDestroyed {
            tenant: "acme".into()
        }
    );
    assert_eq!(err.code(), "crypto.key_destroyed");
    assert_eq!(
        code(k.encrypt_field(FIELD, "p1", b"x")),
        "crypto.key_destroyed"
    );
    assert_eq!(
        code(k.blind_index(FIELD, "x", &IndexSpec::default())),
        "crypto.key_destroyed"
    );
    assert_eq!(code(k.rotate(&root(), NOW)), "crypto.key_destroyed");
    // The stored state holds no key material and stays destroyed when reopened.
    let state = k.state().clone();
    assert!(state.data_keys.versions.is_empty() && state.index_keys.versions.is_empty());
    assert_eq!(state.destroyed_at, Some(NOW + 5));
    let reopened = Keyring::open_json(&k.to_json(), &root()).unwrap();
    assert_eq!(
        code(reopened.decrypt_field(FIELD, "p1", &ct)),
        "crypto.key_destroyed"
    );
}

#[test]
fn stored_keyring_round_trip_and_tampering() {
    let mut k = keyring("acme");
    k.rotate(&root(), NOW + 1).unwrap();
    let ct = k.encrypt_field(FIELD, "p1", b"phi").unwrap();
    let json = k.to_json();
    assert!(!json.contains("phi"));
    let reopened = Keyring::open_json(&json, &root()).unwrap();
    assert_eq!(
        &reopened.decrypt_field(FIELD, "p1", &ct).unwrap()[..],
        b"phi"
    );

    // Another root key cannot open it: the keyring names its own root key, and without
    // the name the unwrapping fails.
    let other = RootKey::from_secret(&Secret32::from_bytes([9; 32])).unwrap();
    assert_eq!(
        code(Keyring::open_json(&json, &other)),
        "crypto.root_key_unknown"
    );
    let mut unnamed: KeyringState = serde_json::from_str(&json).unwrap();
    unnamed.root_key_id = None;
    assert_eq!(code(Keyring::open(unnamed, &other)), "crypto.unwrap_failed");

    // Relabelling the state for another tenant fails: the wrapping binds the tenant.
    let mut state: KeyringState = serde_json::from_str(&json).unwrap();
    state.tenant = "evil".into();
    assert_eq!(code(Keyring::open(state, &root())), "crypto.unwrap_failed");

    // Swapping two versions' wrapped keys fails: the wrapping binds the version.
    let mut state: KeyringState = serde_json::from_str(&json).unwrap();
    let w0 = state.data_keys.versions[0].wrapped.clone();
    state.data_keys.versions[0].wrapped = state.data_keys.versions[1].wrapped.clone();
    state.data_keys.versions[1].wrapped = w0;
    assert_eq!(code(Keyring::open(state, &root())), "crypto.unwrap_failed");

    // Inconsistent states are refused clearly.
    let mut state: KeyringState = serde_json::from_str(&json).unwrap();
    state.data_keys.active = 7;
    assert_eq!(
        code(Keyring::open(state, &root())),
        "crypto.invalid_keyring"
    );
    assert_eq!(
        code(Keyring::open_json("{\"format\":1}", &root())),
        "crypto.invalid_keyring"
    );
    assert_eq!(
        code(Keyring::open_json("not json", &root())),
        "crypto.invalid_keyring"
    );
}

#[test]
fn secrets_stay_out_of_debug() {
    let secret = Secret32::from_bytes([0xAB; 32]);
    assert_eq!(format!("{secret:?}"), "Secret32(..)");
    let k = keyring("acme");
    let debug = format!("{k:?} {:?}", root());
    assert!(debug.contains("acme"));
    assert!(!debug.contains(&k.state().data_keys.versions[0].wrapped));
    assert!(!debug.to_lowercase().contains("abab"));
}

#[test]
fn root_key_parsing() {
    let hex64 = "00".repeat(32);
    assert!(RootKey::parse(&hex64).is_ok());
    assert!(RootKey::parse(&Secret32::from_bytes([1; 32]).to_base64url()).is_ok());
    for bad in ["", "00", &"zz".repeat(32), &"00".repeat(33)] {
        let err = RootKey::parse(bad).unwrap_err();
        assert_eq!(err.code(), "crypto.invalid_key");
        assert!(
            !err.to_string().contains(bad) || bad.is_empty(),
            "no key material in errors"
        );
    }
}

#[test]
fn blind_indexes() {
    let mut k = keyring("acme");
    let email = IndexSpec::new(Normalization::Email);
    let a = k
        .blind_index("patients.email", "Ann@Example.org ", &email)
        .unwrap();
    assert_eq!(
        a,
        k.blind_index("patients.email", "ann@example.org", &email)
            .unwrap()
    );
    assert!(a.starts_with("1."));
    assert_ne!(
        a,
        k.blind_index("patients.email", "bob@example.org", &email)
            .unwrap()
    );
    assert_ne!(
        a,
        k.blind_index("staff.email", "ann@example.org", &email)
            .unwrap(),
        "per field"
    );
    assert_ne!(
        a,
        keyring("other")
            .blind_index("patients.email", "ann@example.org", &email)
            .unwrap(),
        "per tenant"
    );
    let exact = IndexSpec::new(Normalization::Exact);
    assert_ne!(
        a,
        k.blind_index("patients.email", "ann@example.org", &exact)
            .unwrap(),
        "per normalization"
    );

    let phone = IndexSpec::new(Normalization::Digits);
    assert_eq!(
        k.blind_index("p.phone", "+1 (555) 010-2030", &phone)
            .unwrap(),
        k.blind_index("p.phone", "15550102030", &phone).unwrap()
    );
    let casefold = IndexSpec::new(Normalization::Casefold);
    assert_eq!(
        k.blind_index("p.name", "  Ann   MARIE ", &casefold)
            .unwrap(),
        k.blind_index("p.name", "ann marie", &casefold).unwrap()
    );

    // Truncation length is honoured and bounded.
    let short = IndexSpec {
        normalization: Normalization::Exact,
        bytes: 4,
    };
    let decode = |index: &str| {
        URL_SAFE_NO_PAD
            .decode(index.split_once('.').unwrap().1)
            .unwrap()
    };
    let short_bytes = decode(&k.blind_index("f", "v", &short).unwrap());
    let full_bytes = decode(&k.blind_index("f", "v", &exact).unwrap());
    assert_eq!((short_bytes.len(), full_bytes.len()), (4, 16));
    assert_eq!(
        short_bytes[..],
        full_bytes[..4],
        "a shorter index is a prefix of the same HMAC"
    );
    for bytes in [0, 3, 33] {
        let bad = IndexSpec {
            normalization: Normalization::Exact,
            bytes,
        };
        assert_eq!(code(k.blind_index("f", "v", &bad)), "crypto.invalid_spec");
    }

    // Data-key rotation leaves indexes alone; index-key rotation changes them.
    k.rotate(&root(), NOW + 1).unwrap();
    assert_eq!(
        a,
        k.blind_index("patients.email", "ann@example.org", &email)
            .unwrap()
    );
    assert_eq!(k.rotate_index_key(&root(), NOW + 2).unwrap(), 2);
    let a2 = k
        .blind_index("patients.email", "ann@example.org", &email)
        .unwrap();
    assert!(a2.starts_with("2."));
    assert_ne!(a, a2);
    let all = k
        .blind_index_all_versions("patients.email", "ann@example.org", &email)
        .unwrap();
    assert_eq!(all, vec![a2.clone(), a.clone()]);
    k.retire_index_key(1).unwrap();
    assert_eq!(
        k.blind_index_all_versions("patients.email", "ann@example.org", &email)
            .unwrap(),
        vec![a2]
    );
}

fn spec() -> RecordSpec {
    serde_json::from_value(json!({
        "name": "patients",
        "fields": [
            {"pointer": "/diagnosis"},
            {"pointer": "/email", "index": {"normalization": "email"}},
            {"pointer": "/contact/phone", "index": {"normalization": "digits", "bytes": 8}},
            {"pointer": "/vitals"},
            {"pointer": "/missing"}
        ]
    }))
    .unwrap()
}

#[test]
fn record_round_trip_with_indexes_and_readable_subset() {
    let k = keyring("acme");
    let record = json!({
        "id": "p1", "name": "Ann", "diagnosis": "J45.909", "email": "Ann@Example.org",
        "contact": {"phone": "+1 555 0102", "city": "Oslo"},
        "vitals": {"bp": [120, 80], "weight": 61.5},
        "notes": null
    });
    let sealed = k.encrypt_record(&spec(), "p1", &record).unwrap();
    for pointer in ["/diagnosis", "/email", "/contact/phone", "/vitals"] {
        assert!(
            sealed
                .record
                .pointer(pointer)
                .unwrap()
                .as_str()
                .unwrap()
                .starts_with("phx1."),
            "{pointer}"
        );
    }
    assert_eq!(sealed.record["name"], "Ann");
    assert_eq!(sealed.record["contact"]["city"], "Oslo");
    assert_eq!(sealed.record.get("missing"), None);
    assert_eq!(sealed.indexes.len(), 2);
    assert_eq!(
        sealed.indexes["/email"],
        k.blind_index(
            "patients.email",
            "ann@example.org",
            &IndexSpec::new(Normalization::Email)
        )
        .unwrap()
    );

    let opened = k
        .decrypt_record(&spec(), "p1", &sealed.record, None)
        .unwrap();
    assert_eq!(opened, record);

    let readable: BTreeSet<String> = ["/email".to_string()].into();
    let partial = k
        .decrypt_record(&spec(), "p1", &sealed.record, Some(&readable))
        .unwrap();
    assert_eq!(partial["email"], "Ann@Example.org");
    assert_eq!(
        partial.get("diagnosis"),
        None,
        "unreadable fields are removed, not left encrypted"
    );
    assert_eq!(partial.get("vitals"), None);
    assert_eq!(partial["contact"], json!({"city": "Oslo"}));
    assert_eq!(partial["name"], "Ann");

    // A field's ciphertext cannot be moved to another field or record.
    let mut swapped = sealed.record.clone();
    swapped["diagnosis"] = sealed.record["email"].clone();
    let err = k.decrypt_record(&spec(), "p1", &swapped, None).unwrap_err();
    assert_eq!(err.code(), "crypto.decrypt_failed");
    assert!(err.to_string().contains("/diagnosis"));
    assert_eq!(
        k.decrypt_record(&spec(), "p2", &sealed.record, None)
            .unwrap_err()
            .code(),
        "crypto.decrypt_failed"
    );
}

#[test]
fn record_spec_and_shape_errors() {
    let k = keyring("acme");
    let bad_specs = [
        json!({"name": "p", "fields": [{"pointer": "diagnosis"}]}),
        json!({"name": "p", "fields": [{"pointer": "/"}]}),
        json!({"name": "p", "fields": [{"pointer": "/a"}, {"pointer": "/a"}]}),
        json!({"name": "p", "fields": [{"pointer": "/a"}, {"pointer": "/a/b"}]}),
        json!({"name": "", "fields": [{"pointer": "/a"}]}),
        json!({"name": "p", "fields": [{"pointer": "/a", "index": {"bytes": 64}}]}),
    ];
    for spec in bad_specs {
        let spec: RecordSpec = serde_json::from_value(spec).unwrap();
        assert_eq!(
            code(k.encrypt_record(&spec, "r", &json!({"a": 1}))),
            "crypto.invalid_spec",
            "{spec:?}"
        );
    }
    // "/ab" is not inside "/a".
    let ok = RecordSpec {
        name: "p".into(),
        fields: vec![
            FieldSpec {
                pointer: "/a".into(),
                index: None,
            },
            FieldSpec {
                pointer: "/ab".into(),
                index: None,
            },
        ],
    };
    assert!(ok.check().is_ok());
    // An encrypted slot holding a number is refused with the field named.
    let err = k
        .decrypt_record(&spec(), "p1", &json!({"diagnosis": 42}), None)
        .unwrap_err();
    assert_eq!(err.code(), "crypto.malformed_ciphertext");
    assert!(err.to_string().contains("`/diagnosis`"));
    // Unknown spec fields are rejected when parsing.
    assert!(
        serde_json::from_value::<RecordSpec>(json!({"name": "p", "fields": [], "extra": 1}))
            .is_err()
    );
}

#[test]
fn keyring_is_shared_across_threads() {
    let k = keyring("acme");
    std::thread::scope(|s| {
        for t in 0..4 {
            let k = &k;
            s.spawn(move || {
                for i in 0..50 {
                    let field = format!("f{}", i % 7);
                    let ct = k.encrypt_field(&field, &t.to_string(), b"v").unwrap();
                    assert_eq!(
                        &k.decrypt_field(&field, &t.to_string(), &ct).unwrap()[..],
                        b"v"
                    );
                }
            });
        }
    });
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z0-9 @.\\-\u{e9}\u{4e2d}]{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn prop_bytes_round_trip(plain in prop::collection::vec(any::<u8>(), 0..2048),
                             field in "[a-z.]{1,20}", record in ".{0,20}") {
        let k = keyring("prop");
        let text = k.encrypt_field(&field, &record, &plain).unwrap();
        prop_assert_eq!(&k.decrypt_field(&field, &record, &text).unwrap()[..], &plain[..]);
        let bin = k.encrypt_field_bytes(&field, &record, &plain).unwrap();
        prop_assert_eq!(bin.len(), plain.len() + OVERHEAD);
        prop_assert_eq!(&k.decrypt_field_bytes(&field, &record, &bin).unwrap()[..], &plain[..]);
    }

    #[test]
    fn prop_records_round_trip(diagnosis in json_value(), email in json_value(), other in json_value()) {
        let k = keyring("prop");
        let record = json!({"diagnosis": diagnosis, "email": email, "contact": {"phone": other.clone()}, "keep": other});
        let sealed = k.encrypt_record(&spec(), "r1", &record).unwrap();
        prop_assert_eq!(k.decrypt_record(&spec(), "r1", &sealed.record, None).unwrap(), record);
    }

    #[test]
    fn prop_garbage_never_panics(s in ".{0,80}") {
        let k = keyring("prop");
        let _ = k.decrypt_field(FIELD, "r", &s);
        let _ = k.decrypt_field(FIELD, "r", &format!("phx1.{s}"));
        let _ = k.needs_rewrap(&format!("phx1.{s}"));
    }
}

#[test]
fn decrypt_record_refuses_a_null_readable_list_instead_of_decrypting_everything() {
    use phylax_core::crypto::calls::DecryptRecordRequest;
    let base = json!({"spec": {"name": "patients", "fields": []}, "recordId": "p1", "record": {}});
    let absent: DecryptRecordRequest = serde_json::from_value(base.clone()).unwrap();
    assert_eq!(absent.readable, None);
    let mut listed = base.clone();
    listed["readable"] = json!(["/name"]);
    let listed: DecryptRecordRequest = serde_json::from_value(listed).unwrap();
    assert_eq!(listed.readable, Some(BTreeSet::from(["/name".to_owned()])));
    let mut null = base;
    null["readable"] = Value::Null;
    let err = serde_json::from_value::<DecryptRecordRequest>(null).unwrap_err();
    assert!(err.to_string().contains("null"), "{err}");
}
