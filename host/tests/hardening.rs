//! The holes between the routes, each tried as an attacker holding some credential would:
//! break-glass bypass through key issuance, scope escalation, forged audit events,
//! unauthenticated floods, slow clients, plain-text errors and ambiguous ids.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Server, ADMIN};
use serde_json::{json, Value};

fn started(args: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), args);
    server.create_tenant("acme");
    server.create_tenant("globex");
    (dir, server)
}

/// The tenant's chain, as records.
fn chain(server: &Server, tenant: &str) -> Vec<Value> {
    let key = server.api_key(tenant, &["audit:read"]);
    let r = server.req(
        "GET",
        &format!("/v1/tenants/{tenant}/audit/export"),
        Some(&key),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn issue(
    server: &Server,
    token: &str,
    tenant: &str,
    body: &Value,
    break_glass: Option<&str>,
) -> common::Resp {
    let headers: Vec<(&str, &str)> = break_glass
        .map(|r| ("x-phylax-break-glass", r))
        .into_iter()
        .collect();
    server.req_h(
        "POST",
        &format!("/v1/tenants/{tenant}/api-keys"),
        Some(token),
        Some(&body.to_string()),
        &headers,
    )
}

#[test]
fn a_platform_admin_issuing_a_data_key_is_break_glass() {
    let (_dir, server) = started(&[]);
    // Control-plane scopes: no reason needed.
    let r = issue(
        &server,
        ADMIN,
        "acme",
        &json!({"scopes": ["policies:read", "tenant:read"]}),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text);
    // A key that decrypts: refused without a reason, and the refusal is in the chain.
    for scopes in [
        json!(["transit:decrypt"]),
        json!(["*"]),
        json!(["audit:read"]),
        json!(["authorize"]),
    ] {
        let r = issue(&server, ADMIN, "acme", &json!({ "scopes": scopes }), None);
        assert_eq!(r.status, 403, "{scopes}: {}", r.text);
        assert_eq!(r.code(), "auth.break_glass_required");
    }
    // A reason is bounded: it goes into the tenant's chain.
    let r = issue(
        &server,
        ADMIN,
        "acme",
        &json!({"scopes": ["transit:decrypt"]}),
        Some(&"x".repeat(1025)),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code(), "request.malformed");
    let r = issue(
        &server,
        ADMIN,
        "acme",
        &json!({"scopes": ["transit:decrypt"]}),
        Some("INC-1234 restore"),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let key_id = r.json()["ok"]["record"]["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Rotating it hands over a new key text: break-glass too.
    let r = server.admin(
        "POST",
        &format!("/v1/tenants/acme/api-keys/{key_id}/rotate"),
        Some("{}"),
    );
    assert_eq!(r.code(), "auth.break_glass_required", "{}", r.text);

    let records = chain(&server, "acme");
    let ops: Vec<(&str, &str, Option<&str>)> = records
        .iter()
        .map(|r| {
            (
                r["event"]["operation"].as_str().unwrap_or(""),
                r["event"]["outcome"].as_str().unwrap(),
                r["event"]["reason"].as_str(),
            )
        })
        .collect();
    let create = ops
        .iter()
        .position(|(op, _, reason)| *op == "api_key.create" && *reason == Some("INC-1234 restore"))
        .expect("the key's creation carries the reason");
    assert_eq!(
        ops[create - 1],
        ("break_glass", "success", Some("INC-1234 restore"))
    );
    let refusals = ops
        .iter()
        .filter(|(op, o, _)| *op == "auth.break_glass_required" && *o == "denied")
        .count();
    assert_eq!(refusals, 5, "{ops:?}");
}

#[test]
fn no_key_can_issue_a_stronger_key() {
    let (_dir, server) = started(&[]);
    let manager = server.api_key("acme", &["api_keys:manage"]);
    for scopes in [
        json!(["*"]),
        json!(["transit:decrypt"]),
        json!(["api_keys:manage", "audit:read"]),
    ] {
        let r = issue(
            &server,
            &manager,
            "acme",
            &json!({ "scopes": scopes }),
            None,
        );
        assert_eq!(r.status, 403, "{scopes}: {}", r.text);
        assert_eq!(r.code(), "auth.escalation");
    }
    // A subset is fine.
    let r = issue(
        &server,
        &manager,
        "acme",
        &json!({"scopes": ["api_keys:manage"]}),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text);
    // Rotating a stronger key would hand its new text over: refused.
    let star = server.admin_key_with_id("acme", &["*"]);
    let r = server.req(
        "POST",
        &format!("/v1/tenants/acme/api-keys/{}/rotate", star.1),
        Some(&manager),
        Some("{}"),
    );
    assert_eq!(r.code(), "auth.escalation", "{}", r.text);
    // An expiring key issues keys expiring no later than itself.
    let soon = phylax_host::state::now() + 600;
    let r = issue(
        &server,
        &star.0,
        "acme",
        &json!({"scopes": ["api_keys:manage", "authorize"], "expiresAt": soon}),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let expiring = r.json()["ok"]["apiKey"].as_str().unwrap().to_owned();
    let r = issue(
        &server,
        &expiring,
        "acme",
        &json!({"scopes": ["authorize"], "expiresAt": soon + 1}),
        None,
    );
    assert_eq!(r.code(), "auth.escalation", "{}", r.text);
    let r = issue(
        &server,
        &expiring,
        "acme",
        &json!({"scopes": ["authorize"]}),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json()["ok"]["record"]["expiresAt"],
        soon,
        "inherits the issuer's expiry"
    );
}

#[test]
fn ingested_events_cannot_pass_for_the_server() {
    let (_dir, server) = started(&[]);
    let writer = server.api_key("acme", &["audit:write"]);
    let now = phylax_host::state::now();
    let event = |patch: Value| {
        let mut e = json!({"tenant": "acme", "actor": {"id": "edge-mw", "role": "provider"}, "action": "view", "operation": "GET /records/1", "time": now, "outcome": "success"});
        for (k, v) in patch.as_object().unwrap() {
            e[k] = v.clone();
        }
        json!({ "events": [e] }).to_string()
    };
    let post = |body: String| {
        server.req(
            "POST",
            "/v1/tenants/acme/audit/events",
            Some(&writer),
            Some(&body),
        )
    };
    for (patch, code) in [
        (json!({"actor": {"id": "platform-admin"}}), "audit.reserved"),
        (
            json!({"actor": {"id": "ops", "role": "platform_admin"}}),
            "audit.reserved",
        ),
        (
            json!({"action": "admin", "operation": "tenant.offboard"}),
            "audit.reserved",
        ),
        (
            json!({"action": "authorization", "operation": "break_glass", "reason": "fake"}),
            "audit.reserved",
        ),
        (json!({"operation": "transit.decrypt"}), "audit.reserved"),
        (json!({"operation": "authorize:view"}), "audit.reserved"),
        (
            json!({"recordedBy": {"origin": "server", "credential": "platform-admin"}}),
            "audit.reserved",
        ),
        (json!({"time": now - 7200}), "audit.time_out_of_range"),
        (json!({"time": now + 3600}), "audit.time_out_of_range"),
        (json!({"time": 1_700_000_000u64}), "audit.time_out_of_range"),
    ] {
        let r = post(event(patch.clone()));
        assert_eq!(r.status, 400, "{patch}: {}", r.text);
        assert_eq!(r.code(), code, "{patch}");
    }
    let r = post(event(json!({})));
    assert_eq!(r.status, 200, "{}", r.text);

    // Every record says who wrote it; the server's own are marked as such.
    let writer_id = server
        .req("GET", "/v1/tenants/acme/api-keys", Some(ADMIN), None)
        .json()["ok"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scopes"] == json!(["audit:write"]))
        .unwrap()["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let records = chain(&server, "acme");
    assert!(
        records.iter().all(|r| r["event"]["recordedBy"].is_object()),
        "every record is marked"
    );
    let ingested: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"]["recordedBy"]["origin"] == "ingested")
        .collect();
    assert_eq!(ingested.len(), 1);
    assert_eq!(
        ingested[0]["event"]["recordedBy"]["credential"],
        format!("api_key:{writer_id}")
    );
    assert_eq!(ingested[0]["event"]["operation"], "GET /records/1");
    let create = records
        .iter()
        .find(|r| r["event"]["operation"] == "tenant.create")
        .unwrap();
    assert_eq!(
        create["event"]["recordedBy"],
        json!({"origin": "server", "credential": "platform-admin"})
    );
    // The marks are under the chain's MAC: the server's verification still passes.
    let reader = server.api_key("acme", &["audit:read"]);
    let v = server
        .req("POST", "/v1/tenants/acme/audit/verify", Some(&reader), None)
        .json();
    assert_eq!(v["ok"]["valid"], true, "{v}");
}

/// A key text with `key_id` and a valid checksum, but a secret nobody issued.
fn forged_key(key_id: &str) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let body = format!("phx_live_{key_id}_{}", "a".repeat(52));
    let crc = crc32fast::hash(body.as_bytes()).to_be_bytes();
    // Lowercase base32 of the 4 checksum bytes, no padding: 7 characters.
    let bits = u64::from(u32::from_be_bytes(crc)) << 3;
    let checksum: String = (0..7)
        .map(|i| ALPHABET[((bits >> (30 - 5 * i)) & 31) as usize] as char)
        .collect();
    format!("{body}_{checksum}")
}

#[test]
fn a_forged_key_flood_is_throttled_and_summarized_once_per_window() {
    let (_dir, server) = started(&[
        "--auth-failure-burst",
        "20",
        "--audit-failure-window-secs",
        "1",
    ]);
    let (_key, key_id) = server.admin_key_with_id("acme", &["authorize"]);
    let forged = forged_key(&key_id);
    let before = chain(&server, "acme").len();
    // The forged key parses (real id, valid checksum) and fails only on its secret.
    let r = server.req("GET", "/v1/tenants/acme", Some(&forged), None);
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.code(), "api_key.invalid", "{}", r.text);
    let started_at = Instant::now();
    let (mut unauthorized, mut limited) = (1u64, 0u64);
    for _ in 0..300 {
        let r = server.req("GET", "/v1/tenants/acme", Some(&forged), None);
        match r.status {
            401 => unauthorized += 1,
            429 => {
                limited += 1;
                assert!(r.retry_after.is_some(), "429 carries Retry-After");
                assert_eq!(r.code(), "rate.limited");
            }
            s => panic!("unexpected {s}: {}", r.text),
        }
    }
    assert!(
        unauthorized <= 20 + 2 + started_at.elapsed().as_secs() + 1,
        "{unauthorized} reached verification"
    );
    assert!(limited >= 250, "{limited} throttled");
    // Once blocked, the address is refused before its credential is looked at.
    let r = server.req("GET", "/v1/tenants", Some(ADMIN), None);
    assert_eq!(r.status, 429, "{}", r.text);
    std::thread::sleep(Duration::from_millis(2500));

    let records = chain(&server, "acme");
    let summaries: Vec<&Value> = records
        .iter()
        .skip(before)
        .filter(|r| r["event"]["operation"] == "auth.failed_attempts")
        .collect();
    let windows = started_at.elapsed().as_secs() + 1;
    assert!(
        !summaries.is_empty() && summaries.len() as u64 <= windows,
        "{} summaries in {windows} windows",
        summaries.len()
    );
    let counted: u64 = summaries
        .iter()
        .map(|r| {
            let reason = r["event"]["reason"].as_str().unwrap();
            assert!(reason.contains(&key_id), "{reason}");
            reason.split(' ').next().unwrap().parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(
        counted, unauthorized,
        "every attempt that reached verification is counted"
    );
    let per_attempt = records
        .iter()
        .skip(before)
        .filter(|r| r["event"]["operation"] == "api_key.invalid")
        .count();
    assert_eq!(per_attempt, 0, "no record per attempt");
}

#[test]
fn errors_are_json_and_ids_are_unambiguous() {
    let (_dir, server) = started(&["--request-timeout-ms", "700"]);
    let key = server.api_key("acme", &["*"]);
    let json_error = |r: &common::Resp, status: u16, code: &str| {
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(r.code(), code, "{}", r.text);
        assert!(!r.json()["error"]["hint"].as_str().unwrap().is_empty());
    };
    for (path, code) in [
        ("/v1/tenants/acme/audit/events?after=x", "request.malformed"),
        ("/v1/tenants/acme/audit/events?bogus=1", "request.malformed"),
        ("/v1/tenants/acme/audit/events?limit=0", "request.malformed"),
        (
            "/v1/tenants/acme/audit/events?after=9223372036854775808",
            "request.malformed",
        ),
        (
            "/v1/tenants/acme/policies/versions/abc",
            "request.malformed",
        ),
        ("/v1/tenants/%FF/policies", "tenant.invalid_id"),
    ] {
        json_error(&server.req("GET", path, Some(&key), None), 400, code);
    }
    json_error(
        &server.req("PATCH", "/v1/tenants", Some(ADMIN), Some("{}")),
        405,
        "request.method_not_allowed",
    );
    json_error(
        &server.req("GET", "/v1/nowhere", Some(ADMIN), None),
        404,
        "route.not_found",
    );
    for id in [".", "..", "a.b", "a/b", "%2e", "x".repeat(65).as_str(), ""] {
        let r = server.admin(
            "POST",
            "/v1/tenants",
            Some(&json!({ "id": id }).to_string()),
        );
        json_error(&r, 400, "tenant.invalid_id");
    }
    // Dot segments sent as they are (a client library would normalize them away).
    for path in [
        "/v1/tenants/./policies",
        "/v1/tenants/..",
        "/v1/tenants/../policies",
        "/v1/tenants/acme/api-keys/../rotate",
    ] {
        let answer = server.raw(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n").as_bytes(),
            Duration::from_secs(5),
        );
        assert!(answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
        assert!(answer.contains("invalid_id"), "{path}: {answer}");
    }
    // A body that never finishes: 408 with the JSON error, not an empty body.
    let answer = server.raw(
        format!("POST /v1/tenants/acme/transit/encrypt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"field\"").as_bytes(),
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request.timeout\""), "{answer}");
}

#[test]
fn slow_clients_are_closed_and_healthz_keeps_answering() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // This test holds over 1,000 sockets itself: lift its own soft limit to the hard one.
    let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let want = lim.maximum.unwrap_or(65_536).min(65_536);
    if lim.current.is_some_and(|c| c < want) {
        rustix::process::setrlimit(
            rustix::process::Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(want),
                maximum: lim.maximum,
            },
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let timeout_ms = 3000u64;
    let server = Server::start_with_nofile(
        1024,
        &dir.path().join("data"),
        &["--header-read-timeout-ms", &timeout_ms.to_string()],
    );
    let addr: std::net::SocketAddr = server.addr().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    const SLOW: usize = 1000;
    let start = Instant::now();
    // 1,000 clients from one address (127.0.0.2) each send a request's headers one line
    // every 300 ms, forever; each task returns when the server closed it, and when.
    let tasks: Vec<_> = (0..SLOW)
        .map(|_| {
            rt.spawn(async move {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
                let Ok(mut stream) = socket.connect(addr).await else {
                    return Some(start.elapsed());
                };
                if stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    .await
                    .is_err()
                {
                    return Some(start.elapsed());
                }
                let mut buf = [0u8; 256];
                loop {
                    tokio::select! {
                        read = stream.read(&mut buf) => match read {
                            Ok(0) | Err(_) => return Some(start.elapsed()),
                            Ok(_) => {} // an error answer; the close follows
                        },
                        () = tokio::time::sleep(Duration::from_millis(300)) => {
                            if start.elapsed() > Duration::from_secs(30) {
                                return None; // never closed
                            }
                            if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                                return Some(start.elapsed());
                            }
                        }
                    }
                }
            })
        })
        .collect();
    // While they hold their connections, /healthz from 127.0.0.1 answers promptly.
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..5 {
        let t = Instant::now();
        let r = server.req("GET", "/healthz", None, None);
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "healthz took {:?}",
            t.elapsed()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let closed: Vec<Option<Duration>> = rt.block_on(async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let limit = Duration::from_millis(timeout_ms + 2000);
    let late: Vec<_> = closed
        .iter()
        .filter(|c| c.is_none_or(|d| d > limit))
        .collect();
    assert!(
        late.is_empty(),
        "{} slow connections outlived {limit:?}",
        late.len()
    );
    let held = closed
        .iter()
        .flatten()
        .filter(|d| **d >= Duration::from_millis(timeout_ms - 500))
        .count();
    assert!(
        held > 0 && held <= 256,
        "{held} connections were held until the timeout (per-address cap 256)"
    );
    println!(
        "slowloris: {SLOW} slow connections, {held} held until the {timeout_ms} ms header timeout, {} refused at once; all closed within {:?}",
        SLOW - held,
        closed.iter().flatten().max().unwrap()
    );
    assert_eq!(server.req("GET", "/healthz", None, None).status, 200);
}

#[test]
fn a_hostile_policy_is_refused_and_every_tenant_keeps_being_served() {
    // One ~2 KB policy used to abort the whole process (stack overflow on a tokio worker).
    let (_dir, server) = started(&[]);
    let writer = server.api_key("acme", &["policies:write", "policies:read"]);
    let reader = server.api_key("globex", &["tenant:read"]);
    for (name, cond) in [
        (
            "1,000 nested parentheses",
            format!("{}true{}", "(".repeat(1000), ")".repeat(1000)),
        ),
        ("500 nested ifs", {
            let mut e = String::from("true");
            for _ in 0..500 {
                e = format!("if true then {e} else false");
            }
            e
        }),
        ("a 5,000-term chain", vec!["true"; 5000].join(" || ")),
    ] {
        let body = json!({"policies": [{"name": "deep.cedar", "text": format!("permit (principal, action, resource) when {{ {cond} }};")}]});
        let r = server.req(
            "PUT",
            "/v1/tenants/acme/policies",
            Some(&writer),
            Some(&body.to_string()),
        );
        assert_eq!(r.status, 400, "{name}: {}", r.text);
        assert!(r.code().starts_with("limit."), "{name}: {}", r.text);
        assert_eq!(
            server
                .req("GET", "/v1/tenants/globex", Some(&reader), None)
                .status,
            200,
            "after {name}"
        );
    }
    assert_eq!(server.req("GET", "/healthz", None, None).status, 200);
}
