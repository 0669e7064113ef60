//! Authorization benchmarks: the engine next to bare `cedar_policy::Authorizer::is_authorized`
//! on the same, already-built inputs, in the same run.
//!
//! Run with: `cargo bench -p phylax-core --bench policy -- --warm-up-time 1 --measurement-time 3`
//!
//! - `decision/<n>/...`: the healthcare pack with `n` base entities (patients of 10
//!   tenants, each with a provider). The request brings its principal and record (the
//!   usual case); the patient is a base entity. `engine_decide` is the engine on a
//!   prepared request (slice join + tenant policy set + Cedar + answer);
//!   `bare_is_authorized` is Cedar alone on a store that already holds base + request
//!   entities; `engine_authorize_from_json_types` adds parsing the request from its JSON
//!   form, with its entities already in the engine's entity cache (the same request every
//!   time); `engine_authorize_new_entities` is that with entities never seen before.
//! - `decision_base_only/<n>`: every entity in the base (no slice).
//! - `batch_100`: one provider, 100 records, one call vs 100 bare calls.
//! - `build`: engine build (parse, strict validation, base entities) vs the bare
//!   cedar steps (parse schema, parse policies, validate, parse entities).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "bench setup"
)]

use std::collections::BTreeMap;
use std::str::FromStr;

use cedar_policy::{Authorizer, Entities, PolicySet, Schema, ValidationMode, Validator};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use phylax_core::policy::{pack, AuthorizeRequest, BatchRequest, Engine, EngineSpec};
use serde_json::{json, Value};

const TENANTS: usize = 10;

fn user(id: &str, tenant: usize, role: &str, providers: Option<&str>) -> Value {
    let mut attrs = json!({"tenant": {"type": "Tenant", "id": format!("t{tenant}")}});
    if let Some(p) = providers {
        attrs["providers"] = json!([{"type": "User", "id": p}]);
    }
    json!({"uid": {"type": "User", "id": id}, "attrs": attrs, "parents": [{"type": "Role", "id": role}]})
}

fn record(id: &str, tenant: usize, patient: &str) -> Value {
    json!({"uid": {"type": "Record", "id": id}, "attrs": {"tenant": {"type": "Tenant", "id": format!("t{tenant}")}, "patient": {"type": "User", "id": patient}}, "parents": []})
}

/// Pack spec with `n` base entities: tenants, providers and patients.
fn spec(n: usize) -> EngineSpec {
    let mut extra: Vec<Value> = (0..TENANTS)
        .map(|t| json!({"uid": {"type": "Tenant", "id": format!("t{t}")}, "attrs": {}, "parents": []}))
        .collect();
    for t in 0..TENANTS {
        extra.push(user(&format!("doc{t}"), t, "provider", None));
    }
    let mut i = 0;
    while extra.len() < n {
        extra.push(user(
            &format!("p{i}"),
            i % TENANTS,
            "patient",
            Some(&format!("doc{}", i % TENANTS)),
        ));
        i += 1;
    }
    pack::healthcare(BTreeMap::new(), extra).unwrap()
}

/// The principal doc0 updating a record of patient p0 (tenant t0): allowed.
fn request() -> AuthorizeRequest {
    serde_json::from_value(json!({
        "principal": {"type": "User", "id": "doc0"},
        "action": {"type": "Action", "id": "update"},
        "resource": {"type": "Record", "id": "rec0"},
        "context": {"mfa": true},
        "entities": [user("doc0", 0, "provider", None), record("rec0", 0, "p0")],
    }))
    .unwrap()
}

/// [`request`] with entity JSON never seen before: record `rec0-<k>`, and a principal
/// whose (optional, unused here) `providers` names user `nobody<k>`. Same decision.
fn fresh_request(k: usize) -> AuthorizeRequest {
    let mut principal = user("doc0", 0, "provider", None);
    principal["attrs"]["providers"] = json!([{"type": "User", "id": format!("nobody{k}")}]);
    let id = format!("rec0-{k}");
    serde_json::from_value(json!({
        "principal": {"type": "User", "id": "doc0"},
        "action": {"type": "Action", "id": "update"},
        "resource": {"type": "Record", "id": id},
        "context": {"mfa": true},
        "entities": [principal, record(&id, 0, "p0")],
    }))
    .unwrap()
}

/// Cedar's own store holding base + request entities (request entities replace base ones).
fn full_store(spec: &EngineSpec, schema: &Schema, extra: &[Value]) -> Entities {
    let ids: Vec<&Value> = extra.iter().map(|e| &e["uid"]).collect();
    let mut all: Vec<Value> = spec
        .entities
        .iter()
        .filter(|e| !ids.contains(&&e["uid"]))
        .cloned()
        .collect();
    all.extend(extra.iter().cloned());
    Entities::from_json_value(Value::Array(all), Some(schema)).unwrap()
}

