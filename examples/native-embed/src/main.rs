//! Embeds `phylax-core` directly in an axum service, the way a native server would: the
//! engine (healthcare pack) and a tenant keyring live in the app's state; a handler
//! authorizes the caller, then decrypts only the fields the policies let them read.
//!
//! Run with: `cargo run -p phylax-example-native-embed` (starts on 127.0.0.1:0, calls
//! itself, prints the answers, exits 0).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use phylax_core::crypto::{Keyring, RecordSpec, RootKey};
use phylax_core::policy::{pack, AuthorizeRequest, Engine, EntityRef, FieldsRequest};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Error = Box<dyn std::error::Error + Send + Sync>;

struct App {
    engine: Engine,
    keyring: Keyring,
    spec: RecordSpec,
    /// The app's own table: record id -> (patient id, encrypted record).
    records: BTreeMap<String, (String, Value)>,
}

/// The entities of one request: the signed-in user (from the app's session) and the record.
fn entities(user: &str, role: &str, record: &str, patient: &str) -> Vec<Value> {
    vec![
        json!({"uid": {"type": "User", "id": user}, "attrs": {"tenant": {"type": "Tenant", "id": "acme"}}, "parents": [{"type": "Role", "id": role}]}),
        json!({"uid": {"type": "User", "id": patient}, "attrs": {"tenant": {"type": "Tenant", "id": "acme"}, "providers": [{"type": "User", "id": "dr-who"}]}, "parents": [{"type": "Role", "id": "patient"}]}),
        json!({"uid": {"type": "Record", "id": record}, "attrs": {"tenant": {"type": "Tenant", "id": "acme"}, "patient": {"type": "User", "id": patient}}, "parents": []}),
    ]
}

/// `GET /records/{id}/as/{user}/{role}`: authorize `view`, then decrypt the readable fields.
async fn view(
    State(app): State<Arc<App>>,
    Path((id, user, role)): Path<(String, String, String)>,
) -> (StatusCode, Json<Value>) {
    let Some((patient, stored)) = app.records.get(&id) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such record"})),
        );
    };
    let ents = entities(&user, &role, &id, patient);
    let ask = AuthorizeRequest {
        principal: EntityRef::new("User", user.as_str()),
        action: EntityRef::new("Action", "view"),
        resource: EntityRef::new("Record", id.as_str()),
        context: json!({"mfa": true}),
        entities: ents.clone(),
        tenant: None,
    };
    let decision = match app.engine.authorize(&ask) {
        Ok(d) => d,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.to_string()})),
            )
        }
    };
    if !decision.is_allowed() {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"decision": decision.decision})),
        );
    }
    let fields = FieldsRequest {
        principal: EntityRef::new("User", user.as_str()),
        resource: EntityRef::new("Record", id.as_str()),
        fields: vec!["/name".to_owned(), "/diagnosis".to_owned()],
        context: json!({"mfa": true}),
        entities: ents,
        tenant: None,
    };
    let readable = match app.engine.readable_fields(&fields) {
        Ok(f) => f.readable,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.to_string()})),
            )
        }
    };
    match app
        .keyring
        .decrypt_record(&app.spec, &id, stored, Some(&readable))
    {
        Ok(record) => (
            StatusCode::OK,
            Json(json!({"policies": decision.policies, "record": record})),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        ),
    }
}

/// A minimal HTTP/1.1 GET to ourselves (no client crate needed).
async fn get_self(addr: std::net::SocketAddr, path: &str) -> Result<String, Error> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    Ok(format!("{status}  {body}"))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // 1. The engine: the healthcare pack, with field classes for /name and /diagnosis.
    let spec = pack::healthcare(
        BTreeMap::new(),
        vec![
            json!({"uid": {"type": "Tenant", "id": "acme"}, "attrs": {}, "parents": []}),
            json!({"uid": {"type": "Field", "id": "/name"}, "attrs": {}, "parents": [{"type": "FieldClass", "id": "non_clinical"}]}),
            json!({"uid": {"type": "Field", "id": "/diagnosis"}, "attrs": {}, "parents": [{"type": "FieldClass", "id": "clinical"}]}),
        ],
    )?;
    let engine = Engine::new(&spec)?;

    // 2. A tenant keyring under the root key (a real app reads the key from its secret store).
    let root = RootKey::insecure_dev_key()?;
    let keyring = Keyring::create("acme", &root, 1_700_000_000)?;

    // 3. Encrypt a record's fields before storing it.
    let spec: RecordSpec = serde_json::from_value(
        json!({"name": "patients", "fields": [{"pointer": "/name"}, {"pointer": "/diagnosis"}]}),
    )?;
    let encrypted =
        keyring.encrypt_record(&spec, "r1", &json!({"name": "Ada", "diagnosis": "asthma"}))?;
    let records = BTreeMap::from([("r1".to_owned(), ("ada".to_owned(), encrypted.record))]);
    let app = Arc::new(App {
        engine,
        keyring,
        spec,
        records,
    });

    // 4. Serve on a port the OS picks, and call ourselves as three users.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/records/{id}/as/{user}/{role}", get(view))
        .with_state(app);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    println!("native-embed listening on http://{addr}");
    // Expected: the provider reads everything, staff only non-clinical fields, another patient nothing.
    let expected = [
        ("dr-who", "provider", "200 OK", Some("asthma")),
        ("frontdesk", "staff", "200 OK", None),
        ("mallory", "patient", "403 Forbidden", None),
    ];
    for (who, role, status, diagnosis) in expected {
        let answer = get_self(addr, &format!("/records/r1/as/{who}/{role}")).await?;
        println!("{who:>9} ({role}): {answer}");
        if !answer.contains(status) || answer.contains("asthma") != diagnosis.is_some() {
            return Err(format!("unexpected answer for {who}: {answer}").into());
        }
    }
    server.abort();
    Ok(())
}
