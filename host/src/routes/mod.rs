//! The HTTP API. Every `/v1` route is behind [`crate::auth::authenticate`]; bodies are
//! the core's JSON call types (camelCase, unknown fields rejected); answers are
//! `{"ok": ...}` or `{"error": {"code", "message", "hint"}}` ([`crate::error`]).

pub mod api_keys;
pub mod audit;
pub mod authorize;
pub mod bundles;
pub mod health;
pub mod keys;
pub mod policies;
pub mod session;
pub mod tenants;
pub mod transit;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;

/// A JSON body parsed into `T`: 413 `request.too_large` over the body limit, 400
/// `request.malformed` (with the parse error and a hint) when it is not `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        // Every body is a JSON object: serde would also take a struct from an array of its
        // fields in order (`[]` for one whose fields all have defaults).
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "request.malformed",
                "the request body must be a JSON object",
                "send the body as a JSON object (`{...}`), as /openapi.json documents it",
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::malformed(&e))
    }
}

/// Reads the raw body under the limit.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request.too_large",
                "the request body is larger than the server accepts",
                "send a smaller body (split batches), or ask the operator to raise `body_limit`",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "request.malformed",
                format!("the request body could not be read: {rejection}"),
                "send a complete JSON body",
            )
        }
    })
}

/// `{"ok": value}` with a status.
pub fn ok_with<T: Serialize>(status: StatusCode, value: T) -> Response {
    json_response(status, phylax_core::Answer::Ok(value).to_json())
}

/// `{"ok": value}`, 200.
pub fn ok<T: Serialize>(value: T) -> Response {
    ok_with(StatusCode::OK, value)
}

/// A JSON text response.
pub fn json_response(status: StatusCode, json: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}