fn decision(c: &mut Criterion) {
    for n in [1_000usize, 100_000] {
        let spec = spec(n);
        let engine = Engine::new(&spec).unwrap();
        let schema = engine.schema().clone();
        let req = request();
        let prepared = engine.prepare(&req).unwrap();
        assert!(engine.decide(&prepared).unwrap().is_allowed());
        let pset: PolicySet = engine.policy_set(prepared.tenant()).clone();
        let store = full_store(&spec, &schema, &req.entities);
        let authorizer = Authorizer::new();
        let cedar_request = prepared.request().clone();
        assert_eq!(
            authorizer
                .is_authorized(&cedar_request, &pset, &store)
                .decision(),
            cedar_policy::Decision::Allow
        );

        let mut g = c.benchmark_group(format!("decision/{n}"));
        g.bench_function("bare_is_authorized", |b| {
            b.iter(|| black_box(authorizer.is_authorized(black_box(&cedar_request), &pset, &store)))
        });
        g.bench_function("engine_decide", |b| {
            b.iter(|| black_box(engine.decide(black_box(&prepared)).unwrap()))
        });
        // What the slice join costs, in parts: cloning the ~6 entities, and Cedar's
        // store construction (transitive closure) over them.
        let slice_uids: Vec<cedar_policy::EntityUid> = [
            "User::\"doc0\"",
            "Record::\"rec0\"",
            "User::\"p0\"",
            "Tenant::\"t0\"",
            "Role::\"provider\"",
            "Action::\"update\"",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        g.bench_function("part_clone_6_entities", |b| {
            b.iter(|| {
                black_box(
                    slice_uids
                        .iter()
                        .filter_map(|u| store.get(u).cloned())
                        .collect::<Vec<_>>(),
                )
            })
        });
        let cloned: Vec<cedar_policy::Entity> = slice_uids
            .iter()
            .filter_map(|u| store.get(u).cloned())
            .collect();
        g.bench_function("part_from_entities_6", |b| {
            b.iter(|| black_box(Entities::from_entities(cloned.clone(), None).unwrap()))
        });
        g.bench_function("engine_authorize_from_json_types", |b| {
            b.iter(|| black_box(engine.authorize(black_box(&req)).unwrap()))
        });
        // The same decision with entities the engine has not parsed before (its entity
        // cache holds 512; these cycle through 4096 records and principals' JSON).
        let fresh: Vec<AuthorizeRequest> = (0..4096).map(fresh_request).collect();
        for r in &fresh {
            assert!(engine.authorize(r).unwrap().is_allowed());
        }
        g.bench_function("engine_authorize_new_entities", |b| {
            let mut k = 0;
            b.iter(|| {
                k = (k + 1) % fresh.len();
                black_box(engine.authorize(black_box(&fresh[k])).unwrap())
            })
        });
        g.finish();

        // Everything in the base: no slice.
        let mut base_spec = spec.clone();
        base_spec.entities.retain(|e| e["uid"]["id"] != "doc0");
        base_spec.entities.extend(req.entities.iter().cloned());
        let base_engine = Engine::new(&base_spec).unwrap();
        let bare_req = AuthorizeRequest {
            entities: vec![],
            ..req.clone()
        };
        let prepared_base = base_engine.prepare(&bare_req).unwrap();
        let base_store = base_engine.base_entities().clone();
        let mut g = c.benchmark_group(format!("decision_base_only/{n}"));
        g.bench_function("bare_is_authorized", |b| {
            b.iter(|| {
                black_box(authorizer.is_authorized(black_box(&cedar_request), &pset, &base_store))
            })
        });
        g.bench_function("engine_decide", |b| {
            b.iter(|| black_box(base_engine.decide(black_box(&prepared_base)).unwrap()))
        });
        g.finish();
    }
}

fn batch(c: &mut Criterion) {
    let spec = spec(1_000);
    let engine = Engine::new(&spec).unwrap();
    let schema = engine.schema().clone();
    let mut entities = vec![user("doc0", 0, "provider", None)];
    let mut items = Vec::new();
    for i in 0..100 {
        // Patients p0, p10, p20 ... are doc0's (tenant t0).
        entities.push(record(&format!("rec{i}"), 0, &format!("p{}", i * 10)));
        items.push(json!({"action": {"type": "Action", "id": if i % 2 == 0 { "view" } else { "update" }}, "resource": {"type": "Record", "id": format!("rec{i}")}}));
    }
    let batch: BatchRequest = serde_json::from_value(json!({
        "principal": {"type": "User", "id": "doc0"}, "context": {"mfa": true}, "entities": entities, "items": items,
    }))
    .unwrap();
    let out = engine.authorize_batch(&batch).unwrap();
    assert_eq!(out.decisions.len(), 100);

    // Bare: the same 100 requests, prepared, against a store with base + request entities.
    let store = full_store(&spec, &schema, &batch.entities);
    let requests: Vec<_> = batch
        .items
        .iter()
        .map(|item| {
            let single = AuthorizeRequest {
                principal: batch.principal.clone(),
                action: item.action.clone(),
                resource: item.resource.clone(),
                context: batch.context.clone(),
                entities: batch.entities.clone(),
                tenant: None,
            };
            let p = engine.prepare(&single).unwrap();
            (p.request().clone(), engine.policy_set(p.tenant()).clone())
        })
        .collect();
    let authorizer = Authorizer::new();
    let mut g = c.benchmark_group("batch_100");
    g.bench_function("bare_is_authorized_x100", |b| {
        b.iter(|| {
            for (r, p) in &requests {
                black_box(authorizer.is_authorized(r, p, &store));
            }
        })
    });
    g.bench_function("engine_authorize_batch", |b| {
        b.iter(|| black_box(engine.authorize_batch(black_box(&batch)).unwrap()))
    });
    g.finish();
}

fn build(c: &mut Criterion) {
    let spec = spec(1_000);
    let mut g = c.benchmark_group("build/1000");
    g.sample_size(10);
    g.bench_function("bare_cedar_parse_validate", |b| {
        b.iter(|| {
            let (schema, _) = Schema::from_cedarschema_str(&spec.schema).unwrap();
            let pset = PolicySet::from_str(&spec.platform_policies[0].text).unwrap();
            let v = Validator::new(schema.clone()).validate(&pset, ValidationMode::Strict);
            assert!(v.validation_passed());
            black_box(
                Entities::from_json_value(Value::Array(spec.entities.clone()), Some(&schema))
                    .unwrap(),
            )
        })
    });
    g.bench_function("engine_new", |b| {
        b.iter(|| black_box(Engine::new(black_box(&spec)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, decision, batch, build);
criterion_main!(benches);
