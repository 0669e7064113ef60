//! HTTP errors: every failure answers `{"error": {"code", "message", "hint"}}` (the
//! core's `ErrorBody`) with a status chosen from the stable code.
//!
//! | code | status |
//! | --- | --- |
//! | `request.malformed`, `policy.*` (invalid input), `crypto.*` (bad input, failed decryption) | 400 |
//! | `auth.missing`, `auth.invalid`, `identity.*` of a credential | 401 |
//! | `auth.forbidden`, `auth.other_tenant`, `auth.break_glass_required`, `auth.scope`, `auth.mfa_required`, `auth.escalation`, `policy.tenant_mismatch` | 403 |
//! | `*.not_found` | 404 |
//! | `tenant.exists`, `request.conflict` (another writer changed it first) | 409 |
//! | `crypto.key_destroyed`, `tenant.offboarded` | 410 Gone: the data is gone for good, retrying cannot help |
//! | `request.method_not_allowed` | 405 |
//! | `request.too_large` | 413 |
//! | `rate.limited` | 429 with `Retry-After` |
//! | `request.timeout` | 408 |
//! | `store.unavailable` (the database is out of reach), `store.stale` (this node has not heard from it within the propagation bound) | 503 with `Retry-After` |
//! | `store.*`, `internal.*`, `crypto.unwrap_failed`, `crypto.random_unavailable`, `crypto.normalizer_unavailable` | 500 |

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use phylax_core::{Diagnostic, ErrorBody};

use crate::store::StoreError;

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
    /// Seconds to wait, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with an explicit status.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>, hint: &str) -> Self {
        Self {
            status,
            body: ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                hint: hint.to_owned(),
            },
            retry_after: None,
        }
    }

    /// An error body from the core, with the status its code maps to.
    pub fn from_body(body: ErrorBody) -> Self {
        Self {
            status: status_for_code(&body.code),
            body,
            retry_after: None,
        }
    }

    /// Any core error.
    pub fn from_diagnostic(err: &(impl Diagnostic + ?Sized)) -> Self {
        Self::from_body(ErrorBody::from_diagnostic(err))
    }

    /// 400 for a body that is not the documented JSON.
    pub fn malformed(err: &serde_json::Error) -> Self {
        Self::from_body(ErrorBody::bad_request(err))
    }

    /// 401.
    pub fn unauthenticated(code: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code,
            message,
            "send `Authorization: Bearer <token>` with the platform admin token, a tenant API key or a user JWT",
        )
    }

    /// 403.
    pub fn forbidden(code: &str, message: impl Into<String>, hint: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message, hint)
    }

    /// 404.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            &format!("{what}.not_found"),
            format!("no {what} `{id}`"),
            "check the id; list what exists first",
        )
    }

    /// 409 `request.conflict`: another request (on this node or another) changed what this
    /// one read before it could write; nothing was written.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "request.conflict",
            message,
            "read the current state and retry if it still applies",
        )
    }

    /// 500, without internals in the body (they go to the log).
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!(error = %message, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal.error",
            "the server failed to handle the request",
            "retry later; if it persists, check the server log",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if err.unavailable {
            tracing::warn!(error = %err, "store unavailable");
            let mut e = Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store.unavailable",
                "the database is out of reach",
                "retry shortly; the node reconnects by itself",
            );
            e.retry_after = Some(1);
            return e;
        }
        tracing::error!(error = %err, "store failure");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "store.failed",
            "the store failed to handle the request",
            "retry later; if it persists, check the server log and the data dir",
        )
    }
}

/// The HTTP status for a stable error code.
pub fn status_for_code(code: &str) -> StatusCode {
    match code {
        "crypto.key_destroyed" | "tenant.offboarded" => StatusCode::GONE,
        "policy.tenant_mismatch" => StatusCode::FORBIDDEN,
        "crypto.unwrap_failed"
        | "crypto.root_key_unknown"
        | "crypto.random_unavailable"
        | "crypto.normalizer_unavailable"
        | "policy.random_unavailable" => StatusCode::INTERNAL_SERVER_ERROR,
        "tenant.exists" | "request.conflict" => StatusCode::CONFLICT,
        "request.too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "request.method_not_allowed" => StatusCode::METHOD_NOT_ALLOWED,
        "request.timeout" => StatusCode::REQUEST_TIMEOUT,
        "rate.limited" => StatusCode::TOO_MANY_REQUESTS,
        "store.unavailable" | "store.stale" => StatusCode::SERVICE_UNAVAILABLE,
        c if c.ends_with(".not_found") => StatusCode::NOT_FOUND,
        c if c.starts_with("auth.forbidden")
            || c.starts_with("auth.other_tenant")
            || c.starts_with("auth.break_glass")
            || c.starts_with("auth.scope")
            || c.starts_with("auth.mfa_required")
            || c.starts_with("auth.escalation") =>
        {
            StatusCode::FORBIDDEN
        }
        c if c.starts_with("auth.") || c.starts_with("identity.") => StatusCode::UNAUTHORIZED,
        c if c.starts_with("store.") || c.starts_with("internal.") => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let json = phylax_core::Answer::<()>::Error(self.body).to_json();
        let mut resp = (
            self.status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
