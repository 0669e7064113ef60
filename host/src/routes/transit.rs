//! Transit-style crypto for apps that do not embed the SDK: the core's field and record
//! calls with the tenant's keyring held by the server. Plaintext is never logged.
//! Every decryption (a PHI read) is appended to the tenant's audit chain, success or
//! failure, and committed before the answer is sent. An offboarded tenant's keyring is
//! destroyed, so every call answers 410 `crypto.key_destroyed`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use phylax_core::audit::{Action, Outcome, RecordRef};
use phylax_core::crypto::calls::{
    self, BlindIndexRequest, DecryptFieldRequest, DecryptRecordRequest, EncryptFieldRequest,
    EncryptRecordRequest,
};
use phylax_core::Diagnostic;
use serde::Serialize;

use super::{ok, JsonBody};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn answer<T: Serialize, E: Diagnostic>(r: Result<T, E>) -> ApiResult<Response> {
    r.map(ok).map_err(|e| ApiError::from_diagnostic(&e))
}

/// `POST /v1/tenants/{tenant}/transit/encrypt` (`EncryptFieldRequest` → `{ciphertext}`).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/transit/encrypt", request_body(content = Object, description = "core EncryptFieldRequest {field, recordId, plaintext}"), responses((status = 200, description = "`{\"ok\": {\"ciphertext\": \"phx1....\"}}`"), (status = 410, description = "crypto.key_destroyed")), security(("bearer" = [])))]
pub async fn encrypt(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<EncryptFieldRequest>,
) -> ApiResult<Response> {
    let keyring = state.keyring(&tenant).await?;
    answer(calls::encrypt_field(&keyring, &req))
}

/// `POST /v1/tenants/{tenant}/transit/decrypt` (`DecryptFieldRequest` → `{plaintext}`); audited.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/transit/decrypt", request_body(content = Object, description = "core DecryptFieldRequest {field, recordId, ciphertext}"), responses((status = 200, description = "`{\"ok\": {\"plaintext\": ...}}`"), (status = 400, description = "crypto.decrypt_failed"), (status = 410, description = "crypto.key_destroyed")), security(("bearer" = [])))]
pub async fn decrypt(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<DecryptFieldRequest>,
) -> ApiResult<Response> {
    let keyring = state.keyring(&tenant).await?;
    let result = calls::decrypt_field(&keyring, &req);
    let outcome = if result.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let mut ev = caller.event(&tenant, Action::View, "transit.decrypt", outcome);
    ev.record = Some(RecordRef {
        kind: req.field.clone(),
        id: req.record_id.clone(),
    });
    state.audit.append(&tenant, vec![ev]).await?;
    state.metrics.audit_events(1);
    answer(result)
}

/// `POST /v1/tenants/{tenant}/transit/rewrap`: re-encrypt under the active key version.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/transit/rewrap", request_body(content = Object, description = "core DecryptFieldRequest"), responses((status = 200, description = "`{\"ok\": {\"ciphertext\": ...}}`")), security(("bearer" = [])))]
pub async fn rewrap(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<DecryptFieldRequest>,
) -> ApiResult<Response> {
    let keyring = state.keyring(&tenant).await?;
    answer(calls::rewrap(&keyring, &req))
}

/// `POST /v1/tenants/{tenant}/transit/needs-rewrap`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/transit/needs-rewrap", request_body(content = Object, description = "core DecryptFieldRequest"), responses((status = 200, description = "`{\"ok\": {\"needsRewrap\": bool}}`")), security(("bearer" = [])))]
pub async fn needs_rewrap(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<DecryptFieldRequest>,
) -> ApiResult<Response> {
    let keyring = state.keyring(&tenant).await?;
    answer(calls::needs_rewrap(&keyring, &req))
}

/// `POST /v1/tenants/{tenant}/transit/blind-index`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/transit/blind-index", request_body(content = Object, description = "core BlindIndexRequest"), responses((status = 200, description = "`{\"ok\": {\"indexes\": [...]}}`")), security(("bearer" = [])))]
pub async fn blind_index(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<BlindIndexRequest>,
) -> ApiResult<Response> {
    let keyring = state.keyring(&tenant).await?;
    answer(calls::blind_index(&keyring, &req))
}

/// `POST /v1/tenants/{tenant}/transit/encrypt-record`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/transit/encrypt-record", request_body(content = Object, description = "core EncryptRecordRequest"), responses((status = 200, description = "`{\"ok\": EncryptedRecord}`")), security(("bearer" = [])))]
pub async fn encrypt_record(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<EncryptRecordRequest>,
) -> ApiResult<Response> {
    let keyring = state.keyring(&tenant).await?;
    answer(calls::encrypt_record(&keyring, &req))
}

/// `POST /v1/tenants/{tenant}/transit/decrypt-record`; audited.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/transit/decrypt-record", request_body(content = Object, description = "core DecryptRecordRequest"), responses((status = 200, description = "`{\"ok\": {\"record\": ...}}`")), security(("bearer" = [])))]
pub async fn decrypt_record(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(req): JsonBody<DecryptRecordRequest>,
) -> ApiResult<Response> {
    let keyring = state.keyring(&tenant).await?;
    let result = calls::decrypt_record(&keyring, &req);
    let outcome = if result.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let mut ev = caller.event(&tenant, Action::View, "transit.decrypt_record", outcome);
    ev.record = Some(RecordRef {
        kind: req.spec.name.clone(),
        id: req.record_id.clone(),
    });
    ev.changed_fields = Vec::new();
    state.audit.append(&tenant, vec![ev]).await?;
    state.metrics.audit_events(1);
    answer(result)
}
