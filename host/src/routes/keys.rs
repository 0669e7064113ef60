//! Key rotation: a new data-key (or blind-index key) version becomes active; older
//! versions still decrypt, and `rewrap` moves ciphertexts to the active one.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use phylax_core::audit::{Action, Outcome};
use phylax_core::crypto::Keyring;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ok, JsonBody};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, now, AppState};

/// Which key to rotate.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// The data key (field encryption).
    #[default]
    Data,
    /// The blind-index key.
    Index,
}

/// `POST /v1/tenants/{tenant}/keys/rotate` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateKey {
    /// `data` (default) or `index`.
    #[serde(default)]
    pub kind: KeyKind,
}

/// The rotation's result.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rotated {
    /// Which key.
    pub kind: KeyKind,
    /// The new active version.
    pub active_version: u32,
}

/// `POST /v1/tenants/{tenant}/keys/rotate`.
///
/// New ciphertexts use the new key version on this node at once. In force on every node
/// within the propagation bound (`sync_bound_ms`, default 1 s): a node that cannot
/// confirm it within that time answers 503 `store.stale` instead.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/keys/rotate", request_body = RotateKey, responses((status = 200, body = Rotated)), security(("bearer" = [])))]
pub async fn rotate(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<RotateKey>,
) -> ApiResult<Response> {
    let _guard = state.admin_lock.lock().await;
    // The store's row, not the cache: another node may have rotated a moment ago.
    let row = state.tenant_from_store(&tenant).await?;
    let mut keyring = Keyring::open_json_with(&row.keyring, &state.root)
        .map_err(|e| ApiError::from_diagnostic(&e))?;
    let at = now();
    let version = match body.kind {
        KeyKind::Data => keyring.rotate(state.root_of(&keyring), at),
        KeyKind::Index => keyring.rotate_index_key(state.root_of(&keyring), at),
    }
    .map_err(|e| ApiError::from_diagnostic(&e))?;
    let json = keyring.to_json();
    let store = state.store.clone();
    let t = tenant.clone();
    let expected = row.keyring;
    // Written only over the keyring it was made from: a rotation on another node, or an
    // offboarding (which destroys the keys), in between wins, and this one is refused.
    let updated = blocking(move || Ok(store.update_keyring(&t, &expected, &json)?)).await?;
    if !updated {
        return Err(ApiError::conflict(format!(
            "the keyring of tenant `{tenant}` changed while it was rotated (rotated again or offboarded elsewhere)"
        )));
    }
    state.changed().await?;
    let op = match body.kind {
        KeyKind::Data => "keys.rotate_data",
        KeyKind::Index => "keys.rotate_index",
    };
    state
        .audit
        .append(
            &tenant,
            vec![caller.event(&tenant, Action::Admin, op, Outcome::Success)],
        )
        .await?;
    Ok(ok(Rotated {
        kind: body.kind,
        active_version: version,
    }))
}
