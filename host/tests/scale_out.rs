//! Many `phylax serve` nodes on one PostgreSQL database (`PHYLAX_TEST_POSTGRES`): mixed
//! traffic over three nodes with one SIGKILLed and restarted; changes made through one
//! node in force on the others within the stated bound (measured and printed); a
//! SQLite installation copied over with `phylax store copy`, interrupted and resumed; the
//! database out of reach at start and in the middle of a run; two nodes through PgBouncer
//! in transaction mode (`PHYLAX_TEST_POSTGRES_POOLER`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{pack_cases, Server};
use serde_json::{json, Value};

/// The default propagation bound (`sync_bound_ms`).
const BOUND: Duration = Duration::from_millis(1000);

const FAST: [&str; 4] = [
    "--rate-limit-per-second",
    "100000",
    "--rate-limit-burst",
    "100000",
];

fn entities_file(dir: &Path) -> String {
    let path = dir.join("entities.json");
    std::fs::write(&path, pack_cases()["baseEntities"].to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn node_args(entities: &str) -> Vec<&str> {
    let mut args = FAST.to_vec();
    args.extend(["--entities-file", entities]);
    args
}

/// Starts `n` nodes at once on `store` (so they race to migrate an empty database).
fn start_nodes(dir: &Path, store: &str, args: &[&str], n: usize) -> Vec<Server> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let data = dir.join(format!("node{i}"));
                s.spawn(move || Server::start_node(&data, store, args))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn case(name: &str) -> Value {
    pack_cases()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no pack case {name}"))
        .clone()
}

/// An event for `POST /audit/events`, named by its operation.
fn event(tenant: &str, op: &str) -> Value {
    json!({"tenant": tenant, "actor": {"id": "edge"}, "action": "view", "operation": op, "time": phylax_host::state::now(), "outcome": "success"})
}

/// Stores a tenant policy letting acme's staff export (the pack denies it): a change that
/// flips "staff export same-tenant mfa own-patient" from deny to allow.
fn permit_staff_export(node: &Server, key: &str) {
    let permit = r#"@id("acme-staff-export")
permit (principal in Role::"staff", action == Action::"export", resource)
when { resource.tenant == Tenant::"acme" };"#;
    let body = json!({"policies": [{"name": "acme.cedar", "text": permit}]}).to_string();
    let r = node.req("PUT", "/v1/tenants/acme/policies", Some(key), Some(&body));
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Revokes acme's key with exactly the scope `authorize` through `node`.
fn revoke_authorize_key(node: &Server, admin_key: &str) {
    let keys = node
        .req("GET", "/v1/tenants/acme/api-keys", Some(admin_key), None)
        .json();
    let id = keys["ok"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scopes"] == json!(["authorize"]))
        .unwrap()["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = node.req(
        "DELETE",
        &format!("/v1/tenants/acme/api-keys/{id}"),
        Some(admin_key),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

/// One chain: dense seqs from 1, and every acknowledged operation exactly once.
fn assert_one_chain<'a>(records: &[Value], acked: impl IntoIterator<Item = &'a str>) {
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"].as_u64().unwrap(), i as u64 + 1, "gap or duplicate");
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in records {
        if let Some(op) = r["event"]["operation"].as_str() {
            *seen.entry(op).or_default() += 1;
        }
    }
    for op in acked {
        assert_eq!(seen.get(op), Some(&1), "{op} not present exactly once");
    }
}

/// Every record of a tenant's chain through one node, as JSON.
fn export(node: &Server, tenant: &str, key: &str) -> Vec<Value> {
    let r = node.req(
        "GET",
        &format!("/v1/tenants/{tenant}/audit/export"),
        Some(key),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify_offline(dir: &Path, records: &[Value]) -> std::process::Output {
    let file = dir.join("export.jsonl");
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&file, text).unwrap();
    std::process::Command::new(common::bin())
        .args(["audit", "verify"])
        .arg(&file)
        .env("PHYLAX_AUDIT_KEY", common::AUDIT_KEY)
        .output()
        .unwrap()
}

#[test]
fn three_nodes_mixed_traffic_with_one_killed() {
    let Some(base) = common::postgres() else {
        return;
    };
    let db = common::fresh_database(&base, "three");
    let dir = tempfile::tempdir().unwrap();
    let entities = entities_file(dir.path());
    let args = node_args(&entities);
    let mut nodes = start_nodes(dir.path(), &db, &args, 3);
    assert_eq!(
        common::psql(&db, "SELECT count(*) FROM phylax_migrations"),
        phylax_host::store::postgres::MIGRATION_COUNT.to_string()
    );

    let tenants = ["acme", "globex"];
    let mut keys = BTreeMap::new();
    for t in tenants {
        nodes[0].create_tenant(t);
        keys.insert(t, nodes[0].api_key(t, &["*"]));
    }
    let ct = nodes[1].encrypt("acme", &keys["acme"], "x");
    // Pack cases of acme: three quarters of them denials, each audited.
    let cases: Vec<Value> = pack_cases()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| common::resource_tenant(&c["request"]) == "acme")
        .take(200)
        .cloned()
        .collect();

    let acked: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new()); // (tenant, operation)
    let decisions = AtomicU64::new(0);
    let wrong = Mutex::new(Vec::new());
    let killed = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(40);
    std::thread::scope(|s| {
        for worker in 0..6usize {
            let (nodes, keys, ct, cases, acked, decisions, wrong, killed) = (
                &nodes, &keys, &ct, &cases, &acked, &decisions, &wrong, &killed,
            );
            s.spawn(move || {
                for i in 0..300usize {
                    if Instant::now() > deadline {
                        break;
                    }
                    let node = &nodes[(worker + i) % 3];
                    // Requests to the killed node fail: they are not acknowledged.
                    let tenant = tenants[i % 2];
                    let key = &keys[tenant];
                    match i % 4 {
                        0 | 1 => {
                            let op = format!("w{worker}-{i}");
                            let body = json!({"events": [event(tenant, &op)]}).to_string();
                            if let Ok(r) = node.try_req_h("POST", &format!("/v1/tenants/{tenant}/audit/events"), Some(key), Some(&body), &[]) {
                                if r.status == 200 {
                                    acked.lock().unwrap().push((tenant.to_owned(), op));
                                }
                            }
                        }
                        2 => {
                            let c = &cases[(worker * 31 + i) % cases.len()];
                            if let Ok(r) = node.try_req_h("POST", "/v1/authorize", Some(&keys["acme"]), Some(&c["request"].to_string()), &[]) {
                                if r.status == 200 {
                                    decisions.fetch_add(1, Ordering::Relaxed);
                                    if r.json()["ok"]["decision"] != c["decision"] {
                                        wrong.lock().unwrap().push(c["name"].clone());
                                    }
                                }
                            }
                        }
                        _ => {
                            let body = json!({"field": "patients.diagnosis", "recordId": "r", "ciphertext": ct}).to_string();
                            if let Ok(r) = node.try_req_h("POST", "/v1/tenants/acme/transit/decrypt", Some(&keys["acme"]), Some(&body), &[]) {
                                assert!(r.status == 200 || killed.load(Ordering::Relaxed), "{}", r.text);
                            }
                        }
                    }
                }
            });
        }
        // SIGKILL node 2 once traffic is under way.
        s.spawn(|| {
            while acked.lock().unwrap().len() < 150 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            let pid = nodes[1].child.id();
            let ok = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap()
                .success();
            assert!(ok);
            killed.store(true, Ordering::Relaxed);
        });
    });
    assert!(
        wrong.lock().unwrap().is_empty(),
        "{:?}",
        wrong.lock().unwrap()
    );
    assert!(decisions.load(Ordering::Relaxed) > 100);
    // Restart the killed node; it joins with no migration and answers at once.
    nodes[1].kill();
    nodes[1] = Server::start_node(&dir.path().join("node1"), &db, &args);
    let acked = acked.into_inner().unwrap();
    assert!(
        acked.len() >= 300,
        "only {} ingests acknowledged",
        acked.len()
    );

    for tenant in tenants {
        let key = &keys[tenant];
        let records = export(&nodes[1], tenant, key);
        assert_one_chain(
            &records,
            acked
                .iter()
                .filter(|(t, _)| t == tenant)
                .map(|(_, op)| op.as_str()),
        );
        // The chain verifies on every node and offline.
        for node in &nodes {
            let v = node
                .req(
                    "POST",
                    &format!("/v1/tenants/{tenant}/audit/verify"),
                    Some(key),
                    None,
                )
                .json();
            assert_eq!(v["ok"]["valid"], true, "{v}");
        }
        let out = verify_offline(dir.path(), &records);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        println!(
            "{tenant}: {} records, every acknowledged event once, verified on 3 nodes and offline",
            records.len()
        );
    }
    // And the store agrees: no duplicate (tenant, seq), heads at the last record.
    assert_eq!(
        common::psql(&db, "SELECT count(*) FROM audit_heads h WHERE h.seq <> (SELECT max(seq) FROM audit_records r WHERE r.tenant = h.tenant)"),
        "0"
    );
}

/// Polls `check` every 5 ms until it holds; returns the time it took.
fn time_until(limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < limit, "not within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

#[test]
fn changes_through_one_node_reach_the_others_within_the_bound() {
    let Some(base) = common::postgres() else {
        return;
    };
    let db = common::fresh_database(&base, "propagate");
    let dir = tempfile::tempdir().unwrap();
    let entities = entities_file(dir.path());
    let args = node_args(&entities);
    let nodes = start_nodes(dir.path(), &db, &args, 3);
    nodes[0].create_tenant("acme");
    let admin_key = nodes[0].api_key("acme", &["*"]);
    let doomed = nodes[0].api_key("acme", &["authorize"]);
    let staff_export = case("staff export same-tenant mfa own-patient");
    assert_eq!(staff_export["decision"], "deny");
    let decide = |node: &Server| {
        let r = node.req(
            "POST",
            "/v1/authorize",
            Some(&doomed),
            Some(&staff_export["request"].to_string()),
        );
        (r.status, r.json()["ok"]["decision"].clone())
    };
    // Warm every node's caches with the key.
    for n in &nodes {
        assert_eq!(decide(n), (200, json!("deny")));
    }

    // A policy change through node 1.
    permit_staff_export(&nodes[0], &admin_key);
    assert_eq!(
        decide(&nodes[0]),
        (200, json!("allow")),
        "in force at once on the node that made it"
    );
    for (i, n) in nodes.iter().enumerate().skip(1) {
        let took = time_until(Duration::from_secs(5), || decide(n).1 == "allow");
        println!(
            "policy change in force on node {} after {} ms",
            i + 1,
            took.as_millis()
        );
        assert!(
            took <= BOUND,
            "policy change took {took:?} on node {}",
            i + 1
        );
    }

    // A data-key rotation through node 1: new ciphertexts on every node use the new key
    // (node 1, current at once, says whether one still needs a rewrap).
    let fresh_ciphertext = |node: &Server| node.encrypt("acme", &admin_key, "x");
    let on_new_key = |ct: &str| {
        let body =
            json!({"field": "patients.diagnosis", "recordId": "r", "ciphertext": ct}).to_string();
        let r = nodes[0].req(
            "POST",
            "/v1/tenants/acme/transit/needs-rewrap",
            Some(&admin_key),
            Some(&body),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["ok"]["needsRewrap"] == false
    };
    let old: Vec<String> = nodes.iter().map(fresh_ciphertext).collect();
    let r = nodes[0].req(
        "POST",
        "/v1/tenants/acme/keys/rotate",
        Some(&admin_key),
        Some(r#"{"kind":"data"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!on_new_key(&old[1]), "an old ciphertext needs a rewrap");
    assert!(on_new_key(&fresh_ciphertext(&nodes[0])));
    for (i, n) in nodes.iter().enumerate().skip(1) {
        let took = time_until(Duration::from_secs(5), || on_new_key(&fresh_ciphertext(n)));
        println!(
            "key rotation in force on node {} after {} ms",
            i + 1,
            took.as_millis()
        );
        assert!(took <= BOUND, "rotation took {took:?} on node {}", i + 1);
    }

    // A revocation through node 1: refused by every node within the bound, and ever after.
    revoke_authorize_key(&nodes[0], &admin_key);
    let revoked_at = Instant::now();
    assert_eq!(
        decide(&nodes[0]).0,
        401,
        "refused at once by the node that revoked it"
    );
    for (i, n) in nodes.iter().enumerate().skip(1) {
        let took = time_until(Duration::from_secs(5), || decide(n).0 == 401);
        println!(
            "revocation in force on node {} after {} ms",
            i + 1,
            took.as_millis()
        );
        assert!(took <= BOUND, "revocation took {took:?} on node {}", i + 1);
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(5));
    for _ in 0..20 {
        for n in &nodes {
            assert_eq!(decide(n).0, 401);
        }
    }

    // Offboarding through node 1: the tenant's keys stop working everywhere.
    let admin_record = common::psql(
        &db,
        "SELECT record FROM api_keys WHERE tenant = 'acme' AND record LIKE '%\"*\"%'",
    );
    let admin_key_id = serde_json::from_str::<Value>(&admin_record).unwrap()["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = nodes[0].admin("DELETE", "/v1/tenants/acme?confirm=true", None);
    assert_eq!(r.status, 200, "{}", r.text);
    for (i, n) in nodes.iter().enumerate().skip(1) {
        let took = time_until(Duration::from_secs(5), || {
            n.req("GET", "/v1/tenants/acme/api-keys", Some(&admin_key), None)
                .status
                == 401
        });
        println!(
            "offboarding in force on node {} after {} ms",
            i + 1,
            took.as_millis()
        );
        assert!(took <= BOUND, "offboarding took {took:?} on node {}", i + 1);
    }
    // A key record of the offboarded tenant put back unrevoked (as a write racing the
    // offboarding on another node could leave it) is refused all the same, on every node.
    let restore = format!(
        "BEGIN; UPDATE api_keys SET record = '{}' WHERE key_id = '{admin_key_id}';
         UPDATE store_version SET version = version + 1;
         INSERT INTO changes (version, kind, subject)
           SELECT version, 'api_key', '{admin_key_id}' FROM store_version; COMMIT;",
        admin_record.replace('\'', "''")
    );
    common::psql(&db, &restore);
    std::thread::sleep(BOUND);
    for n in &nodes {
        let r = n.req("GET", "/v1/tenants/acme/api-keys", Some(&admin_key), None);
        assert_eq!(r.status, 401, "an offboarded tenant's key: {}", r.text);
    }
}

#[test]
fn a_sqlite_installation_moves_to_postgres() {
    let Some(base) = common::postgres() else {
        return;
    };
    let db = common::fresh_database(&base, "copy");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let entities = entities_file(dir.path());
    let args = node_args(&entities);
    // A populated SQLite installation.
    let server = Server::start(&data, &args);
    server.create_tenant("acme");
    server.create_tenant("globex");
    let key = server.api_key("acme", &["*"]);
    permit_staff_export(&server, &key);
    let ct = server.encrypt("acme", &key, "kept");
    for batch in 0..25 {
        let events: Vec<Value> = (0..100)
            .map(|i| event("acme", &format!("b{batch}-{i}")))
            .collect();
        let r = server.req(
            "POST",
            "/v1/tenants/acme/audit/events",
            Some(&key),
            Some(&json!({"events": events}).to_string()),
        );
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let staff_export = case("staff export same-tenant mfa own-patient");
    let decide = |node: &Server| {
        node.req(
            "POST",
            "/v1/authorize",
            Some(&key),
            Some(&staff_export["request"].to_string()),
        )
        .json()["ok"]["decision"]
            .clone()
    };
    let before = decide(&server);
    assert_eq!(before, "allow");
    let before_export = export(&server, "acme", &key);
    drop(server);

    let copy = |extra: &[&str]| {
        std::process::Command::new(common::bin())
            .args(["store", "copy", "--from"])
            .arg(format!("sqlite:{}", data.join("phylax.db").display()))
            .args(["--to", &db, "--batch", "300", "--data-dir"])
            .arg(&data)
            .args(extra)
            .env_remove("PHYLAX_AUDIT_KEY")
            .output()
            .unwrap()
    };
    // Interrupted after 900 audit records...
    let out = copy(&["--stop-after", "900"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let partial: u64 = common::psql(&db, "SELECT count(*) FROM audit_records")
        .parse()
        .unwrap();
    assert!(
        partial >= 900 && partial < before_export.len() as u64 + 20,
        "{partial}"
    );
    // ...then resumed: it finishes and verifies every chain.
    let out = copy(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("every chain verifies"), "{stdout}");
    println!("{}", stdout.trim());
    // Running it again changes nothing.
    assert!(copy(&[]).status.success());
    let rows: u64 = common::psql(
        &db,
        "SELECT count(*) FROM audit_records WHERE tenant = 'acme'",
    )
    .parse()
    .unwrap();
    assert_eq!(rows, before_export.len() as u64);

    // A node on PostgreSQL with the installation's keys answers as before.
    let root = std::fs::read_to_string(data.join("root.key")).unwrap();
    let env = [
        ("PHYLAX_STORE", db.as_str()),
        ("PHYLAX_ROOT_KEY", root.trim()),
    ];
    let node = Server::start_env(&data, &args, &env);
    assert_eq!(decide(&node), before);
    let r = node.req(
        "POST",
        "/v1/tenants/acme/transit/decrypt",
        Some(&key),
        Some(
            &json!({"field": "patients.diagnosis", "recordId": "r", "ciphertext": ct}).to_string(),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["ok"]["plaintext"], "kept");
    let v = node
        .req("POST", "/v1/tenants/acme/audit/verify", Some(&key), None)
        .json();
    assert_eq!(v["ok"]["valid"], true, "{v}");
    let after = export(&node, "acme", &key);
    assert_eq!(
        &after[..before_export.len()],
        &before_export[..],
        "the copied chain is the same chain"
    );
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore: the database
/// "going away" for one node without stopping the shared test server.
struct Proxy {
    port: u16,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (d, c) = (down.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                c.lock().unwrap().push(client.try_clone().unwrap());
                c.lock().unwrap().push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Self { port, down, conns }
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// `postgres://u:p@HOST:PORT/db` -> (`HOST:PORT`, the URL with `127.0.0.1:port` instead).
fn via(url: &str, port: u16) -> (String, String) {
    let at = url.rfind('@').unwrap();
    let slash = at + url[at..].find('/').unwrap();
    let upstream = url[at + 1..slash].to_owned();
    (
        upstream,
        format!("{}@127.0.0.1:{port}{}", &url[..at], &url[slash..]),
    )
}

#[test]
fn the_database_going_away_and_coming_back() {
    let Some(base) = common::postgres() else {
        return;
    };
    let db = common::fresh_database(&base, "outage");
    let dir = tempfile::tempdir().unwrap();

    // Out of reach at start: a clear error and exit code 69, the password never shown.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_, unreachable) = via(&db, closed);
    let mut cmd = std::process::Command::new(common::bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("x"))
        .env("PHYLAX_STORE", &unreachable);
    for (k, v) in common::shared_keys() {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(69), "{stderr}");
    assert!(stderr.contains("store unreachable"), "{stderr}");
    let password = db.split(':').nth(2).unwrap().split('@').next().unwrap();
    assert!(!stderr.contains(password), "{stderr}");
    // Keys are never generated per node on a shared store.
    let out = std::process::Command::new(common::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("y"))
        .env("PHYLAX_STORE", &db)
        .env_remove("PHYLAX_ROOT_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PHYLAX_ROOT_KEY"));

    // Mid-run: through a proxy the test cuts.
    let (upstream, _) = via(&db, 0);
    let proxy = Proxy::start(upstream);
    let (_, proxied) = via(&db, proxy.port);
    let node = Server::start_node(&dir.path().join("n"), &proxied, &FAST);
    node.create_tenant("acme");
    let key = node.api_key("acme", &["*"]);
    let ingest = |op: &str| {
        let ev = event("acme", op);
        node.req(
            "POST",
            "/v1/tenants/acme/audit/events",
            Some(&key),
            Some(&json!({"events": [ev]}).to_string()),
        )
    };
    assert_eq!(ingest("before").status, 200);
    let ready = node.req("GET", "/readyz", None, None);
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json()["ok"]["store"], "postgres");

    proxy.cut();
    // Within the bound (and the store's timeouts) both answer 503 with a code.
    let took = time_until(Duration::from_secs(15), || {
        node.req("GET", "/readyz", None, None).status == 503
    });
    let r = node.req("GET", "/readyz", None, None);
    assert!(
        ["store.unavailable", "store.stale"].contains(&r.code().as_str()),
        "{}",
        r.text
    );
    println!(
        "readyz 503 {} ms after the cut ({})",
        took.as_millis(),
        r.code()
    );
    let r = ingest("during");
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(
        ["store.unavailable", "store.stale"].contains(&r.code().as_str()),
        "{}",
        r.text
    );

    proxy.restore();
    let took = time_until(Duration::from_secs(20), || {
        node.req("GET", "/readyz", None, None).status == 200
    });
    println!(
        "ready again {} ms after the database came back",
        took.as_millis()
    );
    assert_eq!(ingest("after").status, 200);
    let ops: Vec<String> = export(&node, "acme", &key)
        .iter()
        .filter_map(|r| r["event"]["operation"].as_str().map(str::to_owned))
        .collect();
    assert!(ops.contains(&"before".to_owned()) && ops.contains(&"after".to_owned()));
}

/// Two nodes through PgBouncer in `pool_mode = transaction` (`PHYLAX_TEST_POSTGRES_POOLER`;
/// Neon's `-pooler` endpoint is one): a server connection is a node's connection's only
/// for one transaction, and the next one may be another's, so anything resting on session
/// state (named prepared statements, `SET`, `LISTEN`, session advisory locks) breaks here. The nodes race to migrate the empty database, ingest
/// concurrently into one chain, and see each other's policy change and key revocation
/// within the bound.
#[test]
fn two_nodes_through_a_transaction_mode_pooler() {
    let (Some(base), Some(pooler)) = (common::postgres(), common::postgres_pooler()) else {
        return;
    };
    let direct = common::fresh_database(&base, "pooler");
    let db = common::with_database(&pooler, common::database_of(&direct));
    let dir = tempfile::tempdir().unwrap();
    let entities = entities_file(dir.path());
    let args = node_args(&entities);
    let started = Instant::now();
    let nodes = start_nodes(dir.path(), &db, &args, 2);
    println!(
        "2 nodes started at once through PgBouncer on an empty database in {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(
        common::psql(&direct, "SELECT count(*) FROM phylax_migrations"),
        phylax_host::store::postgres::MIGRATION_COUNT.to_string(),
        "the migrations ran once"
    );
    // The test's database is pooled by PgBouncer in transaction mode.
    let name = common::database_of(&direct);
    let pools = common::pgbouncer_show(&pooler, "SHOW POOLS");
    let pool = pools
        .iter()
        .find(|p| p["database"] == name)
        .unwrap_or_else(|| panic!("no PgBouncer pool for {name}: {pools:?}"));
    assert_eq!(pool["pool_mode"], "transaction", "{pool:?}");

    nodes[0].create_tenant("acme");
    let admin_key = nodes[0].api_key("acme", &["*"]);
    let doomed = nodes[0].api_key("acme", &["authorize"]);
    let staff_export = case("staff export same-tenant mfa own-patient");
    assert_eq!(staff_export["decision"], "deny");
    let decide = |node: &Server| {
        let r = node.req(
            "POST",
            "/v1/authorize",
            Some(&doomed),
            Some(&staff_export["request"].to_string()),
        );
        (r.status, r.json()["ok"]["decision"].clone())
    };
    // Both nodes know both keys (node 2 through the store).
    for n in &nodes {
        assert_eq!(decide(n), (200, json!("deny")));
    }

    // 4 threads x 100 single-event ingests into one chain, alternating nodes.
    let acked: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let refused: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let ingest_start = Instant::now();
    std::thread::scope(|s| {
        for worker in 0..4usize {
            let (nodes, admin_key, acked, refused) = (&nodes, &admin_key, &acked, &refused);
            s.spawn(move || {
                for i in 0..100usize {
                    let node = &nodes[(worker + i) % 2];
                    let op = format!("w{worker}-{i}");
                    let body = json!({"events": [event("acme", &op)]}).to_string();
                    let r = node.req(
                        "POST",
                        "/v1/tenants/acme/audit/events",
                        Some(admin_key),
                        Some(&body),
                    );
                    if r.status == 200 {
                        acked.lock().unwrap().push(op);
                    } else {
                        refused
                            .lock()
                            .unwrap()
                            .push(format!("{op}: {} {}", r.status, r.text));
                    }
                }
            });
        }
    });
    let ingest_time = ingest_start.elapsed();
    let acked = acked.into_inner().unwrap();
    let refused = refused.into_inner().unwrap();
    println!(
        "{} of 400 concurrent single-event ingests acknowledged through PgBouncer in {} ms ({:.0}/s)",
        acked.len(),
        ingest_time.as_millis(),
        acked.len() as f64 / ingest_time.as_secs_f64()
    );
    assert!(refused.is_empty(), "refused ingests: {refused:?}");

    // A policy change through node 1, in force on node 2 within the bound.
    permit_staff_export(&nodes[0], &admin_key);
    assert_eq!(decide(&nodes[0]), (200, json!("allow")));
    let took = time_until(Duration::from_secs(5), || decide(&nodes[1]).1 == "allow");
    println!(
        "policy change in force on node 2 after {} ms",
        took.as_millis()
    );
    assert!(took <= BOUND, "policy change took {took:?} on node 2");

    // A revocation through node 1, refused by node 2 within the bound and ever after.
    revoke_authorize_key(&nodes[0], &admin_key);
    assert_eq!(decide(&nodes[0]).0, 401, "refused at once by node 1");
    let took = time_until(Duration::from_secs(5), || decide(&nodes[1]).0 == 401);
    println!(
        "revocation in force on node 2 after {} ms",
        took.as_millis()
    );
    assert!(took <= BOUND, "revocation took {took:?} on node 2");
    for _ in 0..10 {
        for n in &nodes {
            assert_eq!(decide(n).0, 401);
        }
    }

    // One chain: dense seqs, every acknowledged event exactly once, the same through
    // both nodes, valid on both.
    let records = export(&nodes[1], "acme", &admin_key);
    assert_one_chain(&records, acked.iter().map(String::as_str));
    // (An export is audited: node 1's has node 2's export appended.)
    let again = export(&nodes[0], "acme", &admin_key);
    assert!(
        again.len() > records.len() && again[..records.len()] == records[..],
        "node 1 exports another chain than node 2"
    );
    for node in &nodes {
        let v = node
            .req(
                "POST",
                "/v1/tenants/acme/audit/verify",
                Some(&admin_key),
                None,
            )
            .json();
        assert_eq!(v["ok"]["valid"], true, "{v}");
    }
    assert_eq!(
        common::psql(&direct, "SELECT count(*) FROM phylax_migrations"),
        phylax_host::store::postgres::MIGRATION_COUNT.to_string()
    );
    let stats = common::pgbouncer_show(&pooler, "SHOW STATS");
    let stat = stats.iter().find(|p| p["database"] == name);
    let pools = common::pgbouncer_show(&pooler, "SHOW POOLS");
    let pool = pools.iter().find(|p| p["database"] == name).unwrap();
    let count = |row: &BTreeMap<String, String>, cols: &[&str]| -> u64 {
        cols.iter().map(|c| row[*c].parse::<u64>().unwrap()).sum()
    };
    println!(
        "{} records, dense, every acknowledged event once, verified on both nodes; {} transactions and {} queries through PgBouncer; now {} client and {} server connections in the pool",
        records.len(),
        stat.map_or(0, |s| count(s, &["total_xact_count"])),
        stat.map_or(0, |s| count(s, &["total_query_count"])),
        count(pool, &["cl_active", "cl_waiting"]),
        count(pool, &["sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"]),
    );
}
