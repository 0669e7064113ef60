//! The bodies of the fuzz targets, one per parser and JSON call of `phylax-core`.
//!
//! Each takes arbitrary bytes and must return without panicking, whatever they are: an
//! error answer is fine, a panic, abort, stack overflow or hang is a bug. They live in
//! this ordinary crate (not only in the `cargo fuzz` package) so that `cargo test`
//! replays the seed corpus (the conformance cases) and every crash ever found
//! (`fuzz/regressions/<target>/`) through exactly the code the fuzzer runs.

use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use phylax_core::audit::{calls as audit, AuditKey, AuditRecord};
use phylax_core::crypto::{calls as crypto, Keyring, RootKey};
use phylax_core::identity::{api_key, calls as identity, Jwks, JwtConfig, JwtVerifier};
use phylax_core::policy::calls::{
    authorize_batch_json, authorize_json, build_engine_json, call_json, load_bundle_json,
    plan_resources_json, plan_to_sql_json, readable_fields_json, validate_policies, verify_bundle,
    ValidateRequest,
};
use phylax_core::policy::{pack, Engine, EngineSpec, PolicyFile};
use phylax_core::webhook::calls as webhook;

/// A fuzz target: its name (the `cargo fuzz` target and corpus folder) and body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("ciphertext_text", ciphertext_text),
    ("ciphertext_binary", ciphertext_binary),
    ("keyring_state", keyring_state),
    ("bundle", bundle),
    ("policy_text", policy_text),
    ("schema_text", schema_text),
    ("engine_spec", engine_spec),
    ("authorize", authorize),
    ("jwt", jwt),
    ("jwks", jwks),
    ("api_key", api_key_text),
    ("webhook", webhook_verify),
    ("audit", audit_verify),
    ("calls", calls),
];

/// The body of target `name`.
pub fn target(name: &str) -> Option<fn(&[u8])> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

const T0: u64 = 1_700_000_000;

fn text(data: &[u8]) -> &str {
    // Invalid UTF-8 is cut at the first bad byte: the rest of the input still counts.
    match std::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => {
            std::str::from_utf8(data.get(..e.valid_up_to()).unwrap_or_default()).unwrap_or_default()
        }
    }
}

fn root() -> &'static RootKey {
    static ROOT: OnceLock<RootKey> = OnceLock::new();
    ROOT.get_or_init(|| RootKey::insecure_dev_key().unwrap_or_else(|_| std::process::abort()))
}

fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        let mut k = Keyring::create("acme", root(), T0).unwrap_or_else(|_| std::process::abort());
        // Two versions, so rewrap and needs-rewrap have work to do.
        let _ = k.rotate(root(), T0 + 1);
        k
    })
}

fn pack_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        pack::healthcare(Default::default(), Vec::new())
            .and_then(|spec| Engine::new(&spec))
            .unwrap_or_else(|_| std::process::abort())
    })
}

/// `phx1.` text: decrypt, needs-rewrap, rewrap.
pub fn ciphertext_text(data: &[u8]) {
    let ct = text(data);
    let k = keyring();
    let _ = k.decrypt_field("patients.diagnosis", "r-1", ct);
    let _ = k.needs_rewrap(ct);
    let _ = k.rewrap("patients.diagnosis", "r-1", ct);
}

/// The binary envelope.
pub fn ciphertext_binary(data: &[u8]) {
    let _ = keyring().decrypt_field_bytes("patients.diagnosis", "r-1", data);
}

/// A stored keyring state.
pub fn keyring_state(data: &[u8]) {
    if let Ok(k) = Keyring::open_json(text(data), root()) {
        let _ = k.encrypt_field("f", "r", b"x");
    }
}

/// A signed bundle, loaded and verified.
pub fn bundle(data: &[u8]) {
    let json = text(data);
    let _ = load_bundle_json(json);
    let _ = call_json(json, verify_bundle);
}

