//! The admin console's server side, over HTTP against a real `phylax serve`: the
//! session cookie and its CSRF token (docs/security.md, "Console sessions"), the
//! security headers, the embedded files, and the audit review the console pages through
//! (filters in the database, newest first, the filtered export, the fault's seq).
//! The pages themselves are tested in Chromium by `console/test/e2e.test.mjs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use common::{Resp, Server, ADMIN};
use serde_json::{json, Value};

/// The cookie a sign-in set: (`name=value`, its attributes).
fn session_cookie(r: &Resp) -> (String, String) {
    let set = r.header("set-cookie").expect("a Set-Cookie header");
    let (pair, attrs) = set.split_once(';').unwrap();
    (pair.trim().to_owned(), attrs.to_owned())
}

fn sign_in(server: &Server, credential: &str) -> (String, String) {
    let r = server.req("POST", "/v1/session", Some(credential), Some("{}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let (cookie, _) = session_cookie(&r);
    let csrf = r.json()["ok"]["csrf"].as_str().unwrap().to_owned();
    (cookie, csrf)
}

fn with_cookie(
    server: &Server,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    extra: &[(&str, &str)],
) -> Resp {
    let mut headers = vec![("cookie", cookie)];
    if let Some(c) = csrf {
        headers.push(("x-phylax-csrf", c));
    }
    headers.extend_from_slice(extra);
    server.req_h(method, path, None, Some("{}"), &headers)
}

#[test]
fn a_session_holds_the_credential_sealed_and_needs_its_csrf_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    server.create_tenant("acme");

    // Sign in: the cookie is HttpOnly, SameSite=Strict, for the whole server; plain
    // HTTP on loopback may go without Secure, a TLS proxy's request may not.
    let r = server.req("POST", "/v1/session", Some(ADMIN), Some("{}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let (cookie, attrs) = session_cookie(&r);
    assert!(cookie.starts_with("phylax_session="));
    for a in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(attrs.contains(a), "{attrs} lacks {a}");
    }
    assert!(!attrs.contains("Secure"), "{attrs}");
    assert!(!cookie.contains(ADMIN) && !r.text.contains(ADMIN));
    let info = r.json()["ok"].clone();
    assert_eq!(info["kind"], "admin");
    assert_eq!(info["actor"], "platform-admin");
    let csrf = info["csrf"].as_str().unwrap().to_owned();
    let tls = server.req_h(
        "POST",
        "/v1/session",
        Some(ADMIN),
        Some("{}"),
        &[("x-forwarded-proto", "https")],
    );
    let (secure_pair, secure_attrs) = session_cookie(&tls);
    assert!(secure_attrs.contains("Secure"), "{secure_attrs}");
    // Behind TLS the name carries `__Host-` (no Domain, Path=/, Secure: no sibling
    // subdomain can plant one), and the plain name is not read.
    assert!(
        secure_pair.starts_with("__Host-phylax_session="),
        "{secure_pair}"
    );
    let plain = secure_pair.trim_start_matches("__Host-");
    with_cookie(
        &server,
        "GET",
        "/v1/tenants",
        plain,
        Some(tls.json()["ok"]["csrf"].as_str().unwrap()),
        &[("x-forwarded-proto", "https")],
    )
    .assert_error(401, "auth.missing");
    assert!(tls
        .header("strict-transport-security")
        .is_some_and(|h| h.starts_with("max-age=")));
    assert!(r.header("strict-transport-security").is_none());

    // The cookie stands for the credential, with the CSRF token.
    let ok = with_cookie(&server, "GET", "/v1/tenants", &cookie, Some(&csrf), &[]);
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    for csrf in [None, Some(""), Some("not-the-token")] {
        with_cookie(&server, "GET", "/v1/tenants", &cookie, csrf, &[])
            .assert_error(403, "auth.csrf");
    }
    // A reloaded page gets the token back without sending it (only this route).
    let again = with_cookie(&server, "GET", "/v1/session", &cookie, None, &[]);
    assert_eq!(again.json()["ok"]["csrf"], csrf.as_str());
    // A bearer credential has no session to show.
    server
        .req("GET", "/v1/session", Some(ADMIN), None)
        .assert_error(401, "auth.no_session");

    // A forged or altered cookie is refused like a bad credential.
    let value = cookie.trim_start_matches("phylax_session=");
    let flipped = format!(
        "phylax_session={}{}",
        if value.starts_with('A') { "B" } else { "A" },
        &value[1..]
    );
    for bad in [
        flipped.as_str(),
        "phylax_session=garbage",
        "phylax_session=x",
    ] {
        let r = with_cookie(&server, "GET", "/v1/tenants", bad, Some(&csrf), &[]);
        r.assert_error(401, "auth.session_invalid");
        // ... and removed, so the browser stops sending it.
        let (gone, attrs) = session_cookie(&r);
        assert_eq!(gone, "phylax_session=");
        assert!(attrs.contains("Max-Age=0"), "{attrs}");
    }
    // A server under another root key does not accept it.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Server::start_env(
        other_dir.path(),
        &[],
        &[(
            "PHYLAX_ROOT_KEY",
            "2222222222222222222222222222222222222222222222222222222222222222",
        )],
    );
    with_cookie(&other, "GET", "/v1/tenants", &cookie, Some(&csrf), &[])
        .assert_error(401, "auth.session_invalid");

    // Sign out removes the cookie.
    let out = with_cookie(&server, "DELETE", "/v1/session", &cookie, Some(&csrf), &[]);
    assert_eq!(out.status, 200, "{}", out.text);
    let (gone, attrs) = session_cookie(&out);
    assert_eq!(gone, "phylax_session=");
    assert!(attrs.contains("Max-Age=0"));
}

#[test]
fn who_may_sign_in_and_what_ends_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    server.create_tenant("acme");
    let reader = server.api_key("acme", &["audit:read"]);
    let (cookie, csrf) = sign_in(&server, &reader);
    let info = with_cookie(&server, "GET", "/v1/session", &cookie, None, &[]).json();
    assert_eq!(info["ok"]["kind"], "api_key");
    assert_eq!(info["ok"]["tenant"], "acme");
    assert_eq!(info["ok"]["scopes"], json!(["audit:read"]));
    // Its scopes, in its tenant only: the session is no stronger than the key.
    let page = with_cookie(
        &server,
        "GET",
        "/v1/tenants/acme/audit/events?order=desc",
        &cookie,
        Some(&csrf),
        &[],
    );
    assert_eq!(page.status, 200, "{}", page.text);
    // The sign-in is in the tenant's chain.
    let ops: Vec<Value> = page.json()["ok"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"]["operation"].clone())
        .collect();
    assert!(ops.contains(&json!("auth.console_sign_in")), "{ops:?}");
    with_cookie(&server, "GET", "/v1/tenants", &cookie, Some(&csrf), &[])
        .assert_error(403, "auth.forbidden");
    with_cookie(
        &server,
        "GET",
        "/v1/tenants/acme/api-keys",
        &cookie,
        Some(&csrf),
        &[],
    )
    .assert_error(403, "auth.scope");

    // A key without an admin scope may not sign in at all; nor a bad credential.
    let app = server.api_key("acme", &["authorize", "transit:encrypt"]);
    server
        .req("POST", "/v1/session", Some(&app), Some("{}"))
        .assert_error(403, "console.not_admin");
    server
        .req("POST", "/v1/session", Some("not-a-credential"), Some("{}"))
        .assert_error(401, "auth.invalid");

    // Revoking the key ends its session on the next request.
    let key_id = server
        .admin("GET", "/v1/tenants/acme/api-keys", None)
        .json()["ok"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scopes"] == json!(["audit:read"]))
        .unwrap()["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = server.admin(
        "DELETE",
        &format!("/v1/tenants/acme/api-keys/{key_id}"),
        None,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    with_cookie(
        &server,
        "GET",
        "/v1/tenants/acme/audit/events",
        &cookie,
        Some(&csrf),
        &[],
    )
    .assert_error(401, "api_key.revoked");
}

#[test]
fn the_console_is_served_with_strict_headers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let raw = server.raw(
        b"GET /console HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        std::time::Duration::from_secs(5),
    );
    assert!(raw.starts_with("HTTP/1.1 308"), "{raw}");
    assert!(raw.to_lowercase().contains("location: /console/"), "{raw}");
    let page = server.req("GET", "/console/", None, None);
    let csp = page.header("content-security-policy").unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp} lacks {directive}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    if !phylax_host::console::is_built() {
        // `scripts/test` builds the console before the server: there it must be in.
        assert!(
            std::env::var_os("PHYLAX_REQUIRE_CONSOLE").is_none(),
            "the server was built without console/dist"
        );
        page.assert_error(503, "console.not_built");
        return;
    }
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    // No inline script or style: every script and stylesheet is a file of ours.
    let html = page.text.to_lowercase();
    assert!(!html.contains("<style"), "{html}");
    assert!(!html.contains(" style="), "{html}");
    for tag in html.split("<script").skip(1) {
        assert!(tag.split('>').next().unwrap().contains("src="), "{tag}");
    }
    let js = server.req_h(
        "GET",
        "/console/assets/console.js",
        None,
        None,
        &[("accept-encoding", "identity")],
    );
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.header("content-encoding").is_none());
    let etag = js.etag.clone().unwrap();
    let again = server.req_h(
        "GET",
        "/console/assets/console.js",
        None,
        None,
        &[("if-none-match", &etag)],
    );
    assert_eq!(again.status, 304);
    let gz = server.raw(
        b"GET /console/assets/console.js HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        std::time::Duration::from_secs(5),
    );
    assert!(
        gz.to_lowercase().contains("content-encoding: gzip"),
        "{}",
        &gz[..300.min(gz.len())]
    );
    server
        .req("GET", "/console/assets/nope.js", None, None)
        .assert_error(404, "console_file.not_found");
}

