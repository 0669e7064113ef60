//! Who is calling, and may they touch this tenant.
//!
//! Every `/v1` request carries `Authorization: Bearer <token>`, one of:
//! - the **platform admin token** (`PHYLAX_ADMIN_TOKEN`, compared by SHA-256 in
//!   constant time);
//! - a **tenant API key** (`phx_live_...`, core `identity::api_key`: checksum, stored
//!   hash, expiry, rotation overlap, revocation), limited by its scopes;
//! - a **user JWT**, verified against the configured JWKS (core `identity::jwt`), whose
//!   tenant, roles and MFA come from its claims.
//!
//! [`authenticate`] runs before every `/v1` handler, in this order: ids in the path are
//! checked against the id charset; a source address that has spent its budget of failed
//! authentications is refused ([`crate::failed_auth`]); the credential is verified and
//! rate limited; then the route's row of the privilege table decides
//! ([`crate::privilege::decide`]). Each request is scoped to one tenant (the `{tenant}` of
//! its path, else `X-Phylax-Tenant`, else the credential's own). Every denial, and every
//! break-glass access, is appended to the tenant's audit chain before the answer, and
//! before the request body is read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use phylax_core::audit::{Action, Actor, AuditEvent, Origin, Outcome, RecordedBy};
use phylax_core::identity::{api_key, ApiKeyRecord};
use phylax_core::ErrorBody;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{ApiError, ApiResult};
use crate::privilege::{self, Verdict};
use crate::secrets::token_hash;
use crate::session::{self, SessionMeta};
use crate::state::{now, AppState};
use crate::store::TenantState;

/// Header naming the tenant when the path does not.
pub const TENANT_HEADER: &str = "x-phylax-tenant";
/// Header carrying a platform admin's break-glass reason.
pub const BREAK_GLASS_HEADER: &str = "x-phylax-break-glass";
/// Longest tenant or key id.
pub const MAX_ID_LEN: usize = 64;
/// Longest break-glass reason: it is written into the tenant's audit chain.
pub const MAX_REASON_LEN: usize = 1024;

/// A verified credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// The platform admin token.
    Admin,
    /// A tenant API key.
    ApiKey {
        /// Public key id.
        key_id: String,
        /// Its tenant.
        tenant: String,
        /// Its scopes.
        scopes: Vec<String>,
        /// When it expires.
        expires_at: Option<u64>,
    },
    /// A user JWT.
    User {
        /// Subject.
        id: String,
        /// Tenant claim.
        tenant: String,
        /// Roles claim.
        roles: Vec<String>,
        /// Whether the login used multiple factors (`amr`).
        mfa: bool,
    },
}

impl Credential {
    /// The rate-limit key and audit actor id (never a secret).
    pub fn id(&self) -> String {
        match self {
            Self::Admin => "platform-admin".to_owned(),
            Self::ApiKey { key_id, .. } => format!("api_key:{key_id}"),
            Self::User { id, tenant, .. } => format!("user:{tenant}/{id}"),
        }
    }

    /// The credential's own tenant.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Self::Admin => None,
            Self::ApiKey { tenant, .. } | Self::User { tenant, .. } => Some(tenant),
        }
    }

    fn role(&self) -> Option<String> {
        match self {
            Self::Admin => Some("platform_admin".to_owned()),
            Self::ApiKey { .. } => Some("api_key".to_owned()),
            Self::User { roles, .. } => roles.first().cloned(),
        }
    }
}

/// The caller of one request: set by [`authenticate`], taken by handlers.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The credential.
    pub credential: Credential,
    /// The client address.
    pub source_ip: Option<String>,
    /// `X-Phylax-Break-Glass`, if sent.
    pub break_glass: Option<String>,
    /// `X-Phylax-Tenant`, if sent.
    pub tenant_header: Option<String>,
    /// The console session, when the request authenticated with its cookie.
    pub session: Option<SessionMeta>,
}

