//! Engine behaviour beyond the decision table: tenant layering, batch, field-level
//! reads with record decryption, bundles, and clear errors on bad input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: a failing test should fail loudly"
)]

use std::collections::{BTreeMap, BTreeSet};

use phylax_core::crypto::{Keyring, RecordSpec, RootKey};
use phylax_core::policy::calls::{self, authorize_json, build_engine_json, load_bundle_json};
use phylax_core::policy::{
    pack, AuthorizeRequest, BatchRequest, Bundle, BundleSigningKey, Decision, Effect, Engine,
    EngineSpec, FieldsRequest, PolicyError, PolicyFile, SignedBundle,
};
use phylax_core::{Answer, Diagnostic};
use serde_json::{json, Value};

fn base() -> Vec<Value> {
    let mut v: Vec<Value> = ["platform", "acme", "globex"]
        .iter()
        .map(|t| json!({"uid": {"type": "Tenant", "id": t}, "attrs": {}, "parents": []}))
        .collect();
    for (f, class) in [
        ("/name", "non_clinical"),
        ("/phone", "non_clinical"),
        ("/diagnosis", "clinical"),
    ] {
        v.push(json!({"uid": {"type": "Field", "id": f}, "attrs": {}, "parents": [{"type": "FieldClass", "id": class}]}));
    }
    // A user of globex, known to the engine.
    v.push(json!({"uid": {"type": "User", "id": "gx-doc"}, "attrs": {"tenant": {"type": "Tenant", "id": "globex"}}, "parents": [{"type": "Role", "id": "provider"}]}));
    v
}

fn spec(tenants: BTreeMap<String, Vec<PolicyFile>>) -> EngineSpec {
    pack::healthcare(tenants, base()).unwrap()
}

fn user(id: &str, tenant: &str, role: &str) -> Value {
    json!({"uid": {"type": "User", "id": id}, "attrs": {"tenant": {"type": "Tenant", "id": tenant}}, "parents": [{"type": "Role", "id": role}]})
}

fn record(id: &str, tenant: &str, patient: &str) -> Value {
    json!({"uid": {"type": "Record", "id": id}, "attrs": {"tenant": {"type": "Tenant", "id": tenant}, "patient": {"type": "User", "id": patient}}, "parents": []})
}

fn req(
    principal: &str,
    action: &str,
    rec: &str,
    entities: Vec<Value>,
    context: Value,
) -> AuthorizeRequest {
    serde_json::from_value(json!({
        "principal": {"type": "User", "id": principal},
        "action": {"type": "Action", "id": action},
        "resource": {"type": "Record", "id": rec},
        "context": context,
        "entities": entities,
    }))
    .unwrap()
}

fn nurse_view(engine: &Engine, tenant_of_record: &str) -> Decision {
    engine
        .authorize(&req(
            "nurse",
            "export",
            "r1",
            vec![
                user("nurse", "acme", "staff"),
                record("r1", tenant_of_record, "pat"),
                user("pat", tenant_of_record, "patient"),
            ],
            json!({"mfa": true}),
        ))
        .unwrap()
}

#[test]
fn tenant_permit_adds_access_only_in_its_tenant() {
    // Staff may not export under the pack; tenant acme adds a permit for its staff.
    let acme = vec![PolicyFile::new(
        "acme.cedar",
        "// acme lets staff export\n@id(\"staff-export\")\npermit (principal in Role::\"staff\", action == Action::\"export\", resource) when { resource.tenant == Tenant::\"acme\" };",
    )];
    let engine = Engine::new(&spec(BTreeMap::from([("acme".to_owned(), acme)]))).unwrap();
    let d = nurse_view(&engine, "acme");
    assert_eq!(d.decision, Effect::Allow);
    assert_eq!(d.policies, vec!["acme/staff-export"]);

    // Without the tenant layer the same request is denied.
    let plain = Engine::new(&spec(BTreeMap::new())).unwrap();
    assert_eq!(nurse_view(&plain, "acme").decision, Effect::Deny);
    assert_ne!(plain.bundle_hash(), engine.bundle_hash());
}

