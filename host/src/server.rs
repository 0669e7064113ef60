//! `phylax serve`: builds the state from the config and runs the HTTP server until
//! SIGINT or SIGTERM, then drains in-flight requests (graceful shutdown).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use phylax_core::identity::{JwtConfig, JwtVerifier};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::audit_log::AuditLog;
use crate::config::{Config, EngineKind};
use crate::engine::EngineFactory;
use crate::routes::{
    api_keys, audit, authorize, bundles, health, keys, policies, tenants, transit,
};
use crate::state::{AppState, StateParts};
use crate::store::sqlite::SqliteStore;
use crate::store::Store;
use crate::{auth, secrets};

/// The router over a state.
pub fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/authorize", post(authorize::authorize))
        .route("/authorize/batch", post(authorize::authorize_batch))
        .route("/authorize/fields", post(authorize::readable_fields))
        .route("/tenants", post(tenants::create).get(tenants::list))
        .route(
            "/tenants/{tenant}",
            get(tenants::get).delete(tenants::offboard),
        )
        .route(
            "/tenants/{tenant}/policies",
            get(policies::current).put(policies::put),
        )
        .route(
            "/tenants/{tenant}/policies/versions",
            get(policies::versions),
        )
        .route(
            "/tenants/{tenant}/policies/versions/{version}",
            get(policies::by_version),
        )
        .route("/tenants/{tenant}/bundle", get(bundles::bundle))
        .route("/bundles/public-key", get(bundles::public_key))
        .route("/tenants/{tenant}/keys/rotate", post(keys::rotate))
        .route("/tenants/{tenant}/transit/encrypt", post(transit::encrypt))
        .route("/tenants/{tenant}/transit/decrypt", post(transit::decrypt))
        .route("/tenants/{tenant}/transit/rewrap", post(transit::rewrap))
        .route(
            "/tenants/{tenant}/transit/needs-rewrap",
            post(transit::needs_rewrap),
        )
        .route(
            "/tenants/{tenant}/transit/blind-index",
            post(transit::blind_index),
        )
        .route(
            "/tenants/{tenant}/transit/encrypt-record",
            post(transit::encrypt_record),
        )
        .route(
            "/tenants/{tenant}/transit/decrypt-record",
            post(transit::decrypt_record),
        )
        .route(
            "/tenants/{tenant}/audit/events",
            post(audit::ingest).get(audit::query),
        )
        .route("/tenants/{tenant}/audit/export", get(audit::export))
        .route("/tenants/{tenant}/audit/verify", post(audit::verify))
        .route(
            "/tenants/{tenant}/api-keys",
            post(api_keys::create).get(api_keys::list),
        )
        .route(
            "/tenants/{tenant}/api-keys/{key_id}/rotate",
            post(api_keys::rotate),
        )
        .route(
            "/tenants/{tenant}/api-keys/{key_id}",
            axum::routing::delete(api_keys::revoke),
        )
        .fallback(not_found)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    let timeout = Duration::from_millis(state.config.request_timeout_ms);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi))
        .nest("/v1", v1)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> crate::error::ApiError {
    crate::error::ApiError::not_found("route", "this path")
}

/// Counts requests and latency per matched route.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    state
        .metrics
        .request(&method, &route, resp.status().as_u16(), start.elapsed());
    resp
}

/// Builds the state: store, keys, engine.
pub fn build_state(config: Config) -> Result<Arc<AppState>, String> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("data dir `{}`: {e}", config.data_dir.display()))?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open_dir(&config.data_dir).map_err(|e| e.to_string())?);
    let (root, dev) = secrets::root_key(&config.data_dir, config.root_key_file.as_deref())
        .map_err(|e| e.to_string())?;
    if dev {
        let warning = format!(
            "USING A GENERATED DEVELOPMENT ROOT KEY ({}). Anyone who can read that file can decrypt every tenant's data. In production set PHYLAX_ROOT_KEY or --root-key-file.",
            config.data_dir.join("root.key").display()
        );
        eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n!!! {warning}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
        tracing::warn!("{warning}");
    }
    let audit_key = secrets::audit_key(&config.data_dir).map_err(|e| e.to_string())?;
    let signing_key = secrets::signing_key(&config.data_dir).map_err(|e| e.to_string())?;
    let admin_token_hash = secrets::admin_token_hash(&*store).map_err(|e| e.to_string())?;
    let jwt = match &config.jwt {
        Some(j) => {
            let jwks = std::fs::read_to_string(&j.jwks_file)
                .map_err(|e| format!("JWKS `{}`: {e}", j.jwks_file.display()))?;
            Some(
                JwtVerifier::new(JwtConfig::new(&j.issuer, &j.audience), &jwks)
                    .map_err(|e| format!("JWT config: {e}"))?,
            )
        }
        None => None,
    };
    let extra_entities = match &config.entities_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("entities `{}`: {e}", path.display()))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("entities `{}`: {e}", path.display()))?
        }
        None => Vec::new(),
    };
    let factory = match config.engine {
        EngineKind::Native => EngineFactory::native(),
        EngineKind::Wasm => EngineFactory::wasm()?,
    };
    let parts = StateParts {
        config,
        store,
        root,
        audit: AuditLog::new(audit_key),
        admin_token_hash,
        signing_key,
        jwt,
        extra_entities,
    };
    AppState::new(parts, factory).map(Arc::new)
}

/// Runs the server until a shutdown signal.
pub async fn serve(config: Config) -> Result<(), String> {
    let listen = config.listen;
    let state = build_state(config)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts read this line to find a port picked by the OS.
    println!("phylax listening on http://{local}");
    tracing::info!(%local, "listening");
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining requests");
}
