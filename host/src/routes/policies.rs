//! Tenant policies: `PUT` validates them against the schema and the platform guardrails
//! (core `validatePolicies` with the tenant set: strict validation, no lifting a
//! platform `forbid`, no naming another tenant) and stores a new version; every old
//! version is kept. The engine is rebuilt once per change.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use phylax_core::audit::{Action, Outcome};
use phylax_core::policy::calls::{validate_policies, ValidateRequest};
use phylax_core::policy::{pack, EngineOptions, PolicyFile};
use phylax_core::ErrorBody;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ok, JsonBody};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, now, AppState};
use crate::store::PolicyRow;

/// `PUT /v1/tenants/{tenant}/policies` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PutPolicies {
    /// Policy files: `{name, text}` in Cedar syntax.
    #[schema(value_type = Vec<Object>)]
    pub policies: Vec<PolicyFile>,
}

/// One stored version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyVersion {
    /// Tenant id.
    pub tenant: String,
    /// Version, from 1 (0: the tenant never stored policies; only the platform's apply).
    pub version: u32,
    /// Stored at, unix seconds.
    pub created_at: u64,
    /// The files.
    #[schema(value_type = Vec<Object>)]
    pub policies: Vec<PolicyFile>,
}

fn version(row: PolicyRow) -> ApiResult<PolicyVersion> {
    Ok(PolicyVersion {
        policies: serde_json::from_str(&row.files).map_err(ApiError::internal)?,
        tenant: row.tenant,
        version: row.version,
        created_at: row.created_at,
    })
}

/// `PUT /v1/tenants/{tenant}/policies`: validate and store a new version.
///
/// Decided with on this node at once, on every other node once it has rebuilt its
/// engine after its next change poll (the poll interval plus the build time, well
/// within `sync_bound_ms`, default 1 s).
#[utoipa::path(put, path = "/v1/tenants/{tenant}/policies", request_body = PutPolicies, responses((status = 200, body = PolicyVersion), (status = 400, description = "invalid policies, with file:line:column")), security(("bearer" = [])))]
pub async fn put(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<PutPolicies>,
) -> ApiResult<Response> {
    let row = state.tenant(&tenant).await?;
    if row.deleted_at.is_some() {
        return Err(offboarded(&tenant));
    }
    let mut entities: Vec<serde_json::Value> =
        serde_json::from_str(pack::ENTITIES).map_err(ApiError::internal)?;
    entities.push(
        serde_json::json!({"uid": {"type": "Tenant", "id": tenant}, "attrs": {}, "parents": []}),
    );
    entities.extend(state.extra_entities.iter().cloned());
    let req = ValidateRequest {
        schema: pack::SCHEMA.to_owned(),
        policies: body.policies.clone(),
        tenant: Some(tenant.clone()),
        platform_policies: vec![PolicyFile::new("healthcare.cedar", pack::POLICIES)],
        entities,
        options: EngineOptions::default(),
    };
    let verdict = validate_policies(&req);
    if !verdict.valid {
        let mut body = verdict.error.unwrap_or_else(|| ErrorBody {
            code: "policy.validation_failed".to_owned(),
            message: "the policies do not validate".to_owned(),
            hint: "fix the policies".to_owned(),
        });
        let places: Vec<String> = verdict
            .diagnostics
            .iter()
            .map(|d| format!("{}:{}:{}: {}", d.file, d.line, d.column, d.message))
            .collect();
        if !places.is_empty() && !body.message.contains(&places.join("; ")) {
            body.message = format!("{} ({})", body.message, places.join("; "));
        }
        return Err(ApiError::from_body(body));
    }
    let _guard = state.admin_lock.lock().await;
    let files = serde_json::to_string(&body.policies).map_err(ApiError::internal)?;
    let at = now();
    let store = state.store.clone();
    let t = tenant.clone();
    let v = blocking(move || Ok(store.put_policies(&t, &files, at)?)).await?;
    state.changed().await?;
    let mut ev = caller.event(&tenant, Action::Admin, "policies.put", Outcome::Success);
    ev.changed_fields = body.policies.iter().map(|f| f.name.clone()).collect();
    state.audit.append(&tenant, vec![ev]).await?;
    Ok(ok(PolicyVersion {
        tenant,
        version: v,
        created_at: at,
        policies: body.policies,
    }))
}

pub(crate) fn offboarded(tenant: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::GONE,
        "tenant.offboarded",
        format!("tenant `{tenant}` was offboarded"),
        "an offboarded tenant cannot be changed; create a new tenant",
    )
}

/// `GET /v1/tenants/{tenant}/policies`: the current version.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/policies", responses((status = 200, body = PolicyVersion), (status = 404)), security(("bearer" = [])))]
pub async fn current(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    get_version(state, caller, tenant, None).await
}

/// `GET /v1/tenants/{tenant}/policies/versions/{version}`: an old version.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/policies/versions/{version}", responses((status = 200, body = PolicyVersion), (status = 404)), security(("bearer" = [])))]
pub async fn by_version(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((tenant, v)): Path<(String, u32)>,
) -> ApiResult<Response> {
    get_version(state, caller, tenant, Some(v)).await
}

async fn get_version(
    state: Arc<AppState>,
    _caller: Caller,
    tenant: String,
    v: Option<u32>,
) -> ApiResult<Response> {
    let tenant_row = state.tenant(&tenant).await?;
    let store = state.store.clone();
    let t = tenant.clone();
    match blocking(move || Ok(store.policies(&t, v)?)).await? {
        Some(row) => Ok(ok(version(row)?)),
        // A tenant that never stored policies has the empty set: only the platform's
        // policies apply to it. That is version 0, not a missing resource.
        None if v.is_none() => Ok(ok(PolicyVersion {
            tenant,
            version: 0,
            created_at: tenant_row.created_at,
            policies: Vec::new(),
        })),
        None => Err(ApiError::not_found("policies", &tenant)),
    }
}

/// `GET /v1/tenants/{tenant}/policies/versions`: every version, oldest first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/policies/versions", responses((status = 200, body = Vec<PolicyVersion>)), security(("bearer" = [])))]
pub async fn versions(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    state.tenant(&tenant).await?;
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.policy_versions(&tenant)?)).await?;
    Ok(ok(rows
        .into_iter()
        .map(version)
        .collect::<ApiResult<Vec<_>>>()?))
}
