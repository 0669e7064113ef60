//! `phylax serve`: builds the state from the config and runs the HTTP server until
//! SIGINT or SIGTERM, then drains in-flight requests (graceful shutdown).
//!
//! Connections are served by hyper's http1 builder with a timer, so the header-read
//! timeout applies to every request and every idle keep-alive wait (a slow-headers
//! client is closed after `header_read_timeout_ms`). Open connections are capped in
//! total and per source address ([`connections`]); one over a cap is closed at once,
//! so a flood from one address cannot use up the process's file descriptors.
//! Every error answer is the documented JSON ([`json_errors`]), including those
//! axum's extractors and router produce as plain text.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use phylax_core::identity::{JwtConfig, JwtVerifier};
use tower::ServiceExt;
use tower_http::trace::TraceLayer;

use crate::audit_log::AuditLog;
use crate::config::{Config, EngineKind};
use crate::engine::EngineFactory;
use crate::error::ApiError;
use crate::failed_auth::FailedAuth;
use crate::routes::{
    api_keys, audit, authorize, bundles, health, keys, policies, session, tenants, transit,
};
use crate::state::{AppState, StateParts};
use crate::store::Store;
use crate::{auth, console, secrets};

/// The router over a state.
pub fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/authorize", post(authorize::authorize))
        .route("/authorize/batch", post(authorize::authorize_batch))
        .route("/authorize/fields", post(authorize::readable_fields))
        .route("/authorize/plan", post(authorize::plan))
        .route("/tenants", post(tenants::create).get(tenants::list))
        .route(
            "/tenants/{tenant}",
            get(tenants::get).delete(tenants::shred),
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
        .route("/tenants/{tenant}/offboard", post(tenants::offboard))
        .route(
            "/tenants/{tenant}/cancel-offboarding",
            post(tenants::cancel_offboarding),
        )
        .route(
            "/tenants/{tenant}/settings",
            get(tenants::get_settings).put(tenants::put_settings),
        )
        .route("/tenants/{tenant}/export", get(tenants::export))
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
        .route(
            "/session",
            post(session::create)
                .get(session::current)
                .delete(session::delete),
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
        .route("/console", get(console::redirect))
        .route("/console/", get(console::index))
        .route("/console/{*path}", get(console::file))
        .nest("/v1", v1)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            time_limit(timeout, req, next)
        }))
        .layer(middleware::from_fn(crate::unread_body::close_if_unread))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(console::security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found() -> crate::error::ApiError {
    crate::error::ApiError::not_found("route", "this path")
}

/// 408 `request.timeout` when the handler (body reading included) runs past the limit.
async fn time_limit(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request.timeout",
            format!("the request took longer than {} ms", limit.as_millis()),
            "send the body promptly; split large batches",
        )
        .into_response(),
    }
}

/// Rewrites any error answer that is not the documented JSON (axum's extractor and
/// router rejections are plain text) into `{"error": {"code", "message", "hint"}}`.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail: String = String::from_utf8_lossy(&text).chars().take(300).collect();
    let (code, hint) = match status {
        StatusCode::NOT_FOUND => ("route.not_found", "see `/openapi.json` for the routes"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "request.method_not_allowed",
            "see `/openapi.json` for the methods of each route",
        ),
        StatusCode::REQUEST_TIMEOUT => ("request.timeout", "send the request promptly"),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "request.too_large",
            "send a smaller body, or ask the operator to raise `body_limit`",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "request.unsupported_media_type",
            "send `Content-Type: application/json`",
        ),
        s if s.is_server_error() => (
            "internal.error",
            "retry later; if it persists, check the server log",
        ),
        _ => (
            "request.malformed",
            "check the path, query string and body against `/openapi.json`",
        ),
    };
    let message = if detail.trim().is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_owned()
    } else {
        detail
    };
    let mut out = ApiError::new(status, code, message, hint).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
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
    let store_url = config.store.as_ref().map(|u| u.expose().to_owned());
    let shared = store_url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"));
    if shared {
        secrets::require_shared_keys(&config.data_dir, config.root_key_file.as_deref())?;
    }
    let store: Arc<dyn Store> = crate::store::open(
        store_url.as_deref(),
        &config.data_dir,
        config.store_pool_size,
    )
    .map_err(|e| {
        if e.unavailable {
            format!("{STORE_UNREACHABLE}: {}", e.message)
        } else {
            e.to_string()
        }
    })?;
    tracing::info!(backend = store.backend(), "store open");
    // Read before anything is loaded: every change after it reaches the caches.
    let (sync_version, _) = store
        .changes_since(u64::MAX, 0)
        .map_err(|e| e.to_string())?;
    let (root, dev) = secrets::root_keys(&config.data_dir, config.root_key_file.as_deref())
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
    let audit = AuditLog::start(audit_key, store.clone(), config.audit_batch_max);
    let parts = StateParts {
        config,
        store,
        root,
        audit,
        admin_token_hash,
        signing_key,
        jwt,
        extra_entities,
        sync_version,
    };
    AppState::new(parts, factory).map(Arc::new)
}