impl Caller {
    /// The audit actor.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.credential.id(),
            role: self.credential.role(),
            source_ip: self.source_ip.clone(),
        }
    }

    /// Marks events this caller reports (audit ingest): written by the server on the
    /// caller's word.
    pub fn reported(&self) -> RecordedBy {
        RecordedBy {
            origin: Origin::Ingested,
            credential: self.credential.id(),
        }
    }

    /// A server event of this caller in `tenant`.
    pub fn event(
        &self,
        tenant: &str,
        action: Action,
        operation: &str,
        outcome: Outcome,
    ) -> AuditEvent {
        AuditEvent {
            tenant: tenant.to_owned(),
            actor: self.actor(),
            action,
            operation: Some(operation.to_owned()),
            record: None,
            time: now(),
            outcome,
            changed_fields: Vec::new(),
            decision: None,
            reason: self.break_glass.clone(),
            recorded_by: Some(RecordedBy {
                origin: Origin::Server,
                credential: self.credential.id(),
            }),
        }
    }

    /// The tenant a path-less route is scoped to.
    pub fn default_tenant(&self) -> ApiResult<String> {
        if let Some(t) = &self.tenant_header {
            return Ok(t.clone());
        }
        self.credential.tenant().map(str::to_owned).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "request.tenant_missing",
                "this route needs a tenant",
                "as platform admin, name the tenant in `X-Phylax-Tenant`",
            )
        })
    }

    /// Appends a break-glass access to `tenant`'s chain (before anything is read).
    pub async fn break_glass_access(&self, state: &Arc<AppState>, tenant: &str) -> ApiResult<()> {
        let ev = self.event(
            tenant,
            Action::Authorization,
            "break_glass",
            Outcome::Success,
        );
        audit_if_tenant(state, tenant, ev).await
    }

    /// Appends a refusal to `tenant`'s chain, then returns it.
    pub async fn refused(&self, state: &Arc<AppState>, tenant: &str, err: ApiError) -> ApiError {
        let mut ev = self.event(
            tenant,
            Action::Authorization,
            &err.body.code,
            Outcome::Denied,
        );
        ev.reason = None;
        match audit_if_tenant(state, tenant, ev).await {
            Ok(()) => err,
            Err(audit_err) => audit_err,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthenticated("auth.missing", "no credential was sent"))
    }
}

/// Appends an event to `tenant`'s chain when that tenant exists.
pub async fn audit_if_tenant(
    state: &Arc<AppState>,
    tenant: &str,
    event: AuditEvent,
) -> ApiResult<()> {
    if state.sync.tenant(state, tenant).await?.is_some() {
        let n = state.audit.append(tenant, vec![event]).await?.len();
        state.metrics.audit_events(n as u64);
    }
    Ok(())
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Whether `id` is a usable tenant or key id: 1 to [`MAX_ID_LEN`] ASCII letters, digits,
/// `-` or `_`. Nothing a URL normalizer rewrites (`.`, `..`, `%`-escapes, case folding
/// aside) can be an id, so a path names exactly one tenant.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// 400 `request.invalid_id` for an id outside the charset.
pub fn invalid_id(kind: &str, id: &str) -> ApiError {
    let shown: String = id.chars().take(MAX_ID_LEN).collect();
    ApiError::new(
        StatusCode::BAD_REQUEST,
        &format!("{kind}.invalid_id"),
        format!("`{shown}` is not a usable {kind} id"),
        "ids are 1 to 64 ASCII letters, digits, `-` or `_`",
    )
}

/// Checks the ids in a `/v1/tenants/{tenant}[/api-keys/{key_id}]...` path.
fn check_path_ids(path: &str) -> ApiResult<()> {
    let rest = path.strip_prefix("/v1").unwrap_or(path);
    let Some(rest) = rest.strip_prefix("/tenants/") else {
        return Ok(());
    };
    let mut parts = rest.split('/');
    let tenant = parts.next().unwrap_or_default();
    if !is_valid_id(tenant) {
        return Err(invalid_id("tenant", tenant));
    }
    if parts.next() == Some("api-keys") {
        if let Some(key) = parts.next() {
            if !is_valid_id(key) {
                return Err(invalid_id("api_key", key));
            }
        }
    }
    Ok(())
}

/// Middleware on `/v1`: checks path ids, throttles failed authentication per address,
/// verifies and rate-limits the credential, applies the privilege table and puts the
/// [`Caller`] in the request's extensions.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    // Only owned parts cross the awaits below (a `Request` is not `Sync`).
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let insecure = session::insecure_ok(ip, req.headers());
    let seen = Seen {
        ip,
        method: req.method().as_str().to_owned(),
        path: req.uri().path().to_owned(),
        route: req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        authorization: req.headers().get(header::AUTHORIZATION).cloned(),
        session_cookie: session::cookie_value(req.headers(), insecure),
        csrf: header_text(req.headers(), session::CSRF_HEADER),
        break_glass: header_text(req.headers(), BREAK_GLASS_HEADER),
        tenant_header: header_text(req.headers(), TENANT_HEADER),
    };
    match admit(&state, seen).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(e) => {
            let invalid_session = e.body.code == "auth.session_invalid";
            let mut resp = before_body(e.into_response());
            // A cookie that no longer opens is removed, so the browser stops sending it.
            if let (true, Ok(clear)) = (invalid_session, session::set_cookie(None, 0, insecure)) {
                resp.headers_mut().insert(header::SET_COOKIE, clear);
            }
            resp
        }
    }
}

