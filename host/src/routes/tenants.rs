//! Tenants: create (platform admin), list, get, and their lifecycle: offboard (the
//! export window), cancel offboarding, shred (crypto-shredding), retention settings
//! (`crate::lifecycle`).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use phylax_core::audit::{Action, Outcome};
use phylax_core::crypto::Keyring;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ok, ok_with, JsonBody};
use crate::auth::{invalid_id, is_valid_id, Caller};
use crate::error::{ApiError, ApiResult};
use crate::lifecycle::{self, ShredWhen};
use crate::state::{blocking, now, AppState};
use crate::store::{TenantRow, TenantState};

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
    /// `active`, `offboarding` (export window: reads and exports only) or `shredded`.
    pub state: TenantState,
    /// When offboarding started, while offboarding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offboarding_since: Option<u64>,
    /// When the export window ends and the keys are destroyed, while offboarding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shred_due_at: Option<u64>,
    /// When the keys were destroyed, once shredded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<u64>,
    /// Active data-key version (0 once destroyed).
    pub active_key_version: u32,
    /// Active blind-index key version (0 once destroyed).
    pub active_index_key_version: u32,
    /// The retention settings.
    pub settings: TenantSettings,
}

/// A tenant's retention settings: apps apply the same rule to their own rows.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSettings {
    /// Audit events older than this many days are pruned (default 2557: seven years).
    pub audit_retention_days: u32,
    /// Days between the start of offboarding and the shred (default 90).
    pub export_window_days: u32,
}

/// A tenant's API view.
pub fn info(row: &TenantRow) -> ApiResult<TenantInfo> {
    let state: phylax_core::crypto::KeyringState =
        serde_json::from_str(&row.keyring).map_err(ApiError::internal)?;
    Ok(TenantInfo {
        id: row.id.clone(),
        created_at: row.created_at,
        state: row.life.state,
        offboarding_since: row.life.offboarding_since,
        shred_due_at: row.life.shred_due_at,
        deleted_at: row.deleted_at,
        active_key_version: state.data_keys.active,
        active_index_key_version: state.index_keys.active,
        settings: settings(row),
    })
}

fn settings(row: &TenantRow) -> TenantSettings {
    TenantSettings {
        audit_retention_days: row.life.audit_retention_days,
        export_window_days: row.life.export_window_days,
    }
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
    let keyring = Keyring::create(&body.id, state.root.current(), at)
        .map_err(|e| ApiError::from_diagnostic(&e))?;
    let row = TenantRow::new(&body.id, at, keyring.to_json());
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

/// `DELETE /v1/tenants/{tenant}` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ShredQuery {
    /// Required to shred a tenant that is still active (it skips the export window).
    #[serde(default)]
    pub confirm: bool,
}

/// `DELETE /v1/tenants/{tenant}`: shreds the tenant now: its keys are destroyed
/// (crypto-shredding: every ciphertext of the tenant now fails with
/// `crypto.key_destroyed`) and its API keys revoked. The audit chain is kept. An
/// offboarding tenant is shredded at once; an active one only with `?confirm=true`.
/// Platform admin only.
///
/// In force on every node within the propagation bound (`sync_bound_ms`, default
/// 1 s).
#[utoipa::path(delete, path = "/v1/tenants/{tenant}", params(ShredQuery), responses((status = 200, body = TenantInfo), (status = 409, description = "already shredded, or active without confirm")), security(("bearer" = [])))]
pub async fn shred(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(q): Query<ShredQuery>,
) -> ApiResult<Response> {
    let _guard = state.admin_lock.lock().await;
    let event = caller.event(&tenant, Action::Admin, "tenant.shred", Outcome::Success);
    let s = state.clone();
    let t = tenant.clone();
    let row = blocking(move || {
        let at = now();
        lifecycle::shred(
            &*s.store,
            s.audit.key(),
            &t,
            ShredWhen::Now { confirm: q.confirm },
            &event,
            at,
        )
    })
    .await?
    .ok_or_else(|| ApiError::internal("an immediate shred reported nothing done"))?;
    state.changed().await?;
    Ok(ok(info(&row)?))
}

/// `POST /v1/tenants/{tenant}/offboard` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OffboardBody {
    /// The export window in days (default: the tenant's `exportWindowDays`).
    #[serde(default)]
    pub export_window_days: Option<u32>,
}

