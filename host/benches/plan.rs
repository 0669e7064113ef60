//! Plans for list queries against the alternative a user has without them, in one run:
//! a provider's list of records on 100,000 rows in SQLite (three tenants, the pack's
//! model: records, patients, care teams), answered by
//! - a plan, turned into a `WHERE` fragment, and the filtered, indexed query; or
//! - the tenant's rows fetched, and `authorize` called once per row.
//!
//! And the plan itself beside one `authorize` call (the same principal and action).
//! Targets (BENCHMARKS.md): plan + filtered query at least 100× faster than per-row
//! `authorize` on that table; a plan within 3× of one `authorize`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "a benchmark"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use phylax_core::policy::plan::{to_sql, Dialect, SqlMapping};
use phylax_core::policy::{pack, AuthorizeRequest, Engine, PlanRequest};
use serde_json::{json, Value};

const ROWS: usize = 100_000;
const PATIENTS_PER_TENANT: usize = 2_000;
const PROVIDERS_PER_TENANT: usize = 50;

fn tenant_ref(t: &str) -> Value {
    json!({"__entity": {"type": "Tenant", "id": t}})
}

fn provider_entity(id: &str) -> Value {
    json!({"uid": {"type": "User", "id": id}, "attrs": {"tenant": tenant_ref("t0")},
           "parents": [{"type": "Role", "id": "provider"}]})
}

