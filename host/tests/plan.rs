//! Plans checked as a user would check them: a generated data set (3 tenants, 2,100
//! records, random patients and care teams, ids with quotes, `--`, `%`, `_`,
//! backslashes and Unicode) in a real SQLite database and in PostgreSQL; for every pack
//! role and API-key scope set × every record action × principals of each tenant, the
//! rows `SELECT ... WHERE <plan>` returns must be exactly the rows `authorize` allows
//! (decided per row, with the same entities and `tenant`). Differences are counted and
//! must be 0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use phylax_core::policy::plan::{to_sql, Dialect, PlanDecision, SqlMapping};
use phylax_core::policy::{pack, BatchRequest, Engine, PlanRequest};
use phylax_core::Answer;
use serde_json::{json, Value};

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Ids that would break a query built by pasting text.
const HOSTILE: &[&str] = &[
    "o'brien",
    "x'); DROP TABLE records; --",
    "100%_match",
    "back\\slash",
    "ünïcødé-患者",
    "\"quoted\"",
];

struct Data {
    tenants: Vec<String>,
    /// (id, tenant, role)
    users: Vec<(String, String, String)>,
    /// patient id → Some(providers) or None (attribute absent)
    providers: BTreeMap<String, Option<Vec<String>>>,
    /// (id, tenant, patient)
    records: Vec<(String, String, String)>,
}

fn generate(seed: u64, records: usize) -> Data {
    let mut rng = Rng(seed);
    let tenants: Vec<String> = ["t1", "t2", "t3"].iter().map(|s| (*s).to_owned()).collect();
    let mut users = Vec::new();
    let mut patients_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut providers_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &tenants {
        for (role, n) in [
            ("patient", 40),
            ("provider", 6),
            ("staff", 2),
            ("owner", 1),
            ("tenant_admin", 1),
        ] {
            for i in 0..n {
                let id = match HOSTILE.get(i) {
                    Some(h) if role == "patient" && t == "t1" => (*h).to_owned(),
                    _ => format!("{t}-{role}-{i}"),
                };
                users.push((id.clone(), t.clone(), role.to_owned()));
                match role {
                    "patient" => patients_of.entry(t.clone()).or_default().push(id),
                    "provider" => providers_of.entry(t.clone()).or_default().push(id),
                    _ => {}
                }
            }
        }
    }
    users.push((
        "root".to_owned(),
        "platform".to_owned(),
        "platform_admin".to_owned(),
    ));
    let mut providers = BTreeMap::new();
    for t in &tenants {
        for p in &patients_of[t] {
            let set = if rng.chance(15) {
                None
            } else {
                let mut team = BTreeSet::new();
                for _ in 0..rng.below(4) {
                    // Mostly the tenant's providers, sometimes another tenant's.
                    let from = if rng.chance(10) {
                        &tenants[rng.below(3)]
                    } else {
                        t
                    };
                    let list = &providers_of[from];
                    team.insert(list[rng.below(list.len())].clone());
                }
                Some(team.into_iter().collect())
            };
            providers.insert(p.clone(), set);
        }
    }
    let mut out = Vec::new();
    for i in 0..records {
        let t = &tenants[rng.below(3)];
        // A few records name a patient of another tenant.
        let from = if rng.chance(5) {
            &tenants[rng.below(3)]
        } else {
            t
        };
        let list = &patients_of[from];
        let patient = list[rng.below(list.len())].clone();
        let id = HOSTILE
            .get(i)
            .map_or_else(|| format!("r{i}"), |h| format!("r-{h}"));
        out.push((id, t.clone(), patient));
    }
    Data {
        tenants,
        users,
        providers,
        records: out,
    }
}

fn tenant_ref(t: &str) -> Value {
    json!({"__entity": {"type": "Tenant", "id": t}})
}