/// Events of tenant `acme` for the review tests: actor, outcome, record, changed fields.
fn ingest(server: &Server, key: &str, n: u64) {
    let now = phylax_host::state::now();
    let events: Vec<Value> = (0..n)
        .map(|i| {
            let mut e = json!({
                "tenant": "acme",
                "actor": {"id": format!("user:{}", ["ann", "bob", "cy"][(i % 3) as usize]),
                          "role": if i % 2 == 0 { "staff" } else { "provider" },
                          "sourceIp": format!("10.1.0.{}", i % 4)},
                "action": if i % 5 == 0 { "update" } else { "view" },
                "operation": "chart.read",
                "record": {"type": "Patient", "id": format!("p{}", i % 10)},
                "time": now - 100 + i % 50,
                "outcome": if i % 7 == 0 { "denied" } else { "success" },
            });
            if i % 5 == 0 {
                e["changedFields"] = json!(["diagnosis", "notes"]);
            }
            e
        })
        .collect();
    let r = server.req(
        "POST",
        "/v1/tenants/acme/audit/events",
        Some(key),
        Some(&json!({ "events": events }).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
}

#[test]
fn audit_review_filters_pages_exports_and_finds_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    server.create_tenant("acme");
    let writer = server.api_key("acme", &["audit:write"]);
    let reader = server.api_key("acme", &["audit:read"]);
    ingest(&server, &writer, 120);
    let get = |q: &str| {
        let r = server.req(
            "GET",
            &format!("/v1/tenants/acme/audit/events?{q}"),
            Some(&reader),
            None,
        );
        assert_eq!(r.status, 200, "{q}: {}", r.text);
        r.json()["ok"].clone()
    };
    let everything: Vec<Value> = get("limit=1000")["records"].as_array().unwrap().clone();
    let expect = |pred: &dyn Fn(&Value) -> bool| -> Vec<u64> {
        let mut s: Vec<u64> = everything
            .iter()
            .filter(|r| pred(&r["event"]))
            .map(|r| r["seq"].as_u64().unwrap())
            .collect();
        s.reverse();
        s
    };
    let seqs = |page: &Value| -> Vec<u64> {
        page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect()
    };
    for (query, pred) in [
        (
            "actor=user:bob",
            Box::new(|e: &Value| e["actor"]["id"] == "user:bob") as Box<dyn Fn(&Value) -> bool>,
        ),
        (
            "role=provider",
            Box::new(|e: &Value| e["actor"]["role"] == "provider"),
        ),
        (
            "action=update",
            Box::new(|e: &Value| e["action"] == "update"),
        ),
        (
            "outcome=denied",
            Box::new(|e: &Value| e["outcome"] == "denied"),
        ),
        (
            "recordType=Patient&recordId=p3",
            Box::new(|e: &Value| e["record"]["id"] == "p3"),
        ),
        (
            "sourceIp=10.1.0.2",
            Box::new(|e: &Value| e["actor"]["sourceIp"] == "10.1.0.2"),
        ),
        (
            "actor=user:ann&outcome=success&action=view",
            Box::new(|e: &Value| {
                e["actor"]["id"] == "user:ann" && e["outcome"] == "success" && e["action"] == "view"
            }),
        ),
        (
            "operation=chart.read",
            Box::new(|e: &Value| e["operation"] == "chart.read"),
        ),
    ] {
        let page = get(&format!("order=desc&limit=1000&{query}"));
        let want = expect(&*pred);
        assert!(!want.is_empty(), "{query}");
        assert_eq!(seqs(&page), want, "{query}");
    }
    let now = phylax_host::state::now();
    let (from, to) = (now - 90, now - 80);
    let window = get(&format!("order=desc&limit=1000&from={from}&to={to}"));
    assert_eq!(
        seqs(&window),
        expect(&|e| (from..=to).contains(&e["time"].as_u64().unwrap()))
    );
    // Newest first in pages of 25, following `next`, walks every match once.
    let mut walked = Vec::new();
    let mut q = "order=desc&limit=25&outcome=success".to_owned();
    loop {
        let page = get(&q);
        walked.extend(seqs(&page));
        match page["next"].as_u64() {
            Some(n) => q = format!("order=desc&limit=25&outcome=success&before={n}"),
            None => break,
        }
    }
    assert_eq!(walked, expect(&|e| e["outcome"] == "success"));
    // Changed fields are in the records the console shows.
    let updates = get("order=desc&limit=1&action=update");
    assert_eq!(
        updates["records"][0]["event"]["changedFields"],
        json!(["diagnosis", "notes"])
    );

    // Bad queries are refused, never answered unfiltered.
    for q in [
        "actr=user:bob",
        "after=1&before=5",
        "before=5",
        "order=desc&after=5",
        "order=sideways",
        "limit=0",
        "limit=1001",
        "action=explode",
        "outcome=maybe",
        "from=10&to=5",
        "before=9223372036854775808&order=desc",
        "format=csv",
    ] {
        server
            .req(
                "GET",
                &format!("/v1/tenants/acme/audit/events?{q}"),
                Some(&reader),
                None,
            )
            .assert_error(400, "request.malformed");
    }
    let long = "x".repeat(300);
    server
        .req(
            "GET",
            &format!("/v1/tenants/acme/audit/events?actor={long}"),
            Some(&reader),
            None,
        )
        .assert_error(400, "request.malformed");

    // The filtered export: JSON Lines and CSV of exactly the matches, oldest first,
    // itself audited; a formula-looking cell is defused.
    let evil = json!({"events": [{
        "tenant": "acme", "actor": {"id": "=HYPERLINK(\"http://x\")", "role": "staff"},
        "action": "view", "operation": "+chart", "time": phylax_host::state::now(),
        "outcome": "failure"}]});
    let r = server.req(
        "POST",
        "/v1/tenants/acme/audit/events",
        Some(&writer),
        Some(&evil.to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let jsonl = server.req(
        "GET",
        "/v1/tenants/acme/audit/export?format=jsonl&outcome=denied",
        Some(&reader),
        None,
    );
    assert_eq!(jsonl.status, 200, "{}", jsonl.text);
    let lines: Vec<u64> = jsonl
        .text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut denied = expect(&|e| e["outcome"] == "denied");
    denied.reverse();
    assert_eq!(lines, denied);
    let csv = server.req(
        "GET",
        "/v1/tenants/acme/audit/export?format=csv&outcome=failure",
        Some(&reader),
        None,
    );
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    let rows: Vec<&str> = csv.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        rows[0],
        "seq,time,actor,role,sourceIp,action,operation,outcome,recordType,recordId,changedFields,reason,hash"
    );
    assert_eq!(rows.len(), 2, "{}", csv.text);
    assert!(
        rows[1].contains(",\"'=HYPERLINK(\"\"http://x\"\")\",staff,,view,'+chart,failure,"),
        "{}",
        rows[1]
    );
    let exports = get("order=desc&limit=10&operation=audit.export");
    assert_eq!(exports["records"].as_array().unwrap().len(), 2);
    server
        .req(
            "GET",
            "/v1/tenants/acme/audit/export?format=csv&limit=5",
            Some(&reader),
            None,
        )
        .assert_error(400, "request.malformed");

    // Verify: intact up to the head; then a record altered in the store is the fault,
    // at its seq.
    let v = server.req(
        "POST",
        "/v1/tenants/acme/audit/verify",
        Some(&reader),
        Some("{}"),
    );
    let head = v.json()["ok"]["head"]["seq"].as_u64().unwrap();
    assert_eq!(v.json()["ok"]["valid"], true);
    assert!(head > 120);
    let db = rusqlite::Connection::open(dir.path().join("phylax.db")).unwrap();
    let changed = db
        .execute(
            "UPDATE audit_records SET record = replace(record, '\"outcome\":\"denied\"', '\"outcome\":\"success\"') WHERE tenant = 'acme' AND seq = ?1",
            [denied[2]],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let v = server.req(
        "POST",
        "/v1/tenants/acme/audit/verify",
        Some(&reader),
        Some("{}"),
    );
    let verdict = v.json()["ok"].clone();
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["error"]["code"], "audit.modified");
    assert_eq!(verdict["faultSeq"].as_u64(), Some(denied[2]));
    // The filter columns read what the record now says.
    let now_denied = seqs(&get("order=asc&limit=1000&outcome=denied"));
    assert!(!now_denied.contains(&denied[2]));
}
