//! The privilege model, walked: the tables of `docs/security.md` ("Privilege model")
//! say who may call what; this test reads them, checks they list exactly the routes of
//! `/openapi.json` (and of the server's own table), derives the expected answer of every
//! credential kind × route × tenant (own, other) from the written rules, and sends each
//! request to a real `phylax serve`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::{Server, ADMIN};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;

const ISSUER: &str = "https://idp.test/";
const AUDIENCE: &str = "https://phylax.test";

/// One row of the documented route table.
#[derive(Debug, Clone)]
struct Row {
    method: String,
    path: String,
    scope: Option<String>,
    reach: String,
}

/// The route table of `docs/security.md`'s "Privilege model" section.
fn documented_routes() -> Vec<Row> {
    let doc = include_str!("../../docs/security.md");
    let section = doc
        .split("## Privilege model")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/security.md has a Privilege model section");
    let mut rows = Vec::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | `METHOD /v1/...` | `scope` or — | reach |
        if cells.len() != 5 || !cells[1].starts_with("`") || !cells[1].contains(" /v1") {
            continue;
        }
        let route = cells[1].trim_matches('`');
        let (method, path) = route.split_once(' ').unwrap();
        let scope = (cells[2] != "—").then(|| cells[2].trim_matches('`').to_owned());
        rows.push(Row {
            method: method.to_owned(),
            path: path.to_owned(),
            scope,
            reach: cells[3].to_owned(),
        });
    }
    rows
}

/// Scopes of a user's roles, as the "Scopes of a user JWT's roles" table says; the
/// second list is what an administrator role would add with MFA.
fn documented_user_scopes(roles: &[&str], mfa: bool) -> (BTreeSet<String>, BTreeSet<String>) {
    let all = [
        "authorize",
        "transit:encrypt",
        "transit:decrypt",
        "keys:rotate",
        "audit:write",
        "audit:read",
        "policies:read",
        "policies:write",
        "api_keys:manage",
        "tenant:read",
        "tenant:export",
    ];
    let mut held: BTreeSet<String> = ["authorize", "audit:write"].map(String::from).into();
    if roles.contains(&"provider") {
        held.extend(["transit:encrypt", "transit:decrypt"].map(String::from));
    }
    let mut needs_mfa = BTreeSet::new();
    if roles.iter().any(|r| *r == "owner" || *r == "tenant_admin") {
        for s in all {
            if mfa {
                held.insert(s.to_owned());
            } else if !held.contains(s) {
                needs_mfa.insert(s.to_owned());
            }
        }
    }
    (held, needs_mfa)
}

/// A credential kind of the walk.
#[derive(Debug, Clone)]
enum Kind {
    None,
    Admin {
        break_glass: bool,
    },
    /// A key of `acme` with these scopes.
    Key {
        scopes: Vec<String>,
    },
    /// A user of `acme`.
    User {
        roles: Vec<&'static str>,
        mfa: bool,
    },
}

/// What the written rules say: `Ok(())` for allowed (any status but 401/403), or the
/// status and code of the refusal.
fn expected(kind: &Kind, row: &Row, other_tenant: bool) -> Result<(), (u16, &'static str)> {
    let held = |scope: &str| -> Result<(), (u16, &'static str)> {
        match kind {
            Kind::Key { scopes } if scopes.iter().any(|s| s == scope || s == "*") => Ok(()),
            Kind::Key { .. } => Err((403, "auth.scope")),
            Kind::User { roles, mfa } => {
                let (held, needs) = documented_user_scopes(roles, *mfa);
                if held.contains(scope) {
                    Ok(())
                } else if needs.contains(scope) {
                    Err((403, "auth.mfa_required"))
                } else {
                    Err((403, "auth.scope"))
                }
            }
            _ => unreachable!(),
        }
    };
    match kind {
        Kind::None => Err((401, "auth.missing")),
        _ if row.reach == "any" => Ok(()),
        // The console session (docs/security.md, "Console sessions"): a bearer credential
        // signs in when it is an administrator's, has no session to show, and may sign out.
        _ if row.reach == "session" => match row.method.as_str() {
            "GET" => Err((401, "auth.no_session")),
            "DELETE" => Ok(()),
            _ => match kind {
                Kind::Admin { .. } => Ok(()),
                Kind::Key { scopes }
                    if scopes.iter().any(|s| {
                        [
                            "*",
                            "audit:read",
                            "policies:write",
                            "api_keys:manage",
                            "keys:rotate",
                        ]
                        .contains(&s.as_str())
                    }) =>
                {
                    Ok(())
                }
                Kind::User { roles, mfa }
                    if roles.iter().any(|r| *r == "owner" || *r == "tenant_admin") =>
                {
                    if *mfa {
                        Ok(())
                    } else {
                        Err((403, "auth.mfa_required"))
                    }
                }
                _ => Err((403, "console.not_admin")),
            },
        },
        Kind::Admin { break_glass } => match row.reach.as_str() {
            "data" if !break_glass => Err((403, "auth.break_glass_required")),
            _ => Ok(()),
        },
        Kind::Key { .. } | Kind::User { .. } => {
            if other_tenant {
                Err((403, "auth.other_tenant"))
            } else if row.reach == "platform" {
                Err((403, "auth.forbidden"))
            } else {
                held(row.scope.as_deref().unwrap())
            }
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An EdDSA-signed user token of tenant `acme`.
fn user_token(key: &SigningKey, sub: &str, roles: &[&str], mfa: bool) -> String {
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": "walk"});
    let claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub,
        "exp": phylax_host::state::now() + 3600,
        "https://phylax.dev/tenant": "acme",
        "https://phylax.dev/roles": roles,
        "amr": if mfa { vec!["pwd", "mfa"] } else { vec!["pwd"] },
    });
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&signature.to_bytes()))
}

