//! Who is calling, and may they touch this tenant.
//!
//! Every `/v1` request carries `Authorization: Bearer <token>`, one of:
//! - the **platform admin token** (`PHYLAX_ADMIN_TOKEN`, compared by SHA-256 in
//!   constant time);
//! - a **tenant API key** (`phx_live_...`, core `identity::api_key`: checksum, stored
//!   hash, expiry, rotation overlap, revocation), limited by its scopes;
//! - a **user JWT**, verified against the configured JWKS (core `identity::jwt`), whose
//!   tenant and roles come from its claims.
//!
//! Each request is scoped to one tenant (the `{tenant}` of its path, else
//! `X-Phylax-Tenant`, else the credential's own tenant). A tenant credential never
//! reaches another tenant (403 `auth.other_tenant`). The platform admin runs the control
//! plane of any tenant (tenant, policies, API keys, key rotation, bundle): each such
//! action is audited in the tenant's chain. Reaching a tenant's *data* (transit
//! encrypt/decrypt, audit read and export, authorize) as platform admin is cross-tenant
//! access: it needs a break-glass reason in `X-Phylax-Break-Glass` (403
//! `auth.break_glass_required` without) and is audited with that reason before the
//! answer. Every denial is appended to the tenant's audit chain before the 403 goes out.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use phylax_core::audit::{Action, Actor, AuditEvent, Outcome};
use phylax_core::identity::{api_key, ApiKeyRecord};
use phylax_core::ErrorBody;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::secrets::token_hash;
use crate::state::{blocking, now, AppState};

/// Header naming the tenant when the path does not.
pub const TENANT_HEADER: &str = "x-phylax-tenant";
/// Header carrying a platform admin's break-glass reason.
pub const BREAK_GLASS_HEADER: &str = "x-phylax-break-glass";

/// Every scope a tenant credential can hold (`*` holds all).
pub const SCOPES: &[&str] = &[
    "authorize",
    "transit:encrypt",
    "transit:decrypt",
    "keys:rotate",
    "audit:write",
    "audit:read",
    "policies:read",
    "policies:write",
    "api_keys:manage",
    "tenant:read",
];

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
    },
    /// A user JWT.
    User {
        /// Subject.
        id: String,
        /// Tenant claim.
        tenant: String,
        /// Roles claim.
        roles: Vec<String>,
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

    /// Whether the credential holds a scope. Users: owners and tenant admins hold all;
    /// providers may authorize, encrypt, decrypt and write audit events; other roles
    /// may authorize and write audit events.
    pub fn has_scope(&self, scope: &str) -> bool {
        match self {
            Self::Admin => true,
            Self::ApiKey { scopes, .. } => scopes.iter().any(|s| s == scope || s == "*"),
            Self::User { roles, .. } => {
                let has = |r: &str| roles.iter().any(|x| x == r);
                if has("owner") || has("tenant_admin") {
                    true
                } else if has("provider") {
                    matches!(
                        scope,
                        "authorize" | "transit:encrypt" | "transit:decrypt" | "audit:write"
                    )
                } else {
                    matches!(scope, "authorize" | "audit:write")
                }
            }
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

    /// An audit event of this caller in `tenant`.
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

/// What a route does to a tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Tenant management: allowed to the platform admin (audited by the route).
    Control,
    /// The tenant's data: the platform admin needs a break-glass reason.
    Data,
}

/// Checks `caller` may act on `tenant` with `scope`; appends denials (and break-glass
/// access) to the tenant's audit chain before returning.
pub async fn check_tenant(
    state: &Arc<AppState>,
    caller: &Caller,
    tenant: &str,
    access: Access,
    scope: &str,
) -> ApiResult<()> {
    let denial = match &caller.credential {
        Credential::Admin => match (access, caller.break_glass.as_deref()) {
            (Access::Control, _) => None,
            (Access::Data, Some(reason)) if !reason.trim().is_empty() => {
                // Cross-tenant data access: audited before anything is read.
                let ev = caller.event(tenant, Action::Authorization, "break_glass", Outcome::Success);
                audit_if_tenant(state, tenant, ev).await?;
                None
            }
            (Access::Data, _) => Some(ApiError::forbidden(
                "auth.break_glass_required",
                format!("platform admin access to the data of tenant `{tenant}` needs a break-glass reason"),
                "send the reason in `X-Phylax-Break-Glass`; the access is audited in the tenant's chain",
            )),
        },
        cred => {
            if cred.tenant() != Some(tenant) {
                Some(ApiError::forbidden(
                    "auth.other_tenant",
                    format!("this credential belongs to another tenant, not `{tenant}`"),
                    "use a credential of the tenant you address",
                ))
            } else if !cred.has_scope(scope) {
                Some(ApiError::forbidden(
                    "auth.scope",
                    format!("this credential lacks the `{scope}` scope"),
                    "issue an API key with the scope this route needs",
                ))
            } else {
                None
            }
        }
    };
    match denial {
        None => Ok(()),
        Some(err) => {
            let mut ev = caller.event(
                tenant,
                Action::Authorization,
                &err.body.code,
                Outcome::Denied,
            );
            ev.reason = None;
            audit_if_tenant(state, tenant, ev).await?;
            Err(err)
        }
    }
}

/// Requires the platform admin.
pub fn require_admin(caller: &Caller) -> ApiResult<()> {
    if caller.credential == Credential::Admin {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "auth.forbidden",
            "only the platform admin may do this",
            "use the platform admin token",
        ))
    }
}

