//! Tenant audit chains: ingest (for edge middleware and apps), paged query, JSON Lines
//! export (itself an audited PHI-adjacent operation) and verification with the server's
//! audit key. Ingested events are committed before the answer.
//!
//! Every record says who wrote it (`event.recordedBy`, set here, never from the body):
//! `{"origin": "server", ...}` for the server's own events, `{"origin": "ingested",
//! "credential": ...}` for reported ones. An ingested event may not look like the
//! server's: `recordedBy` in the body, the platform admin as actor, or an operation the
//! server writes ([`SERVER_OPERATIONS`]) is refused with `audit.reserved`, and its time
//! must lie within [`MAX_FUTURE_SKEW_SECS`] ahead of and `audit_ingest_max_age_secs`
//! behind the server's clock (`audit.time_out_of_range`).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use phylax_core::audit::{self, Action, AuditEvent, AuditRecord, ChainHead, Outcome};
use phylax_core::ErrorBody;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ok, JsonBody};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, now, AppState};

/// Operations only the server writes: exact names, and prefixes ending in `.` or `:`.
pub const SERVER_OPERATIONS: &[&str] = &[
    "authorize",
    "break_glass",
    "api_key.",
    "audit.",
    "auth.",
    "authorize:",
    "keys.",
    "policies.",
    "tenant.",
    "transit.",
];

/// How far ahead of the server's clock an ingested event's time may be, seconds.
pub const MAX_FUTURE_SKEW_SECS: u64 = 300;

fn reserved(op: &str) -> bool {
    SERVER_OPERATIONS.iter().any(|s| {
        if s.ends_with('.') || s.ends_with(':') {
            op.starts_with(s)
        } else {
            op == *s
        }
    })
}

/// Refuses an ingested event that claims to be the server's, or is out of time.
fn check_reported(e: &AuditEvent, at: u64, max_age: u64) -> ApiResult<()> {
    let reserved_err = |what: String| {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "audit.reserved",
            what,
            "report your application's own events: the server sets `recordedBy`, and its own operations and the platform admin are written only by the server",
        ))
    };
    if e.recorded_by.is_some() {
        return reserved_err("`recordedBy` is set by the server, never by a reporter".to_owned());
    }
    if e.actor.id == "platform-admin" || e.actor.role.as_deref() == Some("platform_admin") {
        return reserved_err(
            "an ingested event cannot name the platform admin as its actor".to_owned(),
        );
    }
    if let Some(op) = e.operation.as_deref().filter(|op| reserved(op)) {
        return reserved_err(format!("`{op}` is an operation only the server writes"));
    }
    if e.time > at + MAX_FUTURE_SKEW_SECS || e.time.saturating_add(max_age) < at {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "audit.time_out_of_range",
            format!("the event time {} is not within {max_age} s before or {MAX_FUTURE_SKEW_SECS} s after the server's clock ({at})", e.time),
            "send events as they happen, with the current unix time in seconds; check the reporter's clock",
        ));
    }
    Ok(())
}

/// `POST .../audit/events` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ingest {
    /// Events of this tenant (core `AuditEvent`), appended in order.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<AuditEvent>,
}

/// What was appended.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Appended {
    /// How many events.
    pub appended: usize,
    /// Sequence number of the first.
    pub first_seq: u64,
    /// Sequence number of the last (the new head).
    pub last_seq: u64,
    /// Hash of the new head.
    pub head_hash: String,
}

/// `POST /v1/tenants/{tenant}/audit/events`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/audit/events", request_body = Ingest, responses((status = 200, body = Appended)), security(("bearer" = [])))]
pub async fn ingest(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    JsonBody(body): JsonBody<Ingest>,
) -> ApiResult<Response> {
    state.tenant(&tenant).await?;
    if body.events.is_empty() || body.events.len() > 1000 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "audit.invalid_batch",
            "send 1 to 1000 events per request",
            "split the events into batches of at most 1000",
        ));
    }
    if let Some(e) = body.events.iter().find(|e| e.tenant != tenant) {
        return Err(ApiError::forbidden(
            "auth.other_tenant",
            format!("an event names tenant `{}`, not `{tenant}`", e.tenant),
            "send each tenant's events to its own chain",
        ));
    }
    let at = now();
    for e in &body.events {
        e.validate()
            .map_err(|err| ApiError::from_diagnostic(&err))?;
        check_reported(e, at, state.config.audit_ingest_max_age_secs)?;
    }
    let by = caller.reported();
    let events = body
        .events
        .into_iter()
        .map(|e| AuditEvent {
            recorded_by: Some(by.clone()),
            ..e
        })
        .collect();
    let records = state.audit.append(&tenant, events).await?;
    state.metrics.audit_events(records.len() as u64);
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err(ApiError::internal("no records appended"));
    };
    Ok(ok(Appended {
        appended: records.len(),
        first_seq: first.seq,
        last_seq: last.seq,
        head_hash: last.hash.clone(),
    }))
}