#[test]
fn tenant_permit_cannot_lift_platform_forbid() {
    // A tenant policy that permits everything still cannot reach another tenant or skip MFA.
    let acme = vec![PolicyFile::new(
        "acme.cedar",
        "@id(\"all\")\npermit (principal, action, resource);",
    )];
    let engine = Engine::new(&spec(BTreeMap::from([("acme".to_owned(), acme.clone())]))).unwrap();
    // acme staff, globex record: the request is in globex (the resource's tenant), so
    // acme's policy does not even apply, and the isolation forbid denies.
    let d = nurse_view(&engine, "globex");
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.policies, vec!["tenant-isolation-records"]);
    assert_eq!(d.audit_flags, vec!["cross_tenant_denied"]);
    // Even forcing acme's layer onto a globex record is refused.
    let mut forced = req(
        "nurse",
        "view",
        "r1",
        vec![
            user("nurse", "acme", "staff"),
            record("r1", "globex", "pat"),
        ],
        json!({"mfa": true}),
    );
    forced.tenant = Some("acme".to_owned());
    let err = engine.authorize(&forced).unwrap_err();
    assert_eq!(err.code(), "policy.tenant_mismatch");
    // A tenant admin of acme without MFA: acme's permit-all is satisfied, the forbid wins.
    let d = engine
        .authorize(
            &serde_json::from_value(json!({
                "principal": {"type": "User", "id": "boss"},
                "action": {"type": "Action", "id": "updateConfig"},
                "resource": {"type": "Tenant", "id": "acme"},
                "context": {"mfa": false},
                "entities": [user("boss", "acme", "tenant_admin")],
            }))
            .unwrap(),
        )
        .unwrap();
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.policies, vec!["mfa-required-for-admins"]);
}

#[test]
fn tenant_policy_naming_another_tenant_is_rejected() {
    for text in [
        "@id(\"x\") permit (principal, action, resource in Tenant::\"globex\");",
        "@id(\"x\") permit (principal, action, resource) when { resource.tenant == Tenant::\"globex\" };",
        // An entity that belongs to globex.
        "@id(\"x\") permit (principal == User::\"gx-doc\", action, resource);",
    ] {
        let acme = vec![PolicyFile::new("acme.cedar", text)];
        let err = Engine::new(&spec(BTreeMap::from([("acme".to_owned(), acme)]))).unwrap_err();
        assert_eq!(err.code(), "policy.tenant_policy_rejected", "{text}");
        assert!(err.to_string().contains("globex"), "{err}");
        assert!(err.to_string().contains("acme/x"), "{err}");
    }
}

#[test]
fn invalid_tenant_policy_is_rejected_with_file_and_line() {
    let acme = vec![PolicyFile::new(
        "acme.cedar",
        "// ok\npermit (principal, action, resource);\n\npermit (principal, action == Action::\"view\", resource)\n  when { resource.colour == \"red\" };",
    )];
    let err = Engine::new(&spec(BTreeMap::from([("acme".to_owned(), acme)]))).unwrap_err();
    assert_eq!(err.code(), "policy.validation_failed");
    let d = &err.diagnostics()[0];
    assert_eq!(d.file, "acme.cedar");
    assert_eq!(d.policy.as_deref(), Some("acme/policy1"));
    assert_eq!(d.line, 5, "{d:?}");
    assert!(d.message.contains("colour"), "{d:?}");
    assert!(err.to_string().contains("acme.cedar:5:"), "{err}");
}

#[test]
fn policy_syntax_error_names_file_line_and_column() {
    let mut s = spec(BTreeMap::new());
    s.platform_policies.push(PolicyFile::new(
        "broken.cedar",
        "permit (principal, action, resource);\npermit (principal action, resource);",
    ));
    let err = Engine::new(&s).unwrap_err();
    assert_eq!(err.code(), "policy.parse_failed");
    let d = &err.diagnostics()[0];
    assert_eq!((d.file.as_str(), d.line), ("broken.cedar", 2), "{d:?}");
    assert!(d.column > 1, "{d:?}");
    // Through the JSON call: an error answer, not a panic.
    let answer: Value =
        serde_json::from_str(&build_engine_json(&serde_json::to_string(&s).unwrap()).unwrap_err())
            .unwrap();
    assert_eq!(answer["error"]["code"], "policy.parse_failed");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("broken.cedar:2:"));
    assert!(!answer["error"]["hint"].as_str().unwrap().is_empty());
}

