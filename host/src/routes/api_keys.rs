//! Tenant API keys (core `identity::api_key`): create, list, rotate with an overlap
//! window, revoke. The key text is shown once, in the create or rotate answer; only its
//! hash is stored. Scopes are the server's route scopes ([`crate::privilege::SCOPES`], `*`).
//!
//! No credential issues (or rotates into) a key stronger than itself
//! ([`crate::privilege::may_issue`]): an API key only a subset of its own scopes, expiring
//! no later than itself; a platform admin a key that reaches a tenant's data only as a
//! break-glass action, reason required and written to the tenant's chain first.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use phylax_core::audit::{Action, Outcome};
use phylax_core::identity::{api_key, ApiKeyRecord, NewApiKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ok, ok_with, JsonBody};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::privilege::{may_issue, SCOPES};
use crate::state::{blocking, now, AppState};

/// `POST /v1/tenants/{tenant}/api-keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKey {
    /// Scopes (see the server docs), or `["*"]`.
    pub scopes: Vec<String>,
    /// A label for people.
    #[serde(default)]
    pub name: Option<String>,
    /// Expiry, unix seconds (before the year 10000).
    #[serde(default)]
    #[schema(maximum = 253_402_300_799_u64)]
    pub expires_at: Option<u64>,
}

/// `POST .../rotate` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = RotateApiKey)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateKey {
    /// How long the old key keeps working, seconds (default 86400).
    #[serde(default)]
    pub overlap_seconds: Option<u64>,
}

/// A new key: `apiKey` is shown only this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedKey {
    /// The key text; store it as a secret.
    pub api_key: String,
    /// The stored record (hash only).
    #[schema(value_type = Object)]
    pub record: ApiKeyRecord,
}

fn check_scopes(scopes: &[String]) -> ApiResult<()> {
    match scopes.iter().find(|s| *s != "*" && !SCOPES.contains(&s.as_str())) {
        None => Ok(()),
        Some(s) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "api_key.unknown_scope",
            format!("unknown scope `{s}`"),
            "use scopes the server knows: authorize, transit:encrypt, transit:decrypt, keys:rotate, audit:write, audit:read, policies:read, policies:write, api_keys:manage, tenant:read, or *",
        )),
    }
}

/// Records as the store keeps them: `(key id, record JSON)`.
fn rows(records: &[ApiKeyRecord]) -> ApiResult<Vec<(String, String)>> {
    records
        .iter()
        .map(|r| serde_json::to_string(r).map(|j| (r.key_id.clone(), j)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)
}

async fn save(state: &Arc<AppState>, tenant: &str, records: Vec<ApiKeyRecord>) -> ApiResult<()> {
    let rows = rows(&records)?;
    let store = state.store.clone();
    let t = tenant.to_owned();
    blocking(move || Ok(store.put_api_keys(&t, &rows)?)).await?;
    state.changed().await
}

/// A key's record as the store has it now (not the cache), and its JSON text, which
/// [`swap`] checks is unchanged when it writes.
async fn load(
    state: &Arc<AppState>,
    tenant: &str,
    key_id: &str,
) -> ApiResult<(ApiKeyRecord, String)> {
    let store = state.store.clone();
    let id = key_id.to_owned();
    match blocking(move || Ok(store.api_key(&id)?)).await? {
        Some((t, json)) if t == tenant => Ok((
            serde_json::from_str(&json).map_err(ApiError::internal)?,
            json,
        )),
        _ => Err(ApiError::not_found("api_key", key_id)),
    }
}

/// Saves `records` if `key_id`'s record is still `expected`; 409 `request.conflict`
/// otherwise (a revocation on another node must not be undone by a rotation read before
/// it).
async fn swap(
    state: &Arc<AppState>,
    tenant: &str,
    key_id: &str,
    expected: String,
    records: Vec<ApiKeyRecord>,
) -> ApiResult<()> {
    let rows = rows(&records)?;
    let store = state.store.clone();
    let (t, id) = (tenant.to_owned(), key_id.to_owned());
    let swapped = blocking(move || Ok(store.swap_api_keys(&t, &id, &expected, &rows)?)).await?;
    if !swapped {
        return Err(ApiError::conflict(format!(
            "API key `{key_id}` changed while this request ran (revoked or rotated elsewhere)"
        )));
    }
    state.changed().await
}

/// Checks `caller` may issue a key with `scopes` in `tenant` (auditing a refusal, or the
/// platform admin's break-glass, in the tenant's chain first), and returns the new
/// key's expiry: a key issued by an expiring key expires with it at the latest.
async fn issuable(
    state: &Arc<AppState>,
    caller: &Caller,
    tenant: &str,
    scopes: &[String],
    expires_at: Option<u64>,
) -> ApiResult<Option<u64>> {
    let own_expiry = match &caller.credential {
        crate::auth::Credential::ApiKey { expires_at, .. } => *expires_at,
        _ => None,
    };
    let expires_at = expires_at.or(own_expiry);
    match may_issue(
        &caller.credential,
        scopes,
        expires_at,
        caller.break_glass.as_deref(),
    ) {
        Ok(true) => caller.break_glass_access(state, tenant).await?,
        Ok(false) => {}
        Err(err) => return Err(caller.refused(state, tenant, err).await),
    }
    Ok(expires_at)
}

/// `POST /v1/tenants/{tenant}/api-keys`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/api-keys", request_body = CreateKey, responses((status = 201, body = IssuedKey)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<CreateKey>,
) -> ApiResult<Response> {
    let row = state.tenant(&tenant).await?;
    if row.deleted_at.is_some() {
        return Err(super::policies::offboarded(&tenant));
    }
    check_scopes(&body.scopes)?;
    let expires_at = issuable(&state, &caller, &tenant, &body.scopes, body.expires_at).await?;
    let issued = api_key::issue(
        &NewApiKey {
            tenant: tenant.clone(),
            environment: phylax_core::identity::Environment::Live,
            scopes: body.scopes,
            expires_at,
            name: body.name,
        },
        now(),
    )
    .map_err(|e| ApiError::from_diagnostic(&e))?;
    save(&state, &tenant, vec![issued.record.clone()]).await?;
    let mut ev = caller.event(&tenant, Action::Admin, "api_key.create", Outcome::Success);
    ev.changed_fields = vec![issued.record.key_id.clone()];
    state.audit.append(&tenant, vec![ev]).await?;
    Ok(ok_with(
        StatusCode::CREATED,
        IssuedKey {
            api_key: issued.api_key.expose().to_owned(),
            record: issued.record,
        },
    ))
}