/// `POST /v1/tenants/{tenant}/offboard`: starts offboarding. The tenant enters its
/// export window: reads, decryption and exports are allowed (and audited), writes are
/// refused with 409 `tenant.offboarding`. When the window ends, the server shreds it.
/// Platform admin only.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/offboard", request_body = OffboardBody, responses((status = 200, body = TenantInfo), (status = 409, description = "not active")), security(("bearer" = [])))]
pub async fn offboard(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<OffboardBody>,
) -> ApiResult<Response> {
    let _guard = state.admin_lock.lock().await;
    let event = caller.event(&tenant, Action::Admin, "tenant.offboard", Outcome::Success);
    let s = state.clone();
    let t = tenant.clone();
    let row = blocking(move || {
        lifecycle::offboard(
            &*s.store,
            s.audit.key(),
            &t,
            body.export_window_days,
            &event,
            now(),
        )
    })
    .await?;
    state.changed().await?;
    Ok(ok(info(&row)?))
}

/// `POST /v1/tenants/{tenant}/cancel-offboarding`: ends the export window early and
/// makes the tenant active again. Platform admin only.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/cancel-offboarding", responses((status = 200, body = TenantInfo), (status = 409, description = "not offboarding")), security(("bearer" = [])))]
pub async fn cancel_offboarding(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let _guard = state.admin_lock.lock().await;
    let event = caller.event(
        &tenant,
        Action::Admin,
        "tenant.cancel_offboarding",
        Outcome::Success,
    );
    let s = state.clone();
    let t = tenant.clone();
    let row = blocking(move || lifecycle::cancel(&*s.store, s.audit.key(), &t, &event)).await?;
    state.changed().await?;
    Ok(ok(info(&row)?))
}

/// `GET /v1/tenants/{tenant}/settings`: the tenant's retention settings.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/settings", responses((status = 200, body = TenantSettings)), security(("bearer" = [])))]
pub async fn get_settings(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let row = state.tenant(&tenant).await?;
    Ok(ok(settings(&row)))
}

/// `PUT /v1/tenants/{tenant}/settings`: sets an active tenant's retention settings.
/// Platform admin only.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/settings", request_body = TenantSettings, responses((status = 200, body = TenantSettings)), security(("bearer" = [])))]
pub async fn put_settings(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<TenantSettings>,
) -> ApiResult<Response> {
    let _guard = state.admin_lock.lock().await;
    let s = state.clone();
    let t = tenant.clone();
    let row = blocking(move || {
        lifecycle::put_settings(
            &*s.store,
            &t,
            body.audit_retention_days,
            body.export_window_days,
        )
    })
    .await?;
    state.changed().await?;
    let mut event = caller.event(&tenant, Action::Admin, "tenant.settings", Outcome::Success);
    event.changed_fields = vec!["auditRetentionDays".into(), "exportWindowDays".into()];
    state.audit.append(&tenant, vec![event]).await?;
    Ok(ok(settings(&row)))
}

/// `GET /v1/tenants/{tenant}/export` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportQuery {
    /// The tenant's X25519 public key (base64url): its data and index keys are then
    /// included, sealed to it with HPKE. Without it no key material leaves.
    #[serde(default)]
    pub recipient_key: Option<String>,
}

/// `GET /v1/tenants/{tenant}/export`: one archive with the tenant's audit chain (and
/// a signed checkpoint of its head), policy versions, API key and key metadata, signed
/// with the host's key; verify it offline with `phylax audit verify --export FILE`.
/// Allowed while active and during the export window; the export is audited first.
/// Scope `tenant:export` (it can carry the tenant's keys).
#[utoipa::path(get, path = "/v1/tenants/{tenant}/export", params(ExportQuery), responses((status = 200, description = "the export archive (JSON)"), (status = 409, description = "shredded")), security(("bearer" = [])))]
pub async fn export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let row = state.tenant(&tenant).await?;
    if row.life.state == TenantState::Shredded {
        return Err(lifecycle::wrong_state(&tenant, row.life.state, "export it"));
    }
    let mut event = caller.event(&tenant, Action::Export, "tenant.export", Outcome::Success);
    if q.recipient_key.is_some() {
        event.changed_fields = vec!["sealedKeys".into()];
    }
    state.audit.append(&tenant, vec![event]).await?;
    let s = state.clone();
    let t = tenant.clone();
    let archive = blocking(move || {
        let keys = crate::export::Keys {
            audit: s.audit.key(),
            signing: &s.signing_key,
            roots: Some(&s.root),
        };
        crate::export::build(&*s.store, &keys, &t, q.recipient_key.as_deref(), now())
    })
    .await?;
    let text = serde_json::to_string(&archive).map_err(ApiError::internal)?;
    Ok(super::json_response(StatusCode::OK, text))
}