#[test]
fn bad_requests_get_clear_errors() {
    let engine = Engine::new(&spec(BTreeMap::new())).unwrap();
    let cases: Vec<(&str, &str, &str)> = vec![
        ("{not json", "request.malformed", ""),
        (
            r#"{"principal":{"type":"User","id":"a"},"action":{"type":"Action","id":"view"}}"#,
            "request.malformed",
            "resource",
        ),
        (
            r#"{"principal":{"type":"User","id":"a"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r"},"context":{"mfa":true},"bogus":1}"#,
            "request.malformed",
            "bogus",
        ),
        (
            r#"{"principal":{"type":"Robot","id":"a"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r"},"context":{"mfa":true}}"#,
            "policy.invalid_request",
            "Robot",
        ),
        (
            r#"{"principal":{"type":"User","id":"a"},"action":{"type":"Action","id":"fly"},"resource":{"type":"Record","id":"r"},"context":{"mfa":true}}"#,
            "policy.invalid_request",
            "fly",
        ),
        (
            r#"{"principal":{"type":"User","id":"a"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r"},"context":{"mfa":"yes"}}"#,
            "policy.invalid_request",
            "mfa",
        ),
        (
            r#"{"principal":{"type":"User","id":"a"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r"},"context":{}}"#,
            "policy.invalid_request",
            "mfa",
        ),
        (
            r#"{"principal":{"type":"Record","id":"a"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r"},"context":{"mfa":true}}"#,
            "policy.invalid_request",
            "principal",
        ),
        (
            r#"{"principal":{"type":"User","id":"a"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r"},"context":{"mfa":true},
            "entities":[{"uid":{"type":"User","id":"a"},"attrs":{"tenant":"acme"},"parents":[]}]}"#,
            "policy.invalid_entities",
            "tenant",
        ),
        (
            r#"{"principal":{"type":"User","id":"a"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r"},"context":{"mfa":true},
            "entities":[{"uid":{"type":"Alien","id":"a"},"attrs":{},"parents":[]}]}"#,
            "policy.invalid_entities",
            "Alien",
        ),
        (
            r#"{"principal":{"type":"User","id":"a"},"action":{"type":"Action","id":"view"},"resource":{"type":"Record","id":"r"},"context":{"mfa":true},
            "entities":[{"uid":{"type":"User","id":"a"},"attrs":{},"parents":[]}]}"#,
            "policy.invalid_entities",
            "tenant",
        ),
    ];
    for (json, code, mention) in cases {
        let answer: Value = serde_json::from_str(&authorize_json(&engine, json)).unwrap();
        assert_eq!(answer["error"]["code"], code, "{json} -> {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(mention),
            "{json}: `{message}` should mention `{mention}`"
        );
        assert!(answer.get("ok").is_none());
    }
}

#[test]
fn unknown_base_entity_type_or_bad_schema_fails_build() {
    let mut s = spec(BTreeMap::new());
    s.entities
        .push(json!({"uid": {"type": "Ghost", "id": "g"}, "attrs": {}, "parents": []}));
    assert_eq!(
        Engine::new(&s).unwrap_err().code(),
        "policy.invalid_entities"
    );
    let mut s = spec(BTreeMap::new());
    s.schema = "entity User = { tenant: };".to_owned();
    let err = Engine::new(&s).unwrap_err();
    assert_eq!(err.code(), "policy.schema_invalid");
    assert!(err.to_string().contains("schema:1:"), "{err}");
}

#[test]
fn break_glass_is_flagged_for_audit() {
    let engine = Engine::new(&spec(BTreeMap::new())).unwrap();
    let ents = vec![
        user("root", "platform", "platform_admin"),
        record("r1", "acme", "pat"),
        user("pat", "acme", "patient"),
    ];
    let d = engine
        .authorize(&req(
            "root",
            "view",
            "r1",
            ents.clone(),
            json!({"mfa": true, "breakGlassReason": "ticket 12"}),
        ))
        .unwrap();
    assert_eq!(d.decision, Effect::Allow);
    assert_eq!(d.audit_flags, vec!["break_glass"]);
    assert_eq!(d.policies, vec!["platform-admin-break-glass"]);
    let d = engine
        .authorize(&req(
            "root",
            "view",
            "r1",
            ents,
            json!({"mfa": true, "breakGlassReason": ""}),
        ))
        .unwrap();
    assert_eq!(d.decision, Effect::Deny);
    assert_eq!(d.audit_flags, vec!["cross_tenant_denied"]);
}

