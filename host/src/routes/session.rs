//! The admin console's session (`crate::session` says how it is held): sign in with a
//! credential once, then the cookie and the CSRF token stand for it.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use phylax_core::audit::{Action, Outcome};
use serde::Serialize;
use utoipa::ToSchema;

use super::ok;
use crate::auth::{audit_if_tenant, bearer, Caller, Credential};
use crate::error::{ApiError, ApiResult};
use crate::privilege;
use crate::session::{self, SESSION_SECS};
use crate::state::{now, AppState};

/// A console session, as the page sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// Send it as `X-Phylax-CSRF` with every request; keep it in memory only.
    pub csrf: String,
    /// `admin`, `api_key` or `user`.
    pub kind: &'static str,
    /// The audit actor id (`platform-admin`, `api_key:<id>`, `user:<tenant>/<id>`).
    pub actor: String,
    /// The credential's tenant (none for the platform admin).
    pub tenant: Option<String>,
    /// The scopes held (`*`: all).
    pub scopes: Vec<String>,
    /// When the session ends, unix seconds.
    pub expires_at: u64,
}

fn peer(caller: &Caller) -> Option<IpAddr> {
    caller.source_ip.as_deref().and_then(|ip| ip.parse().ok())
}

fn info(credential: &Credential, csrf: String, expires_at: u64) -> SessionInfo {
    let kind = match credential {
        Credential::Admin => "admin",
        Credential::ApiKey { .. } => "api_key",
        Credential::User { .. } => "user",
    };
    SessionInfo {
        csrf,
        kind,
        actor: credential.id(),
        tenant: credential.tenant().map(str::to_owned),
        scopes: privilege::held_scopes(credential),
        expires_at,
    }
}

/// `POST /v1/session`: signs in to the console with the `Authorization` credential.
#[utoipa::path(post, path = "/v1/session", responses((status = 200, body = SessionInfo, description = "signed in; `Set-Cookie: phylax_session=...; HttpOnly; SameSite=Strict`"), (status = 400, description = "no credential in `Authorization`"), (status = 403, description = "console.not_admin, auth.mfa_required")), security(("bearer" = [])))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    // Read (and ignored: the credential is in `Authorization`), so the connection can
    // carry the next request whatever this one answers.
    _body: Bytes,
) -> ApiResult<Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "session.credential_required",
            "a console session starts from a credential in `Authorization`",
            "send `Authorization: Bearer <admin token, API key or JWT>`",
        ));
    };
    let token = bearer(value)?;
    privilege::console_access(&caller.credential)?;
    let at = now();
    let mut expires_at = at + SESSION_SECS;
    if let Credential::ApiKey {
        expires_at: Some(key_expiry),
        ..
    } = &caller.credential
    {
        expires_at = expires_at.min(*key_expiry);
    }
    let csrf = session::new_csrf()?;
    let cookie = session::seal(&state.root, &token, expires_at, &csrf)?;
    drop(token);
    if let Some(tenant) = caller.credential.tenant() {
        let ev = caller.event(
            tenant,
            Action::Authorization,
            "auth.console_sign_in",
            Outcome::Success,
        );
        audit_if_tenant(&state, tenant, ev).await?;
    }
    let insecure = session::insecure_ok(peer(&caller), &headers);
    let set = session::set_cookie(Some(&cookie), expires_at.saturating_sub(at), insecure)?;
    let mut resp = ok(info(&caller.credential, csrf, expires_at));
    resp.headers_mut().insert(header::SET_COOKIE, set);
    Ok(resp)
}

/// `GET /v1/session`: the session of the cookie, with its CSRF token (for a page
/// that was reloaded).
#[utoipa::path(get, path = "/v1/session", responses((status = 200, body = SessionInfo), (status = 401, description = "no console session")), security(("bearer" = [])))]
pub async fn current(caller: Caller) -> ApiResult<Response> {
    let Some(meta) = &caller.session else {
        return Err(ApiError::unauthenticated(
            "auth.no_session",
            "this request did not come with a console session",
        ));
    };
    Ok(ok(info(
        &caller.credential,
        meta.csrf.clone(),
        meta.expires_at,
    )))
}

/// `DELETE /v1/session`: signs out (removes the cookie).
#[utoipa::path(delete, path = "/v1/session", responses((status = 200, description = "`{\"ok\": {\"signedOut\": true}}`")), security(("bearer" = [])))]
pub async fn delete(caller: Caller, headers: HeaderMap, _body: Bytes) -> ApiResult<Response> {
    let insecure = session::insecure_ok(peer(&caller), &headers);
    let set = session::set_cookie(None, 0, insecure)?;
    let mut resp = ok(serde_json::json!({ "signedOut": true })).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, set);
    Ok(resp)
}