/// What [`admit`] needs of a request.
struct Seen {
    ip: Option<IpAddr>,
    method: String,
    path: String,
    route: String,
    authorization: Option<HeaderValue>,
    session_cookie: Option<String>,
    csrf: Option<String>,
    break_glass: Option<String>,
    tenant_header: Option<String>,
}

async fn admit(state: &Arc<AppState>, req: Seen) -> ApiResult<Caller> {
    let ip = req.ip;
    check_path_ids(&req.path)?;
    if req
        .break_glass
        .as_ref()
        .is_some_and(|r| r.len() > MAX_REASON_LEN)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.malformed",
            format!("the break-glass reason is longer than {MAX_REASON_LEN} bytes"),
            "state the reason in at most 1024 bytes (a ticket id and a sentence); never put PHI in it",
        ));
    }
    state.failed_auth.check(ip)?;
    // Credentials are checked against caches only while they are known current.
    state.sync.ensure_fresh(state).await?;
    let route = if req.route.starts_with("/v1") {
        req.route
    } else {
        format!("/v1{}", req.route)
    };
    // A bearer credential, else the console session's; any failure to present one
    // spends the address's budget, as a bad credential does.
    let presented = match (&req.authorization, &req.session_cookie) {
        (Some(value), _) => bearer(value).map(|token| (token, None)),
        (None, Some(cookie)) => session::open(&state.root, cookie, now())
            .map(|opened| (opened.credential, Some(opened.meta))),
        (None, None) => Err(ApiError::unauthenticated(
            "auth.missing",
            "no credential was sent",
        )),
    };
    let (token, session) = match presented {
        Ok(p) => p,
        Err(e) => {
            state.failed_auth.failed(ip);
            return Err(e);
        }
    };
    // The one route a page calls without the CSRF token: it returns it.
    if let Some(meta) = &session {
        if !(req.method == "GET" && route == "/v1/session") {
            session::check_csrf(meta, req.csrf.as_deref())?;
        }
    }
    let credential = match verify(state, &token, ip).await {
        Ok(c) => c,
        Err(e) => {
            state.failed_auth.failed(ip);
            return Err(e);
        }
    };
    drop(token);
    state.limiter.check(&credential.id())?;
    let caller = Caller {
        credential,
        source_ip: ip.map(|i| i.to_string()),
        break_glass: req.break_glass,
        tenant_header: req.tenant_header,
        session,
    };
    let Some(rule) = privilege::rule(&req.method, &route) else {
        if privilege::ROUTES.iter().any(|r| r.path == route) {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "request.method_not_allowed",
                format!("`{route}` does not take {}", req.method),
                "see `/openapi.json` for the methods of each route",
            ));
        }
        return Err(ApiError::internal(format!(
            "route {} {route} has no row in the privilege table",
            req.method
        )));
    };
    let tenant = path_tenant(&req.path)
        .or_else(|| caller.tenant_header.clone())
        .or_else(|| caller.credential.tenant().map(str::to_owned));
    if let Some(t) = &tenant {
        if !is_valid_id(t) {
            return Err(invalid_id("tenant", t));
        }
    }
    let caller = match privilege::decide(
        &caller.credential,
        rule,
        tenant.as_deref(),
        caller.break_glass.as_deref(),
    ) {
        Verdict::Allow => caller,
        Verdict::BreakGlass => {
            if let Some(t) = &tenant {
                caller.break_glass_access(state, t).await?;
            }
            caller
        }
        Verdict::Deny(err) => {
            return match &tenant {
                Some(t) => Err(caller.refused(state, t, err).await),
                None => Err(err),
            }
        }
    };
    if let (true, Some(t)) = (privilege::is_tenant_write(rule), &tenant) {
        // A tenant in its export window (or shredded) takes no writes.
        if let Some(row) = state.sync.tenant(state, t).await? {
            if row.life.state != TenantState::Active {
                return Err(crate::lifecycle::wrong_state(
                    t,
                    row.life.state,
                    "change its data or configuration",
                ));
            }
        }
    }
    Ok(caller)
}