/// `GET /v1/tenants/{tenant}/api-keys`: the records (hashes only).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/api-keys", responses((status = 200, description = "`{\"ok\": [ApiKeyRecord]}`")), security(("bearer" = [])))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    state.tenant(&tenant).await?;
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.api_keys(&tenant)?)).await?;
    let records = rows
        .iter()
        .map(|j| serde_json::from_str::<ApiKeyRecord>(j).map_err(ApiError::internal))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(ok(records))
}

/// `POST /v1/tenants/{tenant}/api-keys/{key_id}/rotate`.
///
/// The new key works on every node at once; the old key's new expiry is in force on every
/// node within the propagation bound (`sync_bound_ms`, default 1 s): a node that cannot
/// confirm it within that time answers 503 `store.stale` instead.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/api-keys/{key_id}/rotate", request_body = RotateKey, responses((status = 200, body = IssuedKey)), security(("bearer" = [])))]
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((tenant, key_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<RotateKey>,
) -> ApiResult<Response> {
    let (old, old_json) = load(&state, &tenant, &key_id).await?;
    // The rotation hands the caller the new key's text: it is an issue of that key.
    issuable(&state, &caller, &tenant, &old.scopes, old.expires_at).await?;
    let rotation = api_key::rotate(
        &old,
        now(),
        body.overlap_seconds.unwrap_or(86_400),
        old.expires_at,
    )
    .map_err(|e| ApiError::from_diagnostic(&e))?;
    swap(
        &state,
        &tenant,
        &key_id,
        old_json,
        vec![rotation.previous, rotation.issued.record.clone()],
    )
    .await?;
    let mut ev = caller.event(&tenant, Action::Admin, "api_key.rotate", Outcome::Success);
    ev.changed_fields = vec![key_id, rotation.issued.record.key_id.clone()];
    state.audit.append(&tenant, vec![ev]).await?;
    Ok(ok(IssuedKey {
        api_key: rotation.issued.api_key.expose().to_owned(),
        record: rotation.issued.record,
    }))
}

/// `DELETE /v1/tenants/{tenant}/api-keys/{key_id}`: revokes the key.
///
/// Refused at once by the node that answers; in force on every node within the
/// propagation bound (`sync_bound_ms`, default 1 s): a node that cannot confirm it within
/// that time answers 503 `store.stale` instead.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/api-keys/{key_id}", responses((status = 200, description = "`{\"ok\": ApiKeyRecord}`")), security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((tenant, key_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (old, old_json) = load(&state, &tenant, &key_id).await?;
    let revoked = api_key::revoke(&old, now());
    swap(&state, &tenant, &key_id, old_json, vec![revoked.clone()]).await?;
    let mut ev = caller.event(&tenant, Action::Admin, "api_key.revoke", Outcome::Success);
    ev.changed_fields = vec![key_id];
    state.audit.append(&tenant, vec![ev]).await?;
    Ok(ok(revoked))
}
