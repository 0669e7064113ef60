//! Tenants: create (platform admin), list, get, offboard (crypto-shred + mark deleted).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use phylax_core::audit::{Action, Outcome};
use phylax_core::crypto::Keyring;
use phylax_core::identity::{api_key, ApiKeyRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ok, ok_with, JsonBody};
use crate::auth::{invalid_id, is_valid_id, Caller};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, now, AppState};
use crate::store::TenantRow;

/// `POST /v1/tenants` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenant {
    /// Tenant id: 1 to 64 ASCII letters, digits, `-` or `_`.
    pub id: String,
}

/// A tenant as the API shows it (never any key material).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantInfo {
    /// Tenant id.
    pub id: String,
    /// Creation time, unix seconds.
    pub created_at: u64,
    /// Offboarding time, when offboarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<u64>,
    /// Active data-key version (0 once destroyed).
    pub active_key_version: u32,
    /// Active blind-index key version (0 once destroyed).
    pub active_index_key_version: u32,
}

fn info(row: &TenantRow) -> ApiResult<TenantInfo> {
    let state: phylax_core::crypto::KeyringState =
        serde_json::from_str(&row.keyring).map_err(ApiError::internal)?;
    Ok(TenantInfo {
        id: row.id.clone(),
        created_at: row.created_at,
        deleted_at: row.deleted_at,
        active_key_version: state.data_keys.active,
        active_index_key_version: state.index_keys.active,
    })
}

/// `POST /v1/tenants`: creates a tenant with a fresh keyring (platform admin).
#[utoipa::path(post, path = "/v1/tenants", request_body = CreateTenant, responses((status = 201, body = TenantInfo), (status = 409, description = "exists")), security(("bearer" = [])))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateTenant>,
) -> ApiResult<Response> {
    if !is_valid_id(&body.id) {
        return Err(invalid_id("tenant", &body.id));
    }
    let _guard = state.admin_lock.lock().await;
    let at = now();
    let keyring =
        Keyring::create(&body.id, &state.root, at).map_err(|e| ApiError::from_diagnostic(&e))?;
    let row = TenantRow {
        id: body.id.clone(),
        created_at: at,
        deleted_at: None,
        keyring: keyring.to_json(),
    };
    let store = state.store.clone();
    let r = row.clone();
    if !blocking(move || Ok(store.create_tenant(&r)?)).await? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "tenant.exists",
            format!("tenant `{}` already exists", body.id),
            "pick another id, or use the existing tenant",
        ));
    }
    state.changed().await?;
    state
        .audit
        .append(
            &body.id,
            vec![caller.event(&body.id, Action::Admin, "tenant.create", Outcome::Success)],
        )
        .await?;
    Ok(ok_with(StatusCode::CREATED, info(&row)?))
}

/// `GET /v1/tenants`: every tenant (platform admin).
#[utoipa::path(get, path = "/v1/tenants", responses((status = 200, body = Vec<TenantInfo>)), security(("bearer" = [])))]
pub async fn list(State(state): State<Arc<AppState>>, _caller: Caller) -> ApiResult<Response> {
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.tenants()?)).await?;
    let infos = rows.iter().map(info).collect::<ApiResult<Vec<_>>>()?;
    Ok(ok(infos))
}

/// `GET /v1/tenants/{tenant}`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}", responses((status = 200, body = TenantInfo), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let row = state.tenant(&tenant).await?;
    Ok(ok(info(&row)?))
}

/// `DELETE /v1/tenants/{tenant}`: offboards the tenant: its keys are destroyed
/// (crypto-shredding: every ciphertext of the tenant now fails with
/// `crypto.key_destroyed`), its API keys revoked, and it is marked deleted. The audit
/// chain is kept. Platform admin only.
///
/// In force on every node within the propagation bound (`sync_bound_ms`, default
/// 1 s).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}", responses((status = 200, body = TenantInfo)), security(("bearer" = [])))]
pub async fn offboard(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let _guard = state.admin_lock.lock().await;
    let row = state.tenant_from_store(&tenant).await?;
    let at = now();
    let mut destroyed =
        Keyring::open_json(&row.keyring, &state.root).map_err(|e| ApiError::from_diagnostic(&e))?;
    destroyed.destroy(at);
    let keyring_json = destroyed.to_json();
    let store = state.store.clone();
    let t = tenant.clone();
    let revoked: Vec<(String, String)> = blocking(move || {
        let mut out = Vec::new();
        for json in store.api_keys(&t)? {
            let record: ApiKeyRecord = serde_json::from_str(&json).map_err(ApiError::internal)?;
            let revoked = api_key::revoke(&record, at);
            out.push((
                revoked.key_id.clone(),
                serde_json::to_string(&revoked).map_err(ApiError::internal)?,
            ));
        }
        Ok(out)
    })
    .await?;
    let store = state.store.clone();
    let (t, k) = (tenant.clone(), keyring_json.clone());
    blocking(move || Ok(store.offboard_tenant(&t, &k, at, &revoked)?)).await?;
    state.changed().await?;
    state
        .audit
        .append(
            &tenant,
            vec![caller.event(&tenant, Action::Admin, "tenant.offboard", Outcome::Success)],
        )
        .await?;
    let row = state.tenant(&tenant).await?;
    Ok(ok(info(&row)?))
}
