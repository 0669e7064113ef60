//! A shred leaves nothing readable on the server's own disk (SQLite): right after
//! `DELETE /v1/tenants/{t}`, with the server still running, no wrapped key of the tenant
//! is left in `phylax.db`, its WAL or its shared-memory file, so a copy of the data dir
//! cannot bring the tenant's keys back; a server started on such a copy with the same
//! root key cannot decrypt the tenant's ciphertexts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::path::Path;

use common::Server;
use serde_json::{json, Value};

/// Every string of `v` long enough to be key material (wrapped keys are base64).
fn long_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.len() >= 40 => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| long_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| long_strings(x, out)),
        _ => {}
    }
}

/// The data dir's files that hold any of `needles`.
fn holders(dir: &Path, needles: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for n in needles {
            if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                found.push(format!("{} holds {}…", path.display(), &n[..12]));
            }
        }
    }
    found
}

#[test]
fn a_shred_leaves_no_wrapped_key_in_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    server.create_tenant("acme");
    server.create_tenant("globex");
    let key = server.api_key("acme", &["*"]);
    let encrypt = |plaintext: &str| server.encrypt("acme", &key, plaintext);
    let first = encrypt("before the rotation");
    // Rotations write more versions of the keyring through the WAL.
    for kind in ["data", "index", "data"] {
        let r = server.req(
            "POST",
            "/v1/tenants/acme/keys/rotate",
            Some(&key),
            Some(&json!({"kind": kind}).to_string()),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let second = encrypt("after the rotations");

    // The tenant's wrapped keys, as the store holds them now.
    let db = rusqlite::Connection::open_with_flags(
        data.join("phylax.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let keyring: String = db
        .query_row("SELECT keyring FROM tenants WHERE id = 'acme'", [], |r| {
            r.get(0)
        })
        .unwrap();
    drop(db);
    let mut wrapped = Vec::new();
    long_strings(&serde_json::from_str(&keyring).unwrap(), &mut wrapped);
    assert!(wrapped.len() >= 3, "{keyring}");
    // The check can fail: before the shred the data dir holds them.
    assert!(!holders(&data, &wrapped).is_empty());

    let r = server.admin("DELETE", "/v1/tenants/acme?confirm=true", None);
    assert_eq!(r.status, 200, "{}", r.text);
    // Right away, the server still running: nothing left anywhere in the data dir.
    let left = holders(&data, &wrapped);
    assert!(left.is_empty(), "after the shred: {left:?}");

    // A copy of the data dir, served with the same root key: the ciphertexts are gone.
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
    }
    drop(server);
    let restored = Server::start(&copy, &[]);
    for ct in [&first, &second] {
        let body = json!({"field": "patients.diagnosis", "recordId": "r", "ciphertext": ct});
        let r = restored.req_h(
            "POST",
            "/v1/tenants/acme/transit/decrypt",
            Some(common::ADMIN),
            Some(&body.to_string()),
            &[("x-phylax-break-glass", "shred test")],
        );
        assert_eq!(r.status, 410, "{}", r.text);
        assert_eq!(r.code(), "crypto.key_destroyed", "{}", r.text);
    }
    // And after a clean stop of the original, still nothing.
    let left = holders(&data, &wrapped);
    assert!(left.is_empty(), "after the stop: {left:?}");
}