/// The table, with care teams: patient p of tenant t is treated by providers p % 50 and
/// (p + 7) % 50 of its tenant.
fn database() -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE TABLE users (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, has_providers INTEGER NOT NULL);
         CREATE TABLE care_team (patient_id TEXT NOT NULL, provider_id TEXT NOT NULL, PRIMARY KEY (patient_id, provider_id));
         CREATE TABLE records (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, patient_id TEXT NOT NULL);
         CREATE INDEX records_tenant_patient ON records (tenant_id, patient_id);
         CREATE INDEX care_team_provider ON care_team (provider_id, patient_id);",
    )
    .unwrap();
    let tx = db.unchecked_transaction().unwrap();
    for t in 0..3 {
        for p in 0..PATIENTS_PER_TENANT {
            let id = format!("t{t}-p{p}");
            tx.execute(
                "INSERT INTO users VALUES (?1, ?2, 1)",
                rusqlite::params![id, format!("t{t}")],
            )
            .unwrap();
            for d in [p % PROVIDERS_PER_TENANT, (p + 7) % PROVIDERS_PER_TENANT] {
                tx.execute(
                    "INSERT OR IGNORE INTO care_team VALUES (?1, ?2)",
                    rusqlite::params![id, format!("t{t}-d{d}")],
                )
                .unwrap();
            }
        }
    }
    for r in 0..ROWS {
        let t = r % 3;
        let p = (r / 3) % PATIENTS_PER_TENANT;
        tx.execute(
            "INSERT INTO records VALUES (?1, ?2, ?3)",
            rusqlite::params![format!("r{r}"), format!("t{t}"), format!("t{t}-p{p}")],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    db
}

fn mapping() -> SqlMapping {
    serde_json::from_value(json!({
        "attributes": {
            "tenant": "records.tenant_id",
            "patient": "records.patient_id",
            "patient.providers": {
                "has": "EXISTS (SELECT 1 FROM users u WHERE u.id = records.patient_id AND u.has_providers = 1)",
                "contains": "EXISTS (SELECT 1 FROM care_team c WHERE c.patient_id = records.patient_id AND c.provider_id = ?)"
            }
        }
    }))
    .unwrap()
}

fn plan_request(provider: &str) -> PlanRequest {
    serde_json::from_value(json!({
        "principal": {"type": "User", "id": provider},
        "action": {"type": "Action", "id": "view"},
        "resourceType": "Record",
        "context": {"mfa": true},
        "entities": [provider_entity(provider)],
    }))
    .unwrap()
}

fn sqlite_values(params: &[Value]) -> Vec<rusqlite::types::Value> {
    params
        .iter()
        .map(|v| match v {
            Value::String(s) => rusqlite::types::Value::Text(s.clone()),
            Value::Number(n) => rusqlite::types::Value::Integer(n.as_i64().unwrap()),
            other => panic!("parameter {other}"),
        })
        .collect()
}

fn planned_ids(
    engine: &Engine,
    db: &rusqlite::Connection,
    mapping: &SqlMapping,
    provider: &str,
) -> Vec<String> {
    let plan = engine.plan(&plan_request(provider)).unwrap();
    let filter = to_sql(&plan, mapping, Dialect::Sqlite).unwrap();
    let mut stmt = db
        .prepare_cached(&format!("SELECT id FROM records WHERE {}", filter.sql))
        .unwrap();
    stmt.query_map(
        rusqlite::params_from_iter(sqlite_values(&filter.params)),
        |r| r.get(0),
    )
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Fetches the tenant's rows with what `authorize` needs (the record and its patient's
/// care team) and asks for each.
fn authorized_ids(engine: &Engine, db: &rusqlite::Connection, provider: &str) -> Vec<String> {
    let mut stmt = db
        .prepare_cached(
            "SELECT r.id, r.patient_id, (SELECT group_concat(provider_id) FROM care_team c WHERE c.patient_id = r.patient_id)
             FROM records r WHERE r.tenant_id = ?1",
        )
        .unwrap();
    let rows: Vec<(String, String, Option<String>)> = stmt
        .query_map(["t0"], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let principal = provider_entity(provider);
    let mut out = Vec::new();
    for (id, patient, team) in rows {
        let providers: Vec<Value> = team
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|p| json!({"__entity": {"type": "User", "id": p}}))
            .collect();
        let req = AuthorizeRequest {
            principal: serde_json::from_value(json!({"type": "User", "id": provider})).unwrap(),
            action: serde_json::from_value(json!({"type": "Action", "id": "view"})).unwrap(),
            resource: serde_json::from_value(json!({"type": "Record", "id": id})).unwrap(),
            context: json!({"mfa": true}),
            entities: vec![
                principal.clone(),
                json!({"uid": {"type": "Record", "id": id}, "attrs": {"tenant": tenant_ref("t0"),
                       "patient": {"__entity": {"type": "User", "id": patient}}}, "parents": []}),
                json!({"uid": {"type": "User", "id": patient}, "attrs": {"tenant": tenant_ref("t0"),
                       "providers": providers}, "parents": [{"type": "Role", "id": "patient"}]}),
            ],
            tenant: Some("t0".to_owned()),
        };
        if engine.authorize(&req).unwrap().is_allowed() {
            out.push(id);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let engine = Engine::new(&pack::healthcare(BTreeMap::new(), Vec::new()).unwrap()).unwrap();
    let db = database();
    let mapping = mapping();
    let provider = "t0-d3";
    // Both ways give the same rows (checked here once; host/tests/plan.rs checks it all).
    let mut a = planned_ids(&engine, &db, &mapping, provider);
    let mut b = authorized_ids(&engine, &db, provider);
    a.sort();
    b.sort();
    assert_eq!(a, b, "plan and per-row authorize disagree");
    assert!(!a.is_empty());

    let mut g = c.benchmark_group("plan");
    g.bench_function("provider/plan_resources", |bch| {
        let req = plan_request(provider);
        bch.iter(|| black_box(engine.plan(black_box(&req)).unwrap()));
    });
    g.bench_function("provider/authorize_one", |bch| {
        let req: AuthorizeRequest = serde_json::from_value(json!({
            "principal": {"type": "User", "id": provider}, "action": {"type": "Action", "id": "view"},
            "resource": {"type": "Record", "id": "r0"}, "context": {"mfa": true}, "tenant": "t0",
            "entities": [provider_entity(provider),
                {"uid": {"type": "Record", "id": "r0"}, "attrs": {"tenant": tenant_ref("t0"),
                  "patient": {"__entity": {"type": "User", "id": "t0-p0"}}}, "parents": []},
                {"uid": {"type": "User", "id": "t0-p0"}, "attrs": {"tenant": tenant_ref("t0"),
                  "providers": [{"__entity": {"type": "User", "id": provider}}]}, "parents": [{"type": "Role", "id": "patient"}]}],
        }))
        .unwrap();
        bch.iter(|| black_box(engine.authorize(black_box(&req)).unwrap()));
    });
    g.finish();

    let mut g = c.benchmark_group("plan_sqlite_100k");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("plan_and_filtered_query", |bch| {
        bch.iter(|| black_box(planned_ids(&engine, &db, &mapping, provider)));
    });
    g.bench_function("tenant_rows_and_authorize_each", |bch| {
        bch.iter(|| black_box(authorized_ids(&engine, &db, provider)));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