fn user_entity(data: &Data, id: &str) -> Value {
    let (_, tenant, role) = data.users.iter().find(|u| u.0 == id).unwrap();
    let mut attrs = json!({"tenant": tenant_ref(tenant)});
    if let Some(Some(team)) = data.providers.get(id) {
        attrs["providers"] = Value::Array(
            team.iter()
                .map(|p| json!({"__entity": {"type": "User", "id": p}}))
                .collect(),
        );
    }
    json!({"uid": {"type": "User", "id": id}, "attrs": attrs, "parents": [{"type": "Role", "id": role}]})
}

fn record_entity(r: &(String, String, String)) -> Value {
    json!({"uid": {"type": "Record", "id": r.0},
           "attrs": {"tenant": tenant_ref(&r.1), "patient": {"__entity": {"type": "User", "id": r.2}}},
           "parents": []})
}

/// The principals: one user of every role in each tenant, API keys with a few scope
/// sets, the platform admin with and without a break-glass reason, with and without MFA.
fn principals(data: &Data) -> Vec<(String, Value, Value, String)> {
    let mut out = Vec::new();
    for t in &data.tenants {
        let mut seen = BTreeSet::new();
        for (id, tenant, role) in &data.users {
            if tenant == t && seen.insert(role.clone()) {
                for mfa in [true, false] {
                    if !mfa && role != "tenant_admin" && role != "provider" {
                        continue;
                    }
                    out.push((
                        format!("{role}@{t} mfa={mfa}"),
                        user_entity(data, id),
                        json!({"mfa": mfa}),
                        t.clone(),
                    ));
                }
            }
        }
        // Providers with a care team in this tenant: a second one, so plans differ.
        let second = data
            .users
            .iter()
            .filter(|u| &u.1 == t && u.2 == "provider")
            .nth(1)
            .unwrap();
        out.push((
            format!("provider#2@{t}"),
            user_entity(data, &second.0),
            json!({"mfa": true}),
            t.clone(),
        ));
        for (i, scopes) in [
            vec!["records:read"],
            vec!["records:write", "records:export"],
            vec![],
        ]
        .iter()
        .enumerate()
        {
            out.push((
                format!("api-key{i}@{t}"),
                json!({"uid": {"type": "ApiKey", "id": format!("k{i}-{t}")},
                       "attrs": {"tenant": tenant_ref(t), "scopes": scopes}, "parents": []}),
                json!({"mfa": false}),
                t.clone(),
            ));
        }
        for reason in ["", "on-call incident 42"] {
            let mut context = json!({"mfa": true});
            if !reason.is_empty() {
                context["breakGlassReason"] = json!(reason);
            }
            out.push((
                format!("platform_admin for {t} reason={reason:?}"),
                user_entity(data, "root"),
                context,
                t.clone(),
            ));
        }
    }
    out
}