/// A server with JWT credentials, tenants `acme` and `globex`.
fn jwt_server(dir: &std::path::Path) -> (Server, SigningKey) {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "walk",
        "x": b64(key.verifying_key().as_bytes())}]});
    let jwks_file = dir.join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();
    let server = Server::start(
        &dir.join("data"),
        &[
            "--jwt-jwks-file",
            jwks_file.to_str().unwrap(),
            "--jwt-issuer",
            ISSUER,
            "--jwt-audience",
            AUDIENCE,
            "--rate-limit-burst",
            "100000",
        ],
    );
    server.create_tenant("acme");
    server.create_tenant("globex");
    (server, key)
}

#[test]
fn the_written_privilege_model_is_what_the_server_does() {
    let dir = tempfile::tempdir().unwrap();
    let (server, signer) = jwt_server(dir.path());
    let mut rows = documented_routes();

    // The document, the server's table and /openapi.json list the same routes.
    let doc: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let code: BTreeSet<(String, String)> = phylax_host::privilege::ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let openapi = server.req("GET", "/openapi.json", None, None).json();
    let mut api = BTreeSet::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        if path.starts_with("/v1") {
            for method in item.as_object().unwrap().keys() {
                api.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert_eq!(
        doc.len(),
        rows.len(),
        "a route is listed twice in docs/security.md"
    );
    assert_eq!(doc, api, "docs/security.md vs /openapi.json");
    assert_eq!(doc, code, "docs/security.md vs host/src/privilege.rs");
    for r in &rows {
        let code_row = phylax_host::privilege::rule(&r.method, &r.path).unwrap();
        assert_eq!(
            code_row.scope,
            r.scope.as_deref(),
            "{} {}",
            r.method,
            r.path
        );
        assert_eq!(
            format!("{:?}", code_row.reach).to_lowercase(),
            r.reach,
            "{} {}",
            r.method,
            r.path
        );
    }

    // Credentials: a key per scope (and `*`), users of each role with and without MFA.
    let scopes: Vec<String> = rows
        .iter()
        .filter_map(|r| r.scope.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut kinds = vec![
        Kind::None,
        Kind::Key {
            scopes: vec!["*".into()],
        },
    ];
    for s in &scopes {
        kinds.push(Kind::Key {
            scopes: vec![s.clone()],
        });
    }
    for (roles, mfa) in [
        (vec!["tenant_admin"], true),
        (vec!["tenant_admin"], false),
        (vec!["owner"], false),
        (vec!["provider"], false),
        (vec!["staff"], true),
        (vec!["patient"], false),
    ] {
        kinds.push(Kind::User { roles, mfa });
    }
    // The platform admin last: its allowed DELETE of a tenant offboards it.
    kinds.push(Kind::Admin { break_glass: false });
    kinds.push(Kind::Admin { break_glass: true });
    let tokens: Vec<Option<String>> = kinds
        .iter()
        .map(|k| match k {
            Kind::None => None,
            Kind::Admin { .. } => Some(ADMIN.to_owned()),
            Kind::Key { scopes } => {
                let s: Vec<&str> = scopes.iter().map(String::as_str).collect();
                Some(server.api_key("acme", &s))
            }
            Kind::User { roles, mfa } => Some(user_token(&signer, "u-1", roles, *mfa)),
        })
        .collect();

    // Offboarding last of all.
    rows.sort_by_key(|r| r.method == "DELETE" && r.path == "/v1/tenants/{tenant}");
    let mut checked = 0;
    let mut allowed = 0;
    for row in &rows {
        for (kind, token) in kinds.iter().zip(&tokens) {
            for other in [false, true] {
                let tenant = if other { "globex" } else { "acme" };
                let path = row
                    .path
                    .replace("{tenant}", tenant)
                    .replace("{key_id}", "walk-no-such-key")
                    .replace("{version}", "1");
                let mut headers = Vec::new();
                if !row.path.contains("{tenant}") && other {
                    headers.push(("x-phylax-tenant", tenant));
                }
                if matches!(kind, Kind::Admin { break_glass: true }) {
                    headers.push(("x-phylax-break-glass", "privilege walk"));
                }
                if matches!(kind, Kind::Admin { .. }) && !row.path.contains("{tenant}") && !other {
                    headers.push(("x-phylax-tenant", "acme"));
                }
                let r = server.req_h(&row.method, &path, token.as_deref(), Some("{}"), &headers);
                let what = format!("{kind:?} {} {path} (other tenant: {other})", row.method);
                match expected(kind, row, other) {
                    Ok(()) => {
                        allowed += 1;
                        assert!(
                            r.status != 401 && r.status != 403 && r.status != 429 && r.status < 500,
                            "{what}: expected to pass the privilege check, got {} {}",
                            r.status,
                            r.text
                        );
                    }
                    Err((status, code)) => {
                        assert_eq!(r.status, status, "{what}: {}", r.text);
                        assert_eq!(r.code(), code, "{what}");
                    }
                }
                checked += 1;
            }
        }
    }
    let expected_count = rows.len() * kinds.len() * 2;
    assert_eq!(checked, expected_count);
    println!(
        "privilege walk: {} routes x {} credential kinds x 2 tenants = {checked} requests ({allowed} allowed)",
        rows.len(),
        kinds.len()
    );
}