#[test]
fn base_entities_are_used_when_the_request_brings_none() {
    // The provider lives in the base; the patient with its providers too.
    let mut s = spec(BTreeMap::new());
    s.entities.push(json!({"uid": {"type": "User", "id": "gx-pat"}, "attrs": {"tenant": {"type": "Tenant", "id": "globex"}, "providers": [{"type": "User", "id": "gx-doc"}]}, "parents": [{"type": "Role", "id": "patient"}]}));
    s.entities.push(record("gx-r", "globex", "gx-pat"));
    let engine = Engine::new(&s).unwrap();
    let d = engine
        .authorize(&req(
            "gx-doc",
            "update",
            "gx-r",
            vec![],
            json!({"mfa": false}),
        ))
        .unwrap();
    assert_eq!(d.decision, Effect::Allow, "{d:?}");
    assert_eq!(d.policies, vec!["provider-own-patients"]);
    // A request entity overrides the base one: the same record, now of another patient.
    let d = engine
        .authorize(&req(
            "gx-doc",
            "update",
            "gx-r",
            vec![record("gx-r", "globex", "someone")],
            json!({"mfa": false}),
        ))
        .unwrap();
    assert_eq!(d.decision, Effect::Deny);
}

#[test]
fn evaluation_error_denies() {
    // A platform policy that errors for records whose patient is unknown to the store.
    let mut s = spec(BTreeMap::new());
    s.platform_policies.push(PolicyFile::new(
        "extra.cedar",
        "@id(\"needs-patient-tenant\")\nforbid (principal, action == Action::\"view\", resource) when { resource.patient.tenant != principal.tenant };",
    ));
    let engine = Engine::new(&s).unwrap();
    // Staff view is permitted, but the forbid cannot evaluate (patient entity missing).
    let d = engine
        .authorize(&req(
            "nurse",
            "view",
            "r1",
            vec![
                user("nurse", "acme", "staff"),
                record("r1", "acme", "ghost"),
            ],
            json!({"mfa": true}),
        ))
        .unwrap();
    assert_eq!(d.decision, Effect::Deny);
    assert!(d.policies.is_empty());
    assert_eq!(d.errors.len(), 1);
    assert_eq!(d.errors[0].policy, "needs-patient-tenant");
}

