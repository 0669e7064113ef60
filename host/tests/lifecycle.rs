//! The tenant lifecycle as an operator and a departing customer meet it: offboarding
//! with an export window, cancel, the due shred performed by the server itself (once,
//! across a restart, by one of two nodes), retention pruning that keeps the chain
//! verifiable, the export archive verified offline and its HPKE-sealed keys, and
//! root-key rotation making a backup taken before a shred useless.
//!
//! Days pass through `PHYLAX_TEST_CLOCK_FILE` (seconds added to the clock of a debug
//! build's server), never through sleeps.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, AUDIT_KEY, ROOT_KEY, SIGNING_KEY};
use serde_json::{json, Value};

const DAY: u64 = 86_400;

/// A server on `data` whose clock is the system's plus the seconds in `clock`.
fn start(data: &Path, clock: &Path, extra_env: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("PHYLAX_AUDIT_KEY", AUDIT_KEY),
        ("PHYLAX_BUNDLE_SIGNING_KEY", SIGNING_KEY),
        ("PHYLAX_TEST_CLOCK_FILE", clock.to_str().unwrap()),
    ];
    if !extra_env
        .iter()
        .any(|(k, _)| k.starts_with("PHYLAX_ROOT_KEY"))
    {
        env.push(("PHYLAX_ROOT_KEY", ROOT_KEY));
    }
    env.extend_from_slice(extra_env);
    Server::start_env(data, &["--lifecycle-interval-ms", "50"], &env)
}

fn set_clock(clock: &Path, days: u64) {
    std::fs::write(clock, (days * DAY).to_string()).unwrap();
}

/// Waits (at most 10 s) until `check` holds.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn state_of(server: &Server, tenant: &str) -> String {
    let r = server.admin("GET", &format!("/v1/tenants/{tenant}"), None);
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["ok"]["state"].as_str().unwrap().to_owned()
}