/// Policy text against the pack's schema, as a platform and as a tenant's policies.
pub fn policy_text(data: &[u8]) {
    let policies = vec![PolicyFile::new("fuzz.cedar", text(data))];
    let _ = validate_policies(&ValidateRequest {
        schema: pack::SCHEMA.to_owned(),
        policies: policies.clone(),
        tenant: Some("acme".to_owned()),
        platform_policies: Vec::new(),
        entities: Vec::new(),
        options: Default::default(),
    });
    let spec = EngineSpec {
        schema: pack::SCHEMA.to_owned(),
        platform_policies: policies,
        tenant_policies: Default::default(),
        entities: Vec::new(),
        options: Default::default(),
    };
    let _ = Engine::new(&spec);
}

/// Schema text (Cedar syntax or JSON) with the pack's policies.
pub fn schema_text(data: &[u8]) {
    let spec = EngineSpec {
        schema: text(data).to_owned(),
        platform_policies: vec![PolicyFile::new("pack.cedar", pack::POLICIES)],
        tenant_policies: Default::default(),
        entities: Vec::new(),
        options: Default::default(),
    };
    let _ = Engine::new(&spec);
}

/// A whole engine spec as JSON (`buildEngine`).
pub fn engine_spec(data: &[u8]) {
    let _ = build_engine_json(text(data));
}

/// `authorize`, `authorizeBatch`, `readableFields`, `planResources` and `planToSql` on
/// the pack.
pub fn authorize(data: &[u8]) {
    let json = text(data);
    let engine = pack_engine();
    let _ = authorize_json(engine, json);
    let _ = authorize_batch_json(engine, json);
    let _ = readable_fields_json(engine, json);
    let _ = plan_resources_json(engine, json);
    let _ = plan_to_sql_json(json);
}

const JWKS: &str = r#"{"keys":[
 {"kty":"OKP","kid":"ed-1","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
 {"kty":"EC","kid":"ec-1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

/// A compact JWT against a fixed JWKS.
pub fn jwt(data: &[u8]) {
    static VERIFIER: OnceLock<JwtVerifier> = OnceLock::new();
    let v = VERIFIER.get_or_init(|| {
        JwtVerifier::new(
            JwtConfig::new("https://idp.example/", "https://api.example"),
            JWKS,
        )
        .unwrap_or_else(|_| std::process::abort())
    });
    let _ = v.verify(text(data), T0);
    let _ = v.verify_token(text(data), T0);
}

/// A JWKS document.
pub fn jwks(data: &[u8]) {
    let _ = Jwks::parse(text(data));
}

/// API key text, and a verify call as JSON.
pub fn api_key_text(data: &[u8]) {
    let t = text(data);
    let _ = api_key::parse(t);
    let _ = call_json(t, identity::verify_api_key);
    let _ = call_json(t, identity::parse_api_key);
}

/// A webhook verify call as JSON (header, payload, secrets, times).
pub fn webhook_verify(data: &[u8]) {
    let _ = call_json(text(data), webhook::verify);
}

/// An audit verify call as JSON, and the same bytes as a JSON Lines export.
pub fn audit_verify(data: &[u8]) {
    static KEY: OnceLock<AuditKey> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        AuditKey::parse(&"3c".repeat(32)).unwrap_or_else(|_| std::process::abort())
    });
    let t = text(data);
    let _ = call_json(t, |req| audit::verify(key, req));
    let _ = call_json(t, |req| audit::append(key, req));
    let records: Vec<AuditRecord> = t
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    if let Some(first) = records.first() {
        let _ = phylax_core::audit::verify(&first.event.tenant, &records, key, None);
    }
}