#[test]
fn batch_decides_many_pairs_for_one_principal() {
    let engine = Engine::new(&spec(BTreeMap::new())).unwrap();
    let mut entities = vec![
        user("doc", "acme", "provider"),
        user("p1", "acme", "patient"),
    ];
    entities[1]["attrs"]["providers"] = json!([{"type": "User", "id": "doc"}]);
    entities.push(user("p2", "acme", "patient"));
    let mut items = Vec::new();
    for i in 0..10 {
        let patient = if i % 2 == 0 { "p1" } else { "p2" };
        entities.push(record(&format!("r{i}"), "acme", patient));
        items.push(json!({"action": {"type": "Action", "id": "update"}, "resource": {"type": "Record", "id": format!("r{i}")}}));
    }
    items.push(json!({"action": {"type": "Action", "id": "readField"}, "resource": {"type": "Record", "id": "r0"}, "context": {"mfa": true, "field": {"type": "Field", "id": "/diagnosis"}}}));
    items.push(json!({"action": {"type": "Action", "id": "teleport"}, "resource": {"type": "Record", "id": "r0"}}));
    items.push(json!({"action": {"type": "Action", "id": "manageUsers"}, "resource": {"type": "Tenant", "id": "acme"}}));
    let batch: BatchRequest = serde_json::from_value(json!({
        "principal": {"type": "User", "id": "doc"}, "context": {"mfa": true}, "entities": entities, "items": items,
    }))
    .unwrap();
    let out = engine.authorize_batch(&batch).unwrap();
    assert_eq!(out.decisions.len(), 13);
    for (i, answer) in out.decisions.iter().enumerate().take(10) {
        let Answer::Ok(d) = answer else {
            panic!("{answer:?}")
        };
        assert_eq!(d.is_allowed(), i % 2 == 0, "item {i}: {d:?}");
        // Same as deciding it alone.
        let single = engine
            .authorize(&AuthorizeRequest {
                principal: batch.principal.clone(),
                action: batch.items[i].action.clone(),
                resource: batch.items[i].resource.clone(),
                context: batch.context.clone(),
                entities: batch.entities.clone(),
                tenant: None,
            })
            .unwrap();
        assert_eq!(&single, d);
    }
    assert!(matches!(&out.decisions[10], Answer::Ok(d) if d.is_allowed()));
    assert!(matches!(&out.decisions[11], Answer::Error(e) if e.code == "policy.invalid_request"));
    assert!(matches!(&out.decisions[12], Answer::Ok(d) if !d.is_allowed()));
    // The JSON call gives the same.
    let json: Value = serde_json::from_str(&calls::authorize_batch_json(
        &engine,
        &serde_json::to_string(&batch).unwrap(),
    ))
    .unwrap();
    assert_eq!(json["ok"]["decisions"].as_array().unwrap().len(), 13);
    assert_eq!(json["ok"]["decisions"][0]["ok"]["decision"], "allow");
    assert_eq!(
        json["ok"]["decisions"][11]["error"]["code"],
        "policy.invalid_request"
    );
}

#[test]
fn readable_fields_feed_record_decryption() {
    let engine = Engine::new(&spec(BTreeMap::new())).unwrap();
    let fields = vec![
        "/name".to_owned(),
        "/phone".to_owned(),
        "/diagnosis".to_owned(),
        "/unclassified".to_owned(),
    ];
    let ask = |who: &str, role: &str| {
        let r: FieldsRequest = serde_json::from_value(json!({
            "principal": {"type": "User", "id": who},
            "resource": {"type": "Record", "id": "r1"},
            "fields": fields,
            "context": {"mfa": true},
            // (A request names each entity once: the patient asking brings itself once.)
            "entities": if who == "pat" {
                json!([user(who, "acme", role), record("r1", "acme", "pat")])
            } else {
                json!([user(who, "acme", role), record("r1", "acme", "pat"), user("pat", "acme", "patient")])
            },
        }))
        .unwrap();
        engine.readable_fields(&r).unwrap()
    };
    let staff = ask("nurse", "staff");
    assert_eq!(
        staff.readable,
        BTreeSet::from(["/name".to_owned(), "/phone".to_owned()])
    );
    assert_eq!(
        staff.denied,
        BTreeSet::from(["/diagnosis".to_owned(), "/unclassified".to_owned()])
    );
    let patient = ask("pat", "patient");
    assert_eq!(patient.readable.len(), 4);
    let other_patient = ask("intruder", "patient");
    assert!(other_patient.readable.is_empty());

    // The readable set goes straight into record decryption.
    let root = RootKey::insecure_dev_key().unwrap();
    let keyring = Keyring::create("acme", &root, 1_700_000_000).unwrap();
    let spec: RecordSpec = serde_json::from_value(json!({"name": "patients", "fields": [{"pointer": "/name"}, {"pointer": "/phone"}, {"pointer": "/diagnosis"}]})).unwrap();
    let plain = json!({"name": "Ada", "phone": "555", "diagnosis": "J45.909"});
    let enc = keyring.encrypt_record(&spec, "r1", &plain).unwrap();
    let seen = keyring
        .decrypt_record(&spec, "r1", &enc.record, Some(&staff.readable))
        .unwrap();
    assert_eq!(seen["name"], "Ada");
    assert_eq!(seen["phone"], "555");
    assert!(
        seen.get("diagnosis").is_none() || seen["diagnosis"] != "J45.909",
        "{seen}"
    );
}

