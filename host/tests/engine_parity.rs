//! `--engine wasm` and `--engine native`: two real servers, the same tenants and base
//! entities, every healthcare pack case and a set of bad requests through
//! `/v1/authorize`, byte-identical answers. Needs the component built first
//! (`cargo build -p phylax-component --target wasm32-wasip2 --release`; the test command
//! does this).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use common::{pack_cases, resource_tenant, Server};

fn start(dir: &std::path::Path, engine: &str, entities: &std::path::Path) -> Server {
    let server = Server::start(
        &dir.join(engine),
        &[
            "--engine",
            engine,
            "--entities-file",
            entities.to_str().unwrap(),
            "--rate-limit-per-second",
            "100000",
            "--rate-limit-burst",
            "100000",
        ],
    );
    for t in ["platform", "acme", "globex"] {
        server.create_tenant(t);
    }
    server
}

#[test]
fn wasm_and_native_engines_answer_byte_identically() {
    let dir = tempfile::tempdir().unwrap();
    let cases = pack_cases();
    let entities = dir.path().join("entities.json");
    std::fs::write(&entities, cases["baseEntities"].to_string()).unwrap();
    let native = start(dir.path(), "native", &entities);
    let wasm = start(dir.path(), "wasm", &entities);
    let keys: Vec<_> = [&native, &wasm]
        .iter()
        .map(|s| {
            ["platform", "acme", "globex"]
                .map(|t| (t.to_owned(), s.api_key(t, &["authorize"])))
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>()
        })
        .collect();

    let mut compared = 0;
    for case in cases["cases"].as_array().unwrap() {
        let req = case["request"].to_string();
        let tenant = resource_tenant(&case["request"]);
        let a = native.req("POST", "/v1/authorize", Some(&keys[0][&tenant]), Some(&req));
        let b = wasm.req("POST", "/v1/authorize", Some(&keys[1][&tenant]), Some(&req));
        assert_eq!(a.status, 200, "{}: {}", case["name"], a.text);
        assert_eq!((b.status, &b.text), (a.status, &a.text), "{}", case["name"]);
        assert_eq!(
            a.json()["ok"]["decision"],
            case["decision"],
            "{}",
            case["name"]
        );
        compared += 1;
    }
    assert_eq!(compared, 1456);

    // Bad requests get the same error answers, and both engines keep answering.
    let bad = [
        r#"{"principal":{"type":"User","id":"u"}}"#.to_owned(),
        r#"{"principal":{"type":"Nope","id":"u"},"action":{"type":"Action","id":"view"},"resource":{"type":"Tenant","id":"acme"}}"#.to_owned(),
        r#"{"principal":{"type":"User","id":"u"},"action":{"type":"Action","id":"fly"},"resource":{"type":"Tenant","id":"acme"}}"#.to_owned(),
        r#"{"principal":{"type":"User","id":"u"},"action":{"type":"Action","id":"view"},"resource":{"type":"Tenant","id":"acme"},"context":{"mfa":"yes"}}"#.to_owned(),
    ];
    for body in &bad {
        let a = native.req("POST", "/v1/authorize", Some(&keys[0]["acme"]), Some(body));
        let b = wasm.req("POST", "/v1/authorize", Some(&keys[1]["acme"]), Some(body));
        assert_eq!((b.status, &b.text), (a.status, &a.text), "{body}");
        assert!(a.text.contains("\"error\""), "{body}: {}", a.text);
    }
    let first = &cases["cases"][0];
    let tenant = resource_tenant(&first["request"]);
    let after = wasm.req(
        "POST",
        "/v1/authorize",
        Some(&keys[1][&tenant]),
        Some(&first["request"].to_string()),
    );
    assert_eq!(after.status, 200, "{}", after.text);
}