/// Paging of the query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Return records after this sequence number (default 0).
    #[serde(default)]
    #[param(maximum = 9_223_372_036_854_775_807_u64)]
    pub after: u64,
    /// At most this many, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordPage {
    /// Records (core `AuditRecord`), in order.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<AuditRecord>,
    /// Pass as `after` for the next page; absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

async fn page(
    state: &Arc<AppState>,
    tenant: &str,
    after: u64,
    limit: u32,
) -> ApiResult<Vec<AuditRecord>> {
    let store = state.store.clone();
    let t = tenant.to_owned();
    let rows = blocking(move || Ok(store.audit_page(&t, after, limit)?)).await?;
    rows.iter()
        .map(|(_, json)| serde_json::from_str(json).map_err(ApiError::internal))
        .collect()
}

/// Every stored record of a tenant's chain, in order, as stored JSON (read in pages).
async fn whole_chain(state: &Arc<AppState>, tenant: &str) -> ApiResult<Vec<String>> {
    const PAGE: u32 = 1000;
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let store = state.store.clone();
        let t = tenant.to_owned();
        let rows = blocking(move || Ok(store.audit_page(&t, after, PAGE)?)).await?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        let done = rows.len() < PAGE as usize;
        out.extend(rows.into_iter().map(|(_, json)| json));
        if done {
            break;
        }
    }
    Ok(out)
}

/// `GET /v1/tenants/{tenant}/audit/events?after=&limit=`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit/events", params(Page), responses((status = 200, body = RecordPage)), security(("bearer" = [])))]
pub async fn query(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
    Query(p): Query<Page>,
) -> ApiResult<Response> {
    state.tenant(&tenant).await?;
    let limit = p.limit.unwrap_or(100);
    if i64::try_from(p.after).is_err() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.malformed",
            format!(
                "`after` must be a sequence number (at most {}), not {}",
                i64::MAX,
                p.after
            ),
            "pass the `next` of the previous page",
        ));
    }
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.malformed",
            format!("`limit` must be 1 to 1000, not {limit}"),
            "page with `after` and a `limit` of at most 1000",
        ));
    }
    let records = page(&state, &tenant, p.after, limit).await?;
    let next = (records.len() == limit as usize)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    Ok(ok(RecordPage { records, next }))
}

/// `GET /v1/tenants/{tenant}/audit/export`: the whole chain as JSON Lines (one
/// `AuditRecord` per line). The export is itself appended (action `export`) first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit/export", responses((status = 200, description = "application/x-ndjson")), security(("bearer" = [])))]
pub async fn export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    state.tenant(&tenant).await?;
    let ev = caller.event(&tenant, Action::Export, "audit.export", Outcome::Success);
    state.audit.append(&tenant, vec![ev]).await?;
    state.metrics.audit_events(1);
    let mut out = String::new();
    for json in whole_chain(&state, &tenant).await? {
        out.push_str(&json);
        out.push('\n');
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        )],
        out,
    )
        .into_response())
}

/// The verdict of a verification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// True when the whole chain authenticates.
    pub valid: bool,
    /// Records checked.
    pub records: u64,
    /// The head reached.
    #[schema(value_type = Object)]
    pub head: Option<ChainHead>,
    /// What is wrong (first bad sequence number and kind of fault), when not valid.
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

/// `POST /v1/tenants/{tenant}/audit/verify`: verifies the stored chain.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/audit/verify", responses((status = 200, body = Verdict)), security(("bearer" = [])))]
pub async fn verify(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    state.tenant(&tenant).await?;
    // The chain and its prune record as of one moment (a prune may run meanwhile).
    let store = state.store.clone();
    let t = tenant.clone();
    let (prune, records) =
        blocking(move || crate::lifecycle::chain_with_prune(&*store, &t)).await?;
    let n = records.len() as u64;
    if records.is_empty() {
        return Ok(ok(Verdict {
            valid: true,
            records: 0,
            head: Some(ChainHead::genesis(&tenant)),
            error: None,
        }));
    }
    // A chain pruned at retention verifies from its signed prune record.
    let pruned_to = match prune {
        Some(p) => Some(
            crate::lifecycle::host_signer(&state.signing_key)?
                .verifier()
                .check_prune(&p)
                .map_err(|e| ApiError::from_diagnostic(&e))?,
        ),
        None => None,
    };
    let verified = audit::verify_retained(
        &tenant,
        &records,
        state.audit.key(),
        pruned_to.as_ref(),
        None,
    );
    let verdict = match verified {
        Ok(v) => Verdict {
            valid: true,
            records: v.verified,
            head: Some(v.head),
            error: None,
        },
        Err(e) => Verdict {
            valid: false,
            records: n,
            head: None,
            error: Some(ErrorBody::from_diagnostic(&e)),
        },
    };
    Ok(ok(verdict))
}