#[test]
fn signed_bundles_carry_each_policy_in_json_form_and_it_must_be_the_texts() {
    let key = BundleSigningKey::generate().unwrap();
    let acme = vec![PolicyFile::new(
        "acme.cedar",
        "// acme lets staff export\n@id(\"staff-export\")\npermit (principal in Role::\"staff\", action == Action::\"export\", resource) when { resource.tenant == Tenant::\"acme\" };",
    )];
    let bundle = Bundle::new(
        spec(BTreeMap::from([("acme".to_owned(), acme)])),
        "2024.1",
        1_700_000_000,
    );
    assert!(bundle.platform_policies.iter().all(|f| f.json.is_none()));
    let signed = key.sign(bundle.clone()).unwrap();
    // Every file, platform and tenant, carries one JSON policy per policy, in order.
    let files: Vec<&PolicyFile> = signed
        .bundle
        .platform_policies
        .iter()
        .chain(signed.bundle.tenant_policies.values().flatten())
        .collect();
    assert_eq!(files.len(), bundle.platform_policies.len() + 1);
    for file in &files {
        let json = file.json.as_ref().expect("a JSON form");
        let permits = file.text.matches("permit").count();
        let forbids = file.text.matches("forbid").count();
        assert_eq!(json.len(), permits + forbids, "{}", file.name);
    }
    let acme_json = &signed.bundle.tenant_policies["acme"][0]
        .json
        .as_ref()
        .unwrap()[0];
    assert_eq!(acme_json["effect"], "permit");
    assert_eq!(acme_json["annotations"]["id"], "staff-export");
    let engine = Engine::from_bundle(&signed, &key.public_key()).unwrap();
    assert_eq!(
        nurse_view(&engine, "acme").decision,
        nurse_view(&Engine::new(&bundle.spec()).unwrap(), "acme").decision
    );

    // A JSON form that says something else than the text is refused where the text is
    // parsed (the runtime entry decides with the JSON form), however it got there.
    let mut lying = signed.bundle.spec();
    lying.tenant_policies.get_mut("acme").unwrap()[0]
        .json
        .as_mut()
        .unwrap()[0]["effect"] = json!("forbid");
    let err = Engine::new(&lying).unwrap_err();
    assert_eq!(err.code(), "policy.bundle_malformed");
    assert!(err.to_string().contains("acme.cedar"), "{err}");
    let mut fewer = signed.bundle.spec();
    fewer.platform_policies[0].json.as_mut().unwrap().pop();
    assert_eq!(
        Engine::new(&fewer).unwrap_err().code(),
        "policy.bundle_malformed"
    );

    // A policy deeper in JSON form than the limit is signed as text alone, and loads.
    let chain = vec!["context.mfa"; 60].join(" && ");
    let mut deep = bundle.clone();
    deep.platform_policies.push(PolicyFile::new(
        "deep.cedar",
        format!("@id(\"deep\")\nforbid (principal, action == Action::\"export\", resource) unless {{ {chain} }};"),
    ));
    let deep = key.sign(deep).unwrap();
    let file = deep.bundle.platform_policies.last().unwrap();
    assert_eq!(file.name, "deep.cedar");
    assert!(file.json.is_none());
    assert!(deep.bundle.platform_policies[0].json.is_some());
    Engine::from_bundle(&deep, &key.public_key()).unwrap();
}