/// Marks a response sent without reading the request body: the server will not read the
/// rest of that body, so the connection cannot carry another request. Saying so lets the
/// client open a new one instead of writing into a closed socket.
fn before_body(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// The `{tenant}` of a `/v1/tenants/{tenant}/...` path (with or without `/v1`).
fn path_tenant(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v1").unwrap_or(path);
    let rest = rest.strip_prefix("/tenants/")?;
    let tenant = rest.split('/').next().filter(|t| !t.is_empty())?;
    Some(tenant.to_owned())
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(value: &HeaderValue) -> ApiResult<Zeroizing<String>> {
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| Zeroizing::new(t.trim().to_owned()))
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "auth.invalid",
                "the Authorization header is not `Bearer <token>`",
            )
        })
}

async fn verify(state: &Arc<AppState>, token: &str, ip: Option<IpAddr>) -> ApiResult<Credential> {
    if bool::from(token_hash(token).ct_eq(&state.admin_token_hash)) {
        return Ok(Credential::Admin);
    }
    if token.starts_with(api_key::PREFIX) {
        return verify_api_key(state, token, ip).await;
    }
    if let Some(jwt) = &state.jwt {
        let identity = jwt
            .verify(token, now())
            .map_err(|e| credential_error(ErrorBody::from_diagnostic(&e)))?;
        let tenant = identity.tenant_id.ok_or_else(|| {
            ApiError::unauthenticated("auth.invalid", "the token names no tenant")
        })?;
        return Ok(Credential::User {
            id: identity.principal_id,
            tenant,
            roles: identity.roles,
            mfa: identity.mfa,
        });
    }
    Err(ApiError::unauthenticated(
        "auth.invalid",
        "the credential is not valid",
    ))
}

fn credential_error(body: ErrorBody) -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        body,
        retry_after: None,
    }
}

async fn verify_api_key(
    state: &Arc<AppState>,
    token: &str,
    ip: Option<IpAddr>,
) -> ApiResult<Credential> {
    let parsed =
        api_key::parse(token).map_err(|e| credential_error(ErrorBody::from_diagnostic(&e)))?;
    let found = state.sync.api_key(state, parsed.key_id()).await?;
    let Some(found) = found else {
        return Err(ApiError::unauthenticated(
            "auth.invalid",
            "the credential is not valid",
        ));
    };
    let (tenant, json) = &*found;
    let record: ApiKeyRecord = serde_json::from_str(json).map_err(ApiError::internal)?;
    match api_key::verify(&parsed, &record, now()) {
        // Offboarding revokes a tenant's keys; a key written in a race with it (on
        // another node) is refused all the same.
        Ok(_)
            if state
                .sync
                .tenant(state, tenant)
                .await?
                .is_none_or(|t| t.deleted_at.is_some()) =>
        {
            Err(ApiError::unauthenticated(
                "auth.invalid",
                "the credential is not valid",
            ))
        }
        Ok(v) => Ok(Credential::ApiKey {
            key_id: v.key_id,
            tenant: v.tenant,
            scopes: v.scopes,
            expires_at: v.expires_at,
        }),
        Err(e) => {
            // An attempt on a real key of the tenant: counted, and summarized in its
            // chain once per window (never one record per attempt).
            let body = ErrorBody::from_diagnostic(&e);
            state
                .failed_auth
                .key_attempt(tenant, &record.key_id, ip, &body.code);
            Err(credential_error(body))
        }
    }
}