/// How [`build_state`]'s error starts when the database could not be reached (the CLI
/// exits with [`EXIT_STORE_UNREACHABLE`] then).
pub const STORE_UNREACHABLE: &str = "store unreachable";

/// Exit code of `phylax serve` when the database cannot be reached at start
/// (`EX_UNAVAILABLE` of sysexits.h).
pub const EXIT_STORE_UNREACHABLE: u8 = 69;

/// Runs the server until a shutdown signal.
pub async fn serve(config: Config) -> Result<(), String> {
    let listen = config.listen;
    let header_timeout = Duration::from_millis(config.header_read_timeout_ms);
    let drain = Duration::from_millis(config.request_timeout_ms) + Duration::from_secs(1);
    let window = Duration::from_secs(config.audit_failure_window_secs);
    let caps = connections::Caps::new(config.max_connections, config.max_connections_per_ip);
    // Opening a PostgreSQL store blocks on its own runtime: not on this one's threads.
    let state = tokio::task::spawn_blocking(move || build_state(config))
        .await
        .map_err(|e| e.to_string())??;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Tests and scripts read this line to find a port picked by the OS.
    println!("phylax listening on http://{local}");
    tracing::info!(%local, max_connections = caps.max_total(), "listening");
    let flusher = FailedAuth::spawn_flusher(state.clone(), window);
    let poller = crate::node_sync::NodeSync::spawn_poller(state.clone());
    let sweeper = crate::lifecycle::spawn_sweeper(
        state.clone(),
        Duration::from_millis(state.config.lifecycle_interval_ms),
    );
    let app = router(state.clone());
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = caps.admit(remote.ip()) else {
            // Over a cap: closed at once (the peer sees a reset or EOF).
            drop(stream);
            continue;
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                let app = app.clone();
                async move {
                    app.oneshot(req.map(Body::new))
                        .await
                        .map_err(|e: Infallible| e)
                }
            });
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _slot = slot;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: draining requests");
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain time; closing them");
    }
    flusher.abort();
    poller.abort();
    sweeper.abort();
    FailedAuth::flush(&state).await;
    tracing::info!("stopped");
    Ok(())
}

/// Open connections, capped in total and per source address.
pub mod connections {
    use super::{HashMap, IpAddr, Mutex, PoisonError};
    use std::sync::Arc;

    /// File descriptors kept free under the open-file limit (store, logs, accept).
    const FD_RESERVE: u64 = 128;
    /// The total cap without a configured one, when the open-file limit allows it.
    const DEFAULT_MAX: usize = 4096;

    /// The caps and the open connections.
    #[derive(Debug, Clone)]
    pub struct Caps {
        max_total: usize,
        max_per_ip: usize,
        open: Arc<Mutex<(usize, HashMap<IpAddr, usize>)>>,
    }

    /// One admitted connection; releases its place when dropped.
    #[derive(Debug)]
    pub struct Slot {
        caps: Caps,
        ip: IpAddr,
    }

    impl Caps {
        /// `max_total` (default: 4096, or the open-file limit less a reserve if lower)
        /// and `max_per_ip`.
        pub fn new(max_total: Option<usize>, max_per_ip: usize) -> Self {
            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
                .current
                .map(|n| n.saturating_sub(FD_RESERVE).max(1));
            let from_limit = limit.map_or(DEFAULT_MAX, |n| {
                usize::try_from(n).unwrap_or(DEFAULT_MAX).min(DEFAULT_MAX)
            });
            Self {
                max_total: max_total.unwrap_or(from_limit).max(1),
                max_per_ip: max_per_ip.max(1),
                open: Arc::default(),
            }
        }

        /// The total cap in force.
        pub fn max_total(&self) -> usize {
            self.max_total
        }

        /// A place for a connection from `ip`, or none when a cap is reached.
        pub fn admit(&self, ip: IpAddr) -> Option<Slot> {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            let (total, per_ip) = &mut *open;
            let mine = per_ip.entry(ip).or_insert(0);
            if *total >= self.max_total || *mine >= self.max_per_ip {
                if *mine == 0 {
                    per_ip.remove(&ip);
                }
                return None;
            }
            *mine += 1;
            *total += 1;
            Some(Slot {
                caps: self.clone(),
                ip,
            })
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            let mut open = self
                .caps
                .open
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let (total, per_ip) = &mut *open;
            *total = total.saturating_sub(1);
            if let Some(n) = per_ip.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_ip.remove(&self.ip);
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
        use super::*;

        #[test]
        fn caps_per_address_and_in_total() {
            let caps = Caps::new(Some(3), 2);
            let a: IpAddr = "127.0.0.2".parse().unwrap();
            let b: IpAddr = "127.0.0.3".parse().unwrap();
            let s1 = caps.admit(a).unwrap();
            let _s2 = caps.admit(a).unwrap();
            assert!(caps.admit(a).is_none(), "per-address cap");
            let _s3 = caps.admit(b).unwrap();
            assert!(caps.admit(b).is_none(), "total cap");
            drop(s1);
            assert!(
                caps.admit(b).is_some(),
                "a closed connection frees its place"
            );
        }
    }
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
}