/// The tenant's chain (JSON Lines export, break-glass read as the platform admin).
fn chain(server: &Server, tenant: &str) -> Vec<Value> {
    let r = server.req_h(
        "GET",
        &format!("/v1/tenants/{tenant}/audit/export"),
        Some(common::ADMIN),
        None,
        &[("x-phylax-break-glass", "lifecycle test")],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count_op(records: &[Value], op: &str) -> usize {
    records
        .iter()
        .filter(|r| r["event"]["operation"] == op)
        .count()
}

fn verify(server: &Server, tenant: &str) -> Value {
    let r = server.req_h(
        "POST",
        &format!("/v1/tenants/{tenant}/audit/verify"),
        Some(common::ADMIN),
        Some("{}"),
        &[("x-phylax-break-glass", "lifecycle test")],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["ok"].clone()
}

fn decrypt(server: &Server, tenant: &str, key: &str, ct: &str) -> (u16, Value) {
    let body = json!({"field": "patients.diagnosis", "recordId": "r", "ciphertext": ct});
    let r = server.req(
        "POST",
        &format!("/v1/tenants/{tenant}/transit/decrypt"),
        Some(key),
        Some(&body.to_string()),
    );
    (r.status, r.json())
}

fn phylax(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(common::bin());
    cmd.args(args)
        .env_remove("PHYLAX_ROOT_KEY")
        .env_remove("PHYLAX_ROOT_KEYS")
        .env_remove("PHYLAX_STORE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn offboarding_window_cancel_and_the_due_shred_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (data, clock) = (dir.path().join("data"), dir.path().join("clock"));
    set_clock(&clock, 0);
    let mut server = start(&data, &clock, &[]);
    server.create_tenant("acme");
    let key = server.api_key("acme", &["*"]);
    let ct = server.encrypt("acme", &key, "hypertension");

    // Bad input, each with its code.
    let r = server.admin("POST", "/v1/tenants/nosuch/offboard", Some("{}"));
    r.assert_error(404, "tenant.not_found");
    let r = server.admin("DELETE", "/v1/tenants/acme", None);
    r.assert_error(409, "tenant.confirm_required");
    let r = server.admin("POST", "/v1/tenants/acme/cancel-offboarding", None);
    r.assert_error(409, "tenant.active");

    // Settings: defaults, then set (apps read them with tenant:read).
    let r = server.req("GET", "/v1/tenants/acme/settings", Some(&key), None);
    assert_eq!(
        r.json()["ok"],
        json!({"auditRetentionDays": 2557, "exportWindowDays": 90})
    );
    let r = server.admin(
        "PUT",
        "/v1/tenants/acme/settings",
        Some(r#"{"auditRetentionDays": 3650, "exportWindowDays": 30}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = server.admin(
        "PUT",
        "/v1/tenants/acme/settings",
        Some(r#"{"auditRetentionDays": 0, "exportWindowDays": 30}"#),
    );
    r.assert_error(400, "request.invalid");

    // Offboarding: the window is the tenant's setting (30 days).
    let r = server.admin("POST", "/v1/tenants/acme/offboard", Some("{}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let info = r.json()["ok"].clone();
    assert_eq!(info["state"], "offboarding");
    let since = info["offboardingSince"].as_u64().unwrap();
    assert_eq!(info["shredDueAt"].as_u64().unwrap(), since + 30 * DAY);
    let r = server.admin("POST", "/v1/tenants/acme/offboard", Some("{}"));
    r.assert_error(409, "tenant.offboarding");

    // In the window: reads allowed, writes refused.
    let body = json!({"field": "patients.diagnosis", "recordId": "r", "plaintext": "x"});
    let r = server.req(
        "POST",
        "/v1/tenants/acme/transit/encrypt",
        Some(&key),
        Some(&body.to_string()),
    );
    r.assert_error(409, "tenant.offboarding");
    let r = server.req(
        "POST",
        "/v1/tenants/acme/api-keys",
        Some(&key),
        Some(r#"{"scopes": ["authorize"]}"#),
    );
    r.assert_error(409, "tenant.offboarding");
    let (status, v) = decrypt(&server, "acme", &key, &ct);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ok"]["plaintext"], "hypertension");

    // Cancel: active again, writes work; offboard again with an explicit window.
    let r = server.admin("POST", "/v1/tenants/acme/cancel-offboarding", None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(state_of(&server, "acme"), "active");
    server.encrypt("acme", &key, "writable again");
    let r = server.admin(
        "POST",
        "/v1/tenants/acme/offboard",
        Some(r#"{"exportWindowDays": 90}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    // 89 days on, nothing is due: the sweeper (every 50 ms) leaves the tenant alone.
    set_clock(&clock, 89);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(state_of(&server, "acme"), "offboarding");

    // Stopped, and started again after the window ended: the restarted server shreds.
    server.kill();
    set_clock(&clock, 91);
    let server = start(&data, &clock, &[]);
    eventually("the due shred", || state_of(&server, "acme") == "shredded");
    // More sweeps pass; the transition happened once.
    std::thread::sleep(Duration::from_millis(300));
    let records = chain(&server, "acme");
    assert_eq!(count_op(&records, "tenant.shred"), 1);
    assert_eq!(count_op(&records, "tenant.offboard"), 2);
    assert_eq!(count_op(&records, "tenant.cancel_offboarding"), 1);
    let shred = records
        .iter()
        .find(|r| r["event"]["operation"] == "tenant.shred")
        .unwrap();
    assert_eq!(shred["event"]["actor"]["id"], "phylax-lifecycle");
    assert_eq!(verify(&server, "acme")["valid"], true);

    // Shredded: ciphertexts fail, the key is revoked, exports and shreds refused.
    let r = server.req_h(
        "POST",
        "/v1/tenants/acme/transit/decrypt",
        Some(common::ADMIN),
        Some(
            &json!({"field": "patients.diagnosis", "recordId": "r", "ciphertext": ct}).to_string(),
        ),
        &[("x-phylax-break-glass", "after the shred")],
    );
    assert_eq!(r.code(), "crypto.key_destroyed", "{}", r.text);
    let (status, _) = decrypt(&server, "acme", &key, &ct);
    assert_eq!(status, 401, "the tenant's keys are revoked");
    let r = server.req_h(
        "GET",
        "/v1/tenants/acme/export",
        Some(common::ADMIN),
        None,
        &[("x-phylax-break-glass", "export after shred")],
    );
    r.assert_error(409, "tenant.shredded");
    let r = server.admin("DELETE", "/v1/tenants/acme?confirm=true", None);
    r.assert_error(409, "tenant.shredded");
}

#[test]
fn retention_prunes_with_a_signed_record_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (data, clock) = (dir.path().join("data"), dir.path().join("clock"));
    set_clock(&clock, 0);
    let server = start(&data, &clock, &[]);
    server.create_tenant("acme");
    let key = server.api_key("acme", &["*"]);
    for i in 0..20 {
        server.encrypt("acme", &key, &format!("v{i}"));
        let r = server.req(
            "POST",
            "/v1/tenants/acme/audit/events",
            Some(&key),
            Some(
                &json!({"events": [{"tenant": "acme", "actor": {"id": "u1"}, "action": "view",
                         "time": common_now(), "outcome": "success"}]})
                .to_string(),
            ),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let before = chain(&server, "acme");
    let r = server.admin(
        "PUT",
        "/v1/tenants/acme/settings",
        Some(r#"{"auditRetentionDays": 30, "exportWindowDays": 90}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    // 31 days later everything before is past retention; the sweeper prunes it, keeping
    // the head, and appends its own record.
    set_clock(&clock, 31);
    eventually("the prune", || {
        chain(&server, "acme")
            .first()
            .is_some_and(|r| r["seq"].as_u64().unwrap() > 1)
    });
    std::thread::sleep(Duration::from_millis(300));
    let after = chain(&server, "acme");
    assert_eq!(count_op(&after, "audit.prune"), 1, "pruned once");
    let first = after[0]["seq"].as_u64().unwrap();
    assert!(first >= before.len() as u64 - 2, "first kept seq {first}");
    let v = verify(&server, "acme");
    assert_eq!(v["valid"], true, "{v}");

    // Offline: the export archive verifies from its prune record...
    let r = server.req_h(
        "GET",
        "/v1/tenants/acme/export",
        Some(common::ADMIN),
        None,
        &[("x-phylax-break-glass", "retention test")],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let file = dir.path().join("acme-export.json");
    std::fs::write(&file, &r.text).unwrap();
    let keys = [("PHYLAX_AUDIT_KEY", AUDIT_KEY)];
    let (ok, out, err) = phylax(
        &["audit", "verify", "--export", file.to_str().unwrap()],
        &keys,
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains(&format!("pruned at retention before seq {first}")),
        "{out}"
    );

    // ...and the same chain cut at its start without the prune record is truncation.
    let mut archive: Value = serde_json::from_str(&r.text).unwrap();
    archive["sections"]["audit"]
        .as_object_mut()
        .unwrap()
        .remove("prune");
    std::fs::write(&file, archive.to_string()).unwrap();
    let (ok, out, err) = phylax(
        &["audit", "verify", "--export", file.to_str().unwrap()],
        &keys,
    );
    assert!(!ok, "{out}");
    assert!(err.contains("[audit.truncated]"), "{err}");
}

fn common_now() -> u64 {
    // The reported time of an ingested event must be near the server's clock (offset 0
    // while these are sent).
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn the_export_verifies_offline_names_tampering_and_seals_keys_to_the_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (data, clock) = (dir.path().join("data"), dir.path().join("clock"));
    set_clock(&clock, 0);
    let server = start(&data, &clock, &[]);
    server.create_tenant("acme");
    let key = server.api_key("acme", &["*"]);
    let ct = server.encrypt("acme", &key, "type 2 diabetes");
    let r = server.req(
        "PUT",
        "/v1/tenants/acme/policies",
        Some(&key),
        Some(&json!({"files": [{"name": "p.cedar", "text": "permit(principal, action, resource);"}]}).to_string()),
    );
    let _ = r; // the pack's schema may refuse it; the versions are exported either way

    // The tenant's recipient key pair, and a stranger's.
    let (ok, pair, err) = phylax(&["keys", "generate", "--kind", "export-recipient"], &[]);
    assert!(ok, "{err}");
    let pair: Value = serde_json::from_str(&pair).unwrap();
    let (_, other, _) = phylax(&["keys", "generate", "--kind", "export-recipient"], &[]);
    let other: Value = serde_json::from_str(&other).unwrap();
    let secret_file = dir.path().join("tenant.key");
    std::fs::write(&secret_file, pair["secretKey"].as_str().unwrap()).unwrap();
    let other_file = dir.path().join("other.key");
    std::fs::write(&other_file, other["secretKey"].as_str().unwrap()).unwrap();

    // Offboarding: the export is allowed in the window (and audited).
    let r = server.admin("POST", "/v1/tenants/acme/offboard", Some("{}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = server.req(
        "GET",
        &format!(
            "/v1/tenants/acme/export?recipientKey={}",
            pair["publicKey"].as_str().unwrap()
        ),
        Some(&key),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains("\"hash\":\"$"), "no API key hash leaves");
    let archive: Value = serde_json::from_str(&r.text).unwrap();
    assert!(archive["sections"]["apiKeys"][0].get("hash").is_none());
    assert!(archive["sections"]["sealedKeys"]["enc"].is_string());
    let records = archive["sections"]["audit"]["records"].as_array().unwrap();
    assert!(records
        .iter()
        .any(|r| r["event"]["operation"] == "tenant.export"));
    let file = dir.path().join("export.json");
    std::fs::write(&file, &r.text).unwrap();
    let path = file.to_str().unwrap();
    let public = server
        .req("GET", "/v1/bundles/public-key", Some(&key), None)
        .json()["ok"]["publicKey"]
        .as_str()
        .unwrap()
        .to_owned();

    // Offline, with the operator's audit key and the server's public key: valid.
    let keys = [("PHYLAX_AUDIT_KEY", AUDIT_KEY)];
    let (ok, out, err) = phylax(
        &["audit", "verify", "--export", path, "--public-key", &public],
        &keys,
    );
    assert!(ok, "{out}{err}");
    // Without the audit key (the tenant's case): signatures, sections and links.
    let (ok, out, err) = phylax(
        &["audit", "verify", "--export", path, "--public-key", &public],
        &[],
    );
    assert!(ok && out.contains("HMACs were not checked"), "{out}{err}");

    // One byte changed in a record: the chain walk names the record.
    let tampered = dir.path().join("tampered.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let i = text.find("\"tenant.create\"").unwrap() + 2;
    let mut bytes = text.clone().into_bytes();
    bytes[i] = b'T';
    std::fs::write(&tampered, &bytes).unwrap();
    let verify_tampered = || {
        phylax(
            &[
                "audit",
                "verify",
                "--export",
                tampered.to_str().unwrap(),
                "--public-key",
                &public,
            ],
            &keys,
        )
    };
    let (ok, _, err) = verify_tampered();
    assert!(!ok);
    assert!(
        err.contains("[audit.modified]") && err.contains("event 1 "),
        "{err}"
    );
    // A byte changed in the tenant section: named by the manifest check.
    let i = text.find("\"exportWindowDays\":90").unwrap() + 20;
    let mut bytes = text.clone().into_bytes();
    bytes[i] = b'1';
    std::fs::write(&tampered, &bytes).unwrap();
    let (ok, _, err) = verify_tampered();
    assert!(!ok);
    assert!(
        err.contains("[export.section_modified]") && err.contains("`tenant`"),
        "{err}"
    );
    // Signed by another key than the one given: its checkpoint is refused first.
    let (_, signing, _) = phylax(&["keys", "generate", "--kind", "signing"], &[]);
    let stranger: Value = serde_json::from_str(&signing).unwrap();
    let (ok, _, err) = phylax(
        &[
            "audit",
            "verify",
            "--export",
            path,
            "--public-key",
            stranger["publicKey"].as_str().unwrap(),
        ],
        &keys,
    );
    assert!(!ok && err.contains("[audit.bad_checkpoint]"), "{err}");

    // The sealed keys decrypt the tenant's ciphertext with the tenant's key only.
    let args = |k: &Path| {
        vec![
            "tenants".to_owned(),
            "decrypt".into(),
            "--export".into(),
            path.into(),
            "--recipient-key-file".into(),
            k.to_str().unwrap().into(),
            "--field".into(),
            "patients.diagnosis".into(),
            "--record-id".into(),
            "r".into(),
            ct.clone(),
        ]
    };
    let a = args(&secret_file);
    let (ok, out, err) = phylax(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "type 2 diabetes");
    let a = args(&other_file);
    let (ok, _, err) = phylax(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    assert!(!ok && err.contains("export.unseal_failed"), "{err}");

    // Without a recipient key, no key material leaves.
    let r = server.req("GET", "/v1/tenants/acme/export", Some(&key), None);
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["sections"].get("sealedKeys").is_none());
    let r = server.req(
        "GET",
        "/v1/tenants/acme/export?recipientKey=not-a-key",
        Some(&key),
        None,
    );
    r.assert_error(400, "export.bad_recipient_key");
}

#[test]
fn after_a_root_rotation_a_backup_from_before_a_shred_cannot_bring_the_tenant_back() {
    let dir = tempfile::tempdir().unwrap();
    let (data, clock) = (dir.path().join("data"), dir.path().join("clock"));
    set_clock(&clock, 0);
    let (_, new_root, _) = phylax(&["keys", "generate", "--kind", "root"], &[]);
    let new_root = new_root.trim().to_owned();
    let old_env = [("PHYLAX_ROOT_KEY", ROOT_KEY)];
    let mut server = start(&data, &clock, &old_env);
    server.create_tenant("acme");
    server.create_tenant("globex");
    let acme_key = server.api_key("acme", &["*"]);
    let globex_key = server.api_key("globex", &["*"]);
    let acme_ct = server.encrypt("acme", &acme_key, "acme's secret");
    let globex_ct = server.encrypt("globex", &globex_key, "globex's secret");
    server.kill();

    // The "backup": a copy of the data dir taken before the shred.
    let backup = dir.path().join("backup");
    std::fs::create_dir_all(&backup).unwrap();
    for f in std::fs::read_dir(&data).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), backup.join(f.file_name())).unwrap();
    }

    // Shred acme; rotate the root key (new first, old still held), on the store.
    let mut server = start(&data, &clock, &old_env);
    let r = server.admin("DELETE", "/v1/tenants/acme?confirm=true", None);
    assert_eq!(r.status, 200, "{}", r.text);
    server.kill();
    let both = format!("{new_root},{ROOT_KEY}");
    let data_s = data.to_str().unwrap();
    let (ok, out, err) = phylax(
        &["keys", "rotate-root", "--data-dir", data_s],
        &[("PHYLAX_ROOT_KEYS", &both)],
    );
    assert!(ok, "{out}{err}");
    assert!(
        err.contains("re-wrapped 1 keyring(s)") && err.contains("1 shredded"),
        "{err}"
    );
    assert!(out.contains("the others can be discarded"), "{out}");
    // Run again: resumable, nothing left to do.
    let (ok, _, err) = phylax(
        &["keys", "rotate-root", "--data-dir", data_s],
        &[("PHYLAX_ROOT_KEYS", &both)],
    );
    assert!(ok && err.contains("re-wrapped 0 keyring(s)"), "{err}");

    // The old root key is discarded: only the new one is held from now on.
    let new_env = [("PHYLAX_ROOT_KEY", new_root.as_str())];
    let server = start(&data, &clock, &new_env);
    let (status, v) = decrypt(&server, "globex", &globex_key, &globex_ct);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ok"]["plaintext"], "globex's secret");
    drop(server);

    // The backup, served with the only root key the operator still holds: acme's
    // keyring names the discarded key and nothing unwraps it.
    let server = start(&backup, &clock, &new_env);
    let (status, v) = decrypt(&server, "acme", &acme_key, &acme_ct);
    assert_ne!(status, 200, "{v}");
    assert_eq!(v["error"]["code"], "crypto.root_key_unknown", "{v}");
    // Every key the operator holds fails on it, the new one included.
    let state: Value = serde_json::from_str(
        &rusqlite::Connection::open(backup.join("phylax.db"))
            .unwrap()
            .query_row("SELECT keyring FROM tenants WHERE id = 'acme'", [], |r| {
                r.get::<_, String>(0)
            })
            .unwrap(),
    )
    .unwrap();
    let mut stripped = state.clone();
    stripped.as_object_mut().unwrap().remove("rootKeyId");
    let new = phylax_core::crypto::RootKey::parse(&new_root).unwrap();
    assert!(
        phylax_core::crypto::Keyring::open_json(&stripped.to_string(), &new).is_err(),
        "the new root key does not unwrap the backup's keys"
    );
}

#[test]
fn two_nodes_on_one_database_perform_each_due_transition_once() {
    let Some(base) = common::postgres() else {
        return;
    };
    let url = common::fresh_database(&base, "lifecycle");
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    set_clock(&clock, 0);
    let env = vec![
        ("PHYLAX_ROOT_KEY", ROOT_KEY),
        ("PHYLAX_AUDIT_KEY", AUDIT_KEY),
        ("PHYLAX_BUNDLE_SIGNING_KEY", SIGNING_KEY),
        ("PHYLAX_TEST_CLOCK_FILE", clock.to_str().unwrap()),
        ("PHYLAX_STORE", url.as_str()),
    ];
    let nodes: Vec<Server> = (0..2)
        .map(|i| {
            Server::start_env(
                &dir.path().join(format!("node{i}")),
                &["--lifecycle-interval-ms", "10"],
                &env,
            )
        })
        .collect();
    let tenants: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    for t in &tenants {
        nodes[0].create_tenant(t);
        let r = nodes[1].admin(
            "PUT",
            &format!("/v1/tenants/{t}/settings"),
            Some(r#"{"auditRetentionDays": 1, "exportWindowDays": 5}"#),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
    for t in &tenants[..3] {
        let r = nodes[0].admin("POST", &format!("/v1/tenants/{t}/offboard"), Some("{}"));
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Six days on: three shreds are due, and every chain is past its one-day retention.
    set_clock(&clock, 6);
    for t in &tenants[..3] {
        eventually("the shred", || state_of(&nodes[1], t) == "shredded");
    }
    for t in &tenants {
        eventually("the prune", || {
            count_op(&chain(&nodes[0], t), "audit.prune") >= 1
        });
    }
    std::thread::sleep(Duration::from_millis(300));
    for t in &tenants {
        let records = chain(&nodes[1], t);
        let shreds = count_op(&records, "tenant.shred");
        assert_eq!(
            shreds,
            usize::from(tenants[..3].contains(t)),
            "{t}: {shreds} shreds"
        );
        assert_eq!(count_op(&records, "audit.prune"), 1, "{t}: pruned once");
        let v = verify(&nodes[0], t);
        assert_eq!(v["valid"], true, "{t}: {v}");
    }
}