#[test]
fn bundles_sign_verify_and_refuse_tampering() {
    let key = BundleSigningKey::generate().unwrap();
    let other = BundleSigningKey::generate().unwrap();
    assert!(!format!("{key:?}").contains(key.to_secret_string().as_str()));
    let bundle = Bundle::new(spec(BTreeMap::new()), "2024.1", 1_700_000_000);
    let signed = key.sign(bundle.clone()).unwrap();
    // Signed in runtime form: the schema in Cedar's JSON form (canonical), which a build
    // without Cedar's schema-text grammar loads; converting again changes nothing.
    let runtime_form = bundle.clone().in_runtime_form().unwrap();
    assert!(!bundle.schema.trim_start().starts_with('{'));
    assert!(
        signed.bundle.schema.starts_with('{'),
        "{}",
        signed.bundle.schema
    );
    assert_eq!(signed.hash, runtime_form.hash().unwrap());
    assert_eq!(
        runtime_form
            .clone()
            .in_runtime_form()
            .unwrap()
            .hash()
            .unwrap(),
        signed.hash
    );
    assert!(signed.hash.starts_with("sha256:") && signed.hash.len() == 71);

    let engine = Engine::from_bundle(&signed, &key.public_key()).unwrap();
    assert_eq!(engine.bundle_hash(), signed.hash);
    let d = nurse_view(&engine, "acme");
    assert_eq!(d.bundle_hash, signed.hash);

    // Round trip through JSON keeps the hash (canonical form).
    let text = serde_json::to_string_pretty(&signed).unwrap();
    let again = SignedBundle::from_json(&text).unwrap();
    assert_eq!(again.verify(&key.public_key()).unwrap(), signed.hash);

    // Signed by another key.
    let err = Engine::from_bundle(&signed, &other.public_key()).unwrap_err();
    assert_eq!(err.code(), "policy.bundle_signature_invalid");
    assert!(err.to_string().contains(&other.public_key().to_string()));

    // Content modified after signing (a permit slipped in).
    let mut tampered = signed.clone();
    tampered.bundle.platform_policies.push(PolicyFile::new(
        "evil.cedar",
        "permit (principal, action, resource);",
    ));
    let err = Engine::from_bundle(&tampered, &key.public_key()).unwrap_err();
    assert_eq!(err.code(), "policy.bundle_tampered");
    assert!(matches!(err, PolicyError::BundleTampered { .. }));

    // Modified and re-hashed, but not re-signed.
    let mut rehashed = tampered.clone();
    rehashed.hash = rehashed.bundle.hash().unwrap();
    assert_eq!(
        Engine::from_bundle(&rehashed, &key.public_key())
            .unwrap_err()
            .code(),
        "policy.bundle_signature_invalid"
    );

    // A flipped signature byte, a garbage signature, a bad key.
    let mut flipped = signed.clone();
    flipped.signature = format!("A{}", &signed.signature[1..]);
    if flipped.signature == signed.signature {
        flipped.signature = format!("B{}", &signed.signature[1..]);
    }
    assert_eq!(
        Engine::from_bundle(&flipped, &key.public_key())
            .unwrap_err()
            .code(),
        "policy.bundle_signature_invalid"
    );
    let mut garbage = signed.clone();
    garbage.signature = "!!".to_owned();
    assert_eq!(
        Engine::from_bundle(&garbage, &key.public_key())
            .unwrap_err()
            .code(),
        "policy.bundle_malformed"
    );
    assert_eq!(
        phylax_core::policy::BundlePublicKey::parse("abc")
            .unwrap_err()
            .code(),
        "policy.invalid_key"
    );
    assert_eq!(
        SignedBundle::from_json("{}").unwrap_err().code(),
        "policy.bundle_malformed"
    );

    // Through the JSON calls.
    let load = json!({"bundle": signed, "publicKey": key.public_key().to_string()});
    let engine = load_bundle_json(&load.to_string()).unwrap();
    assert_eq!(engine.bundle_hash(), signed.hash);
    let load = json!({"bundle": tampered, "publicKey": key.public_key().to_string()});
    let answer: Value =
        serde_json::from_str(&load_bundle_json(&load.to_string()).unwrap_err()).unwrap();
    assert_eq!(answer["error"]["code"], "policy.bundle_tampered");
    let load = json!({"bundle": signed, "publicKey": other.public_key().to_string()});
    let answer: Value =
        serde_json::from_str(&load_bundle_json(&load.to_string()).unwrap_err()).unwrap();
    assert_eq!(answer["error"]["code"], "policy.bundle_signature_invalid");
}