/// Requires the platform admin for a route on `tenant`; a refusal is audited there.
pub async fn require_admin_for(
    state: &Arc<AppState>,
    caller: &Caller,
    tenant: &str,
) -> ApiResult<()> {
    if let Err(err) = require_admin(caller) {
        let ev = caller.event(
            tenant,
            Action::Authorization,
            &err.body.code,
            Outcome::Denied,
        );
        audit_if_tenant(state, tenant, ev).await?;
        return Err(err);
    }
    Ok(())
}

/// Appends an event to `tenant`'s chain when that tenant exists.
pub async fn audit_if_tenant(
    state: &Arc<AppState>,
    tenant: &str,
    event: AuditEvent,
) -> ApiResult<()> {
    let store = state.store.clone();
    let t = tenant.to_owned();
    let exists = blocking(move || Ok(store.tenant(&t)?.is_some())).await?;
    if exists {
        let n = state
            .audit
            .append(&state.store, tenant, vec![event])
            .await?
            .len();
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

/// Middleware on `/v1`: verifies the credential, applies the rate limit and puts the
/// [`Caller`] in the request's extensions.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let credential = match verify(&state, req.headers(), source_ip.as_deref()).await {
        Ok(c) => c,
        Err(e) => return before_body(e.into_response()),
    };
    if let Err(e) = state.limiter.check(&credential.id()) {
        return before_body(e.into_response());
    }
    let caller = Caller {
        credential,
        source_ip,
        break_glass: header_text(req.headers(), BREAK_GLASS_HEADER),
        tenant_header: header_text(req.headers(), TENANT_HEADER),
    };
    // Tenant isolation before anything else of the request (its body included) is read.
    let path_tenant = path_tenant(req.uri().path());
    let named = path_tenant.as_deref().or(caller.tenant_header.as_deref());
    if let (Some(own), Some(named)) = (caller.credential.tenant(), named) {
        if own != named {
            let err = ApiError::forbidden(
                "auth.other_tenant",
                format!("this credential belongs to another tenant, not `{named}`"),
                "use a credential of the tenant you address",
            );
            let ev = caller.event(
                named,
                Action::Authorization,
                "auth.other_tenant",
                Outcome::Denied,
            );
            let ev = AuditEvent { reason: None, ..ev };
            if let Err(e) = audit_if_tenant(&state, named, ev).await {
                return before_body(e.into_response());
            }
            return before_body(err.into_response());
        }
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
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

async fn verify(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    source_ip: Option<&str>,
) -> ApiResult<Credential> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthenticated(
            "auth.missing",
            "no credential was sent",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::unauthenticated(
                "auth.invalid",
                "the Authorization header is not `Bearer <token>`",
            )
        })?;
    if bool::from(token_hash(token).ct_eq(&state.admin_token_hash)) {
        return Ok(Credential::Admin);
    }
    if token.starts_with(api_key::PREFIX) {
        return verify_api_key(state, token, source_ip).await;
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
    source_ip: Option<&str>,
) -> ApiResult<Credential> {
    let parsed =
        api_key::parse(token).map_err(|e| credential_error(ErrorBody::from_diagnostic(&e)))?;
    let store = state.store.clone();
    let key_id = parsed.key_id().to_owned();
    let found = blocking(move || Ok(store.api_key(&key_id)?)).await?;
    let Some((tenant, json)) = found else {
        return Err(ApiError::unauthenticated(
            "auth.invalid",
            "the credential is not valid",
        ));
    };
    let record: ApiKeyRecord = serde_json::from_str(&json).map_err(ApiError::internal)?;
    match api_key::verify(&parsed, &record, now()) {
        Ok(v) => Ok(Credential::ApiKey {
            key_id: v.key_id,
            tenant: v.tenant,
            scopes: v.scopes,
        }),
        Err(e) => {
            // A failed attempt with a real key id is a denial of that tenant: audit it.
            let body = ErrorBody::from_diagnostic(&e);
            let event = AuditEvent {
                tenant: tenant.clone(),
                actor: Actor {
                    id: format!("api_key:{}", record.key_id),
                    role: Some("api_key".to_owned()),
                    source_ip: source_ip.map(str::to_owned),
                },
                action: Action::Authorization,
                operation: Some(body.code.clone()),
                record: None,
                time: now(),
                outcome: Outcome::Denied,
                changed_fields: Vec::new(),
                decision: None,
                reason: None,
            };
            audit_if_tenant(state, &tenant, event).await?;
            Err(credential_error(body))
        }
    }
}