/// Any JSON call of the core: the first byte picks the call, the rest is its request.
pub fn calls(data: &[u8]) {
    let Some((op, rest)) = data.split_first() else {
        return;
    };
    let json = text(rest);
    let k = keyring();
    match op % 12 {
        0 => drop(call_json(json, |r| crypto::encrypt_field(k, r))),
        1 => drop(call_json(json, |r| crypto::decrypt_field(k, r))),
        2 => drop(call_json(json, |r| crypto::blind_index(k, r))),
        3 => drop(call_json(json, |r| crypto::encrypt_record(k, r))),
        4 => drop(call_json(json, |r| crypto::decrypt_record(k, r))),
        5 => drop(call_json(json, |r| crypto::rewrap(k, r))),
        6 => drop(call_json(json, identity::issue_api_key)),
        7 => drop(call_json(json, identity::rotate_api_key)),
        8 => drop(call_json(json, identity::revoke_api_key)),
        9 => drop(call_json(json, identity::verify_token_with_jwks)),
        10 => drop(call_json(json, webhook::sign)),
        _ => drop(call_json(json, validate_policies_ok)),
    }
}

fn validate_policies_ok(
    req: &ValidateRequest,
) -> Result<phylax_core::policy::calls::ValidateResponse, phylax_core::policy::PolicyError> {
    Ok(validate_policies(req))
}

/// The `text` of each `{name, text}` policy file in a JSON list.
fn policy_texts(files: Option<&serde_json::Value>) -> Vec<Vec<u8>> {
    files
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("text").and_then(serde_json::Value::as_str))
        .map(|t| t.as_bytes().to_vec())
        .collect()
}

/// The inputs a conformance case gives the targets: its request, or the parts of it a
/// target takes (a ciphertext, a token, policy text), as `(target, bytes)`.
pub fn seeds(op: &str, request: &serde_json::Value) -> Vec<(&'static str, Vec<u8>)> {
    let whole = request.to_string().into_bytes();
    let field = |name: &str| request.get(name);
    let string = |name: &str| {
        field(name)
            .and_then(serde_json::Value::as_str)
            .map(|s| s.as_bytes().to_vec())
    };
    let json = |name: &str| field(name).map(|v| v.to_string().into_bytes());
    let mut out: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut add = |target: &'static str, bytes: Option<Vec<u8>>| {
        if let Some(b) = bytes {
            out.push((target, b));
        }
    };
    match op {
        "decryptField" | "needsRewrap" | "rewrap" => {
            add("ciphertext_text", string("ciphertext"));
            // The binary envelope is the text form's base64url payload.
            let binary = field("ciphertext")
                .and_then(serde_json::Value::as_str)
                .and_then(|t| t.strip_prefix("phx1."))
                .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok());
            add("ciphertext_binary", binary);
        }
        "openKeyring" => add("keyring_state", json("state")),
        "loadBundle" | "verifyBundle" => add("bundle", Some(whole.clone())),
        "buildEngine" => {
            add("engine_spec", Some(whole.clone()));
            add("schema_text", string("schema"));
            for text in policy_texts(field("platformPolicies")) {
                add("policy_text", Some(text));
            }
        }
        "validatePolicies" => {
            for text in policy_texts(field("policies")) {
                add("policy_text", Some(text));
            }
        }
        "authorize" | "authorizeBatch" | "readableFields" | "planResources" | "planToSql" => {
            add("authorize", Some(whole.clone()));
        }
        "verifyTokenWithJwks" => {
            add("jwt", string("token"));
            add("jwks", json("jwks"));
        }
        "parseApiKey" | "verifyApiKey" => {
            add("api_key", string("apiKey"));
            add("api_key", Some(whole.clone()));
        }
        "verifyWebhook" => add("webhook", Some(whole.clone())),
        "auditVerify" | "auditAppend" => add("audit", Some(whole.clone())),
        _ => {}
    }
    // Every request also seeds the call dispatcher, under each call it could be.
    for op_byte in 0u8..12 {
        let mut bytes = vec![op_byte];
        bytes.extend_from_slice(&whole);
        add("calls", Some(bytes));
    }
    out
}
