//! Liveness, readiness, metrics and the OpenAPI document (no credentials needed).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::{blocking, AppState};

/// `GET /healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the store answers and this node's caches are current (it heard from
/// the store within the propagation bound). 503 otherwise, with `store.unavailable` or
/// `store.stale`: a load balancer takes the node out until it recovers by itself.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready: `{\"ok\": {\"store\": \"sqlite\"|\"postgres\", \"changeVersion\": N}}`"), (status = 503, description = "`store.unavailable` (the database does not answer) or `store.stale` (no change poll succeeded within the bound)")))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let store = state.store.clone();
    let checked = match blocking(move || Ok(store.ping()?)).await {
        Ok(()) => state.sync.ensure_fresh(&state).await,
        Err(e) => Err(e),
    };
    match checked {
        Ok(()) => super::json_response(
            StatusCode::OK,
            serde_json::json!({"ok": {
                "store": state.store.backend(),
                "changeVersion": state.sync.version(),
            }})
            .to_string(),
        ),
        Err(e) => e.into_response(),
    }
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text exposition")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    super::json_response(StatusCode::OK, crate::openapi::document())
}