#[test]
fn sign_and_verify_calls() {
    let keys = calls::generate_signing_key().unwrap();
    assert!(!format!("{keys:?}").contains(&keys.secret_key));
    let bundle = Bundle::new(spec(BTreeMap::new()), "v7", 42);
    let signed = calls::sign_bundle(
        &serde_json::from_value(json!({"bundle": bundle, "signingKey": keys.secret_key})).unwrap(),
    )
    .unwrap();
    let verified = calls::verify_bundle(
        &serde_json::from_value(json!({"bundle": signed, "publicKey": keys.public_key})).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (
            verified.hash,
            verified.version.as_str(),
            verified.created_at
        ),
        (signed.hash.clone(), "v7", 42)
    );
    // Signing refuses a bundle that would not load.
    let mut broken = Bundle::new(spec(BTreeMap::new()), "v8", 43);
    broken.platform_policies.push(PolicyFile::new(
        "x.cedar",
        "permit (principal, action, resource) when { principal.nope };",
    ));
    let err = calls::sign_bundle(
        &serde_json::from_value(json!({"bundle": broken, "signingKey": keys.secret_key})).unwrap(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "policy.validation_failed");
}

#[test]
fn validate_call_reports_diagnostics() {
    let ok = calls::validate_policies(&serde_json::from_value(json!({
        "schema": pack::SCHEMA, "tenant": "acme",
        "policies": [{"name": "t.cedar", "text": "permit (principal in Role::\"staff\", action == Action::\"export\", resource);"}],
        "platformPolicies": [{"name": "healthcare.cedar", "text": pack::POLICIES}],
    })).unwrap());
    assert!(ok.valid, "{ok:?}");
    let bad = calls::validate_policies(&serde_json::from_value(json!({
        "schema": pack::SCHEMA,
        "policies": [{"name": "t.cedar", "text": "permit (principal, action, resource)\nwhen { resource.nope };"}],
    })).unwrap());
    assert!(!bad.valid);
    assert_eq!(bad.error.unwrap().code, "policy.validation_failed");
    assert_eq!(bad.diagnostics[0].line, 2);
    let other = calls::validate_policies(&serde_json::from_value(json!({
        "schema": pack::SCHEMA, "tenant": "acme",
        "policies": [{"name": "t.cedar", "text": "permit (principal, action, resource == Tenant::\"globex\");"}],
    })).unwrap());
    assert_eq!(other.error.unwrap().code, "policy.tenant_policy_rejected");
}

#[test]
fn json_shapes_are_stable() {
    let engine = Engine::new(&spec(BTreeMap::new())).unwrap();
    let answer: Value = serde_json::from_str(&authorize_json(
        &engine,
        &serde_json::to_string(&req(
            "pat",
            "view",
            "r1",
            vec![user("pat", "acme", "patient"), record("r1", "acme", "pat")],
            json!({"mfa": false}),
        ))
        .unwrap(),
    ))
    .unwrap();
    let ok = &answer["ok"];
    let keys: BTreeSet<&str> = ok.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["decision", "policies", "errors", "auditFlags", "bundleHash"])
    );
    assert_eq!(ok["decision"], "allow");
    assert_eq!(ok["policies"], json!(["patient-own-records"]));
    assert_eq!(ok["bundleHash"], engine.bundle_hash());
    // The same spec built twice has the same hash; a changed spec another.
    assert_eq!(
        Engine::new(&spec(BTreeMap::new())).unwrap().bundle_hash(),
        engine.bundle_hash()
    );
}

#[test]
fn same_decisions_for_base_and_request_entities() {
    // Property: moving the request's entities into the base does not change any decision.
    let cases: Value = serde_json::from_str(include_str!("pack_cases.json")).unwrap();
    let plain = Engine::new(
        &pack::healthcare(
            BTreeMap::new(),
            cases["baseEntities"].as_array().unwrap().clone(),
        )
        .unwrap(),
    )
    .unwrap();
    for case in cases["cases"].as_array().unwrap().iter().step_by(7) {
        let request: AuthorizeRequest = serde_json::from_value(case["request"].clone()).unwrap();
        let mut base = cases["baseEntities"].as_array().unwrap().clone();
        base.extend(request.entities.iter().cloned());
        let moved = Engine::new(&pack::healthcare(BTreeMap::new(), base).unwrap()).unwrap();
        let bare = AuthorizeRequest {
            entities: vec![],
            ..request.clone()
        };
        let a = plain.authorize(&request).unwrap();
        let b = moved.authorize(&bare).unwrap();
        assert_eq!(
            (a.decision, &a.policies),
            (b.decision, &b.policies),
            "{}",
            case["name"]
        );
    }
}