fn mapping() -> SqlMapping {
    serde_json::from_value(json!({
        "id": "records.id",
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

const ACTIONS: &[&str] = &["view", "create", "update", "delete", "export"];

fn engine() -> Engine {
    Engine::new(&pack::healthcare(BTreeMap::new(), Vec::new()).unwrap()).unwrap()
}

/// The rows `authorize` allows, decided per row (in batches of one principal).
/// The same pack with the whole data set as base entities: `authorize` then decides
/// each row without parsing its entities again (as an app keeping its data in the
/// engine would).
fn engine_with_data(data: &Data) -> Engine {
    let mut entities: Vec<Value> = data.users.iter().map(|u| user_entity(data, &u.0)).collect();
    entities.extend(data.records.iter().map(record_entity));
    Engine::new(&pack::healthcare(BTreeMap::new(), entities).unwrap()).unwrap()
}

/// The rows `authorize` allows, decided per row (in batches of one principal).
fn allowed_by_authorize(
    engine: &Engine,
    data: &Data,
    principal: &Value,
    context: &Value,
    tenant: &str,
    action: &str,
) -> BTreeSet<String> {
    let mut allowed = BTreeSet::new();
    // Users are base entities already; an API key comes with the request.
    let entities: Vec<Value> = if principal["uid"]["type"] == "ApiKey" {
        vec![principal.clone()]
    } else {
        Vec::new()
    };
    for chunk in data.records.chunks(1000) {
        let req: BatchRequest = serde_json::from_value(json!({
            "principal": principal["uid"],
            "context": context,
            "entities": entities,
            "tenant": tenant,
            "items": chunk.iter().map(|r| json!({"action": {"type": "Action", "id": action}, "resource": {"type": "Record", "id": r.0}})).collect::<Vec<_>>(),
        }))
        .unwrap();
        let resp = engine.authorize_batch(&req).unwrap();
        for (r, answer) in chunk.iter().zip(resp.decisions) {
            // An error (another tenant's record under `tenant`) is a deny.
            if let Answer::Ok(d) = answer {
                if d.is_allowed() {
                    allowed.insert(r.0.clone());
                }
            }
        }
    }
    allowed
}

fn plan_for(
    engine: &Engine,
    principal: &Value,
    context: &Value,
    tenant: &str,
    action: &str,
) -> phylax_core::policy::Plan {
    let req: PlanRequest = serde_json::from_value(json!({
        "principal": principal["uid"],
        "action": {"type": "Action", "id": action},
        "resourceType": "Record",
        "context": context,
        "entities": [principal],
        "tenant": tenant,
    }))
    .unwrap();
    engine.plan(&req).unwrap()
}

fn sqlite_db(data: &Data) -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE TABLE users (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, has_providers INTEGER NOT NULL);
         CREATE TABLE care_team (patient_id TEXT NOT NULL, provider_id TEXT NOT NULL, PRIMARY KEY (patient_id, provider_id));
         CREATE TABLE records (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, patient_id TEXT NOT NULL);
         CREATE INDEX records_tenant ON records (tenant_id);",
    )
    .unwrap();
    for (id, tenant, _) in &data.users {
        let has = data.providers.get(id).is_some_and(Option::is_some);
        db.execute(
            "INSERT INTO users VALUES (?1, ?2, ?3)",
            rusqlite::params![id, tenant, has],
        )
        .unwrap();
    }
    for (p, team) in &data.providers {
        for q in team.iter().flatten() {
            db.execute(
                "INSERT INTO care_team VALUES (?1, ?2)",
                rusqlite::params![p, q],
            )
            .unwrap();
        }
    }
    for (id, tenant, patient) in &data.records {
        db.execute(
            "INSERT INTO records VALUES (?1, ?2, ?3)",
            rusqlite::params![id, tenant, patient],
        )
        .unwrap();
    }
    db
}

fn sqlite_rows(db: &rusqlite::Connection, sql: &str, params: &[Value]) -> BTreeSet<String> {
    let mut stmt = db
        .prepare(&format!("SELECT id FROM records WHERE {sql}"))
        .unwrap();
    let values: Vec<rusqlite::types::Value> = params
        .iter()
        .map(|v| match v {
            Value::String(s) => rusqlite::types::Value::Text(s.clone()),
            Value::Number(n) => rusqlite::types::Value::Integer(n.as_i64().unwrap()),
            Value::Bool(b) => rusqlite::types::Value::Integer(i64::from(*b)),
            other => panic!("unexpected parameter {other}"),
        })
        .collect();
    stmt.query_map(rusqlite::params_from_iter(values), |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn plans_select_exactly_the_rows_authorize_allows_in_sqlite_and_postgres() {
    let data = generate(0x5eed_cafe, 2100);
    let engine = engine();
    let mapping = mapping();
    let sqlite = sqlite_db(&data);
    let pg = common::postgres().map(|base| {
        let url = common::fresh_database(&base, "plan");
        pg_db(&url, &data)
    });
    let decider = engine_with_data(&data);
    let (mut compared, mut differences, mut conditional) = (0usize, 0usize, 0usize);
    let mut by_decision: BTreeMap<String, usize> = BTreeMap::new();
    for (name, principal, context, tenant) in principals(&data) {
        for action in ACTIONS {
            let plan = plan_for(&engine, &principal, &context, &tenant, action);
            *by_decision
                .entry(format!("{:?}", plan.decision))
                .or_default() += 1;
            if plan.decision == PlanDecision::Conditional {
                conditional += 1;
            }
            let expected =
                allowed_by_authorize(&decider, &data, &principal, &context, &tenant, action);
            let filter = to_sql(&plan, &mapping, Dialect::Sqlite).unwrap();
            let got = sqlite_rows(&sqlite, &filter.sql, &filter.params);
            compared += data.records.len();
            let diff = got.symmetric_difference(&expected).count();
            if diff > 0 {
                eprintln!(
                    "{name} {action}: {diff} rows differ (sqlite); plan {}",
                    serde_json::to_string(&plan).unwrap()
                );
            }
            differences += diff;
            if let Some(pg) = &pg {
                let filter = to_sql(&plan, &mapping, Dialect::Postgres).unwrap();
                let got = pg.rows(&filter.sql, &filter.params);
                compared += data.records.len();
                let diff = got.symmetric_difference(&expected).count();
                if diff > 0 {
                    eprintln!("{name} {action}: {diff} rows differ (postgres)");
                }
                differences += diff;
            }
        }
    }
    println!(
        "plan vs authorize: {compared} (row, principal, action) decisions compared over {} records, {} tenants, SQLite{}; {conditional} conditional plans {by_decision:?}; {differences} differences",
        data.records.len(),
        data.tenants.len(),
        if pg.is_some() { " and PostgreSQL" } else { "" },
    );
    assert!(conditional > 20, "the set exercises conditions");
    assert_eq!(differences, 0);
}

#[test]
fn values_never_change_the_sql_text() {
    let engine = engine();
    let mapping = mapping();
    let mut texts = BTreeSet::new();
    let mut hostile = HOSTILE.to_vec();
    hostile.extend(["nul\0byte", "plain"]);
    for id in &hostile {
        for role in ["provider", "patient"] {
            let principal = json!({"uid": {"type": "User", "id": id},
                "attrs": {"tenant": {"__entity": {"type": "Tenant", "id": "t1"}}},
                "parents": [{"type": "Role", "id": role}]});
            let plan = plan_for(&engine, &principal, &json!({"mfa": true}), "t1", "view");
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let f = to_sql(&plan, &mapping, dialect).unwrap();
                assert!(!f.sql.contains(id), "the id is never in the text");
                assert!(f.params.contains(&json!(id)), "the id is a parameter");
                texts.insert((role, format!("{dialect:?}"), f.sql));
            }
        }
    }
    // One text per role and dialect, whatever the ids.
    assert_eq!(texts.len(), 4, "{texts:#?}");
}

#[test]
fn a_mapping_without_an_attribute_the_plan_needs_is_an_error_naming_it() {
    let engine = engine();
    let principal = json!({"uid": {"type": "User", "id": "p"},
        "attrs": {"tenant": {"__entity": {"type": "Tenant", "id": "t1"}}},
        "parents": [{"type": "Role", "id": "provider"}]});
    let plan = plan_for(&engine, &principal, &json!({"mfa": true}), "t1", "view");
    let mut m = mapping();
    m.attributes.remove("patient.providers");
    let e = to_sql(&plan, &m, Dialect::Sqlite).unwrap_err();
    assert_eq!(phylax_core::Diagnostic::code(&e), "plan.mapping_missing");
    assert!(e.to_string().contains("patient.providers"), "{e}");
}

struct Pg {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Pg {
    fn rows(&self, sql: &str, params: &[Value]) -> BTreeSet<String> {
        use tokio_postgres::types::{ToSql, Type};
        let owned: Vec<(Box<dyn ToSql + Sync + Send>, Type)> = params
            .iter()
            .map(|v| -> (Box<dyn ToSql + Sync + Send>, Type) {
                match v {
                    Value::String(s) => (Box::new(s.clone()), Type::TEXT),
                    Value::Number(n) => (Box::new(n.as_i64().unwrap()), Type::INT8),
                    Value::Bool(b) => (Box::new(*b), Type::BOOL),
                    other => panic!("unexpected parameter {other}"),
                }
            })
            .collect();
        let refs: Vec<(&(dyn ToSql + Sync), Type)> = owned
            .iter()
            .map(|(b, t)| (b.as_ref() as &(dyn ToSql + Sync), t.clone()))
            .collect();
        let query = format!("SELECT id FROM records WHERE {sql}");
        self.rt
            .block_on(self.client.query_typed(&query, &refs))
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

fn pg_db(url: &str, data: &Data) -> Pg {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, conn) = rt
        .block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(conn);
    rt.block_on(async {
        client
            .batch_execute(
                "CREATE TABLE users (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, has_providers INTEGER NOT NULL);
                 CREATE TABLE care_team (patient_id TEXT NOT NULL, provider_id TEXT NOT NULL, PRIMARY KEY (patient_id, provider_id));
                 CREATE TABLE records (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, patient_id TEXT NOT NULL);
                 CREATE INDEX records_tenant ON records (tenant_id);",
            )
            .await
            .unwrap();
        for (id, tenant, _) in &data.users {
            let has = i32::from(data.providers.get(id).is_some_and(Option::is_some));
            client
                .execute("INSERT INTO users VALUES ($1, $2, $3)", &[id, tenant, &has])
                .await
                .unwrap();
        }
        for (p, team) in &data.providers {
            for q in team.iter().flatten() {
                client
                    .execute("INSERT INTO care_team VALUES ($1, $2)", &[p, q])
                    .await
                    .unwrap();
            }
        }
        for (id, tenant, patient) in &data.records {
            client
                .execute("INSERT INTO records VALUES ($1, $2, $3)", &[id, tenant, patient])
                .await
                .unwrap();
        }
    });
    Pg { rt, client }
}

/// `if` nested `depth` times in the condition position of the next `if`.
fn nested_ifs(depth: usize) -> String {
    let mut e = r#"resource.tenant == Tenant::"t1""#.to_owned();
    for _ in 0..depth {
        e = format!(
            r#"(if {e} then resource.tenant == Tenant::"t1" else resource.tenant == Tenant::"t2")"#
        );
    }
    format!(r#"permit (principal, action == Action::"view", resource) when {{ {e} }};"#)
}

/// A policy shape a plan cannot express exactly gives `plan.unsupported`, never a
/// wider filter.
#[test]
fn unsupported_shapes_give_their_codes() {
    let schema = pack::SCHEMA;
    let spec = |policy: &str| phylax_core::policy::EngineSpec {
        schema: schema.to_owned(),
        platform_policies: vec![phylax_core::policy::PolicyFile::new("p.cedar", policy)],
        tenant_policies: BTreeMap::new(),
        entities: serde_json::from_str(pack::ENTITIES).unwrap(),
        options: Default::default(),
    };
    let principal = json!({"uid": {"type": "User", "id": "u"},
        "attrs": {"tenant": {"__entity": {"type": "Tenant", "id": "t1"}}},
        "parents": [{"type": "Role", "id": "staff"}]});
    let cases: Vec<(String, &str)> = vec![
        (
            r#"permit (principal, action == Action::"view", resource) when { resource.tenant == resource.patient.tenant };"#.to_owned(),
            "plan.unsupported",
        ),
        (
            r#"permit (principal, action == Action::"view", resource) when { resource.patient has providers && resource.patient.providers.containsAll(resource.patient.providers) };"#.to_owned(),
            "plan.unsupported",
        ),
        // A user is `in` roles: `in` a role is a hierarchy question, not an id compare.
        (
            r#"forbid (principal, action == Action::"view", resource) when { resource.patient in Role::"suspended" }; permit (principal, action == Action::"view", resource);"#.to_owned(),
            "plan.unsupported",
        ),
        // `if` in the condition of `if`, nested: the copies are capped, not exponential.
        (nested_ifs(14), "plan.failed"),
    ];
    for (policy, code) in &cases {
        let engine = match Engine::new(&spec(policy.as_str())) {
            Ok(e) => e,
            Err(e) => panic!("{policy}: {e}"),
        };
        let req: PlanRequest = serde_json::from_value(json!({
            "principal": principal["uid"], "action": {"type": "Action", "id": "view"},
            "resourceType": "Record", "context": {"mfa": true}, "entities": [principal], "tenant": "t1"
        }))
        .unwrap();
        let e = engine.plan(&req).unwrap_err();
        assert_eq!(phylax_core::Diagnostic::code(&e), *code, "{policy}: {e}");
    }
}

/// `POST /v1/authorize/plan`: scoped to the caller's tenant like the other authorize
/// routes, with the SQL filter when asked, and the same plan as the core.
#[test]
fn the_server_plans_in_the_callers_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::Server::start(&dir.path().join("data"), &[]);
    server.create_tenant("acme");
    let key = server.api_key("acme", &["authorize"]);
    let doc = json!({"uid": {"type": "User", "id": "doc"},
        "attrs": {"tenant": {"__entity": {"type": "Tenant", "id": "acme"}}},
        "parents": [{"type": "Role", "id": "provider"}]});
    let body = json!({
        "principal": {"type": "User", "id": "doc"}, "action": {"type": "Action", "id": "view"},
        "resourceType": "Record", "context": {"mfa": true}, "entities": [doc],
        "sql": {"mapping": mapping(), "dialect": "postgres"},
    });
    let r = server.req(
        "POST",
        "/v1/authorize/plan",
        Some(&key),
        Some(&body.to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let ok = r.json()["ok"].clone();
    assert_eq!(ok["decision"], "conditional");
    assert_eq!(ok["tenant"], "acme");
    let filter = &ok["filter"];
    assert!(
        filter["sql"]
            .as_str()
            .unwrap()
            .starts_with("((records.tenant_id = $1)"),
        "{filter}"
    );
    assert_eq!(filter["params"], json!(["acme", "doc"]));
    // The same plan as the core's, for the engine the server serves.
    let mut core_req = body.clone();
    core_req.as_object_mut().unwrap().remove("sql");
    core_req["tenant"] = json!("acme");
    let core = Engine::new(&pack::healthcare(BTreeMap::new(), Vec::new()).unwrap()).unwrap();
    let expected = core
        .plan(&serde_json::from_value(core_req).unwrap())
        .unwrap();
    assert_eq!(
        ok["condition"],
        serde_json::to_value(&expected.condition).unwrap()
    );
    // Another tenant named in the body: refused like every authorize route.
    let mut other = body.clone();
    other["tenant"] = json!("globex");
    let r = server.req(
        "POST",
        "/v1/authorize/plan",
        Some(&key),
        Some(&other.to_string()),
    );
    r.assert_error(403, "auth.other_tenant");
    // A mapping that lacks an attribute: its code, 400.
    let mut unmapped = body.clone();
    unmapped["sql"]["mapping"] = json!({"attributes": {"tenant": "records.tenant_id"}});
    let r = server.req(
        "POST",
        "/v1/authorize/plan",
        Some(&key),
        Some(&unmapped.to_string()),
    );
    r.assert_error(400, "plan.mapping_missing");
}

/// A plan whose `in` list would bind more values than one statement takes is refused,
/// not sent to the database.
#[test]
fn a_filter_past_the_parameter_limit_is_refused() {
    let values: Vec<Value> = (0..70_000).map(|i| json!(format!("s{i}"))).collect();
    let plan: phylax_core::policy::Plan = serde_json::from_value(json!({
        "decision": "conditional", "policies": [], "bundleHash": "sha256:x",
        "condition": {"in": {"attr": "tenant", "values": values}},
    }))
    .unwrap();
    let e = to_sql(&plan, &mapping(), Dialect::Postgres).unwrap_err();
    assert_eq!(phylax_core::Diagnostic::code(&e), "plan.failed", "{e}");
}
