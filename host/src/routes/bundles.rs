//! Signed policy bundles for browsers and edge middleware: the pack's schema and
//! platform policies, the tenant's current policies and the base entities, signed with
//! the server's Ed25519 key. `ETag` is the bundle hash; `If-None-Match` with it gives
//! 304. The bundle's `createdAt` is the policy version's time, so the same version
//! always signs to the same bytes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use phylax_core::policy::{Bundle, PolicyFile};
use serde::Serialize;
use utoipa::ToSchema;

use super::ok;
use crate::auth::Caller;
use crate::engine::spec_for;
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, AppState};

/// The bundle signing public key.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    /// Ed25519 public key, base64url: configure it in every verifier.
    pub public_key: String,
}

/// `GET /v1/bundles/public-key`.
#[utoipa::path(get, path = "/v1/bundles/public-key", responses((status = 200, body = PublicKey)), security(("bearer" = [])))]
pub async fn public_key(State(state): State<Arc<AppState>>, _caller: Caller) -> Response {
    ok(PublicKey {
        public_key: state.signing_key.public_key().to_string(),
    })
}

/// `GET /v1/tenants/{tenant}/bundle`: the tenant's signed bundle.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/bundle", responses((status = 200, description = "SignedBundle JSON, `ETag` = bundle hash"), (status = 304, description = "not modified")), security(("bearer" = [])))]
pub async fn bundle(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let row = state.tenant(&tenant).await?;
    if row.deleted_at.is_some() {
        return Err(super::policies::offboarded(&tenant));
    }
    let store = state.store.clone();
    let t = tenant.clone();
    let current = blocking(move || Ok(store.policies(&t, None)?)).await?;
    let (version, created_at, files): (u32, u64, Vec<PolicyFile>) = match current {
        Some(r) => (
            r.version,
            r.created_at,
            serde_json::from_str(&r.files).map_err(ApiError::internal)?,
        ),
        None => (0, row.created_at, Vec::new()),
    };
    let mut tenant_policies = BTreeMap::new();
    if !files.is_empty() {
        tenant_policies.insert(tenant.clone(), files);
    }
    let spec = spec_for(
        std::slice::from_ref(&tenant),
        tenant_policies,
        &state.extra_entities,
    )
    .map_err(|e| ApiError::from_diagnostic(&e))?;
    // As signed (schema in Cedar's JSON form), so the ETag is the signed bundle's hash.
    let bundle = Bundle::new(spec, format!("{tenant}@v{version}"), created_at)
        .in_runtime_form()
        .map_err(|e| ApiError::from_diagnostic(&e))?;
    let hash = bundle.hash().map_err(|e| ApiError::from_diagnostic(&e))?;
    let etag = format!("\"{hash}\"");
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    let signed = state
        .signing_key
        .sign(bundle)
        .map_err(|e| ApiError::from_diagnostic(&e))?;
    let json = serde_json::to_string(&signed).map_err(ApiError::internal)?;
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag_value),
        ],
        json,
    )
        .into_response())
}
