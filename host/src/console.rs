//! The admin console's files, compiled into the binary (`host/build.rs` embeds
//! `console/dist/`), and the security headers every answer carries.
//!
//! The console is a static page and its script; it talks to the documented `/v1` API
//! only, authenticated by the session cookie ([`crate::session`]). Its policy playground
//! runs the npm package's own WebAssembly in the browser, so the CSP allows
//! `'wasm-unsafe-eval'` and nothing else beyond `'self'`: no inline script or style, no
//! other origin, no framing.

use std::sync::OnceLock;

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::session;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// The Content-Security-Policy of every answer.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// One embedded file.
struct Asset {
    path: &'static str,
    bytes: &'static [u8],
    gzip: Option<&'static [u8]>,
    etag: String,
}

fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        embedded::ASSETS
            .iter()
            .map(|&(path, bytes, gzip)| Asset {
                path,
                bytes,
                gzip,
                etag: format!(
                    "\"{}\"",
                    hex::encode(Sha256::digest(bytes).get(..12).unwrap_or_default())
                ),
            })
            .collect()
    })
}

/// Whether the binary carries a built console.
pub fn is_built() -> bool {
    !embedded::ASSETS.is_empty()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// Files from `PHYLAX_CONSOLE_DIR` instead of the embedded ones: debug builds only, for
/// working on the console without rebuilding the server.
#[cfg(debug_assertions)]
fn from_dir(path: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("PHYLAX_CONSOLE_DIR")?;
    if path.split('/').any(|p| p.is_empty() || p.starts_with('.')) {
        return None;
    }
    std::fs::read(std::path::Path::new(&dir).join(path)).ok()
}

#[cfg(not(debug_assertions))]
fn from_dir(_path: &str) -> Option<Vec<u8>> {
    None
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    if let Some(bytes) = from_dir(path) {
        return (
            [
                (header::CONTENT_TYPE, content_type(path)),
                (header::CACHE_CONTROL, "no-store"),
            ],
            bytes,
        )
            .into_response();
    }
    let Some(asset) = assets().iter().find(|a| a.path == path) else {
        if !is_built() {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "console.not_built",
                "this server was built without the admin console",
                "build it (`bash scripts/serve` does: the npm package, then `node console/build.mjs`), then rebuild the server",
            )
            .into_response();
        }
        return ApiError::not_found("console_file", path).into_response();
    };
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"\""));
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let cache = if path == "index.html" {
        "no-cache"
    } else {
        "public, max-age=0, must-revalidate"
    };
    let mut resp = match asset.gzip.filter(|_| accepts_gzip(headers)) {
        Some(gz) => (
            [
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                (header::VARY, HeaderValue::from_static("accept-encoding")),
            ],
            gz,
        )
            .into_response(),
        None => asset.bytes.into_response(),
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ETAG, etag);
    resp
}

/// `GET /console`: to `/console/`, so relative paths resolve.
pub async fn redirect() -> Redirect {
    Redirect::permanent("/console/")
}

/// `GET /console/`: the page.
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /console/{*path}`: a file of the console.
pub async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

/// Adds the security headers to every answer: the CSP, no sniffing, no referrer, no
/// framing, no caching of API answers, and HSTS when a TLS proxy says the browser came
/// over HTTPS.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let tls = session::behind_tls(req.headers());
    let api = !req.uri().path().starts_with("/console");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if api {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    if tls {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    resp
}
