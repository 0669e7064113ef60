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
use crate::store::{AuditCursor, AuditFilter};

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

/// Newest first or oldest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Oldest first, paged with `after`.
    #[default]
    Asc,
    /// Newest first, paged with `before`.
    Desc,
}

/// Export formats of the filtered view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One `AuditRecord` JSON per line.
    #[default]
    Jsonl,
    /// One row per record (see `export`).
    Csv,
}

/// Paging and filters of the query and the export. Every filter is exact (the time
/// range inclusive), combined with AND, and runs in the database over indexed columns.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Oldest first: records after this sequence number (default 0).
    #[param(maximum = 9_223_372_036_854_775_807_u64)]
    pub after: Option<u64>,
    /// Newest first: records before this sequence number (default: from the head).
    #[param(maximum = 9_223_372_036_854_775_807_u64)]
    pub before: Option<u64>,
    /// `asc` (default, with `after`) or `desc` (newest first, with `before`).
    #[param(value_type = Option<String>)]
    pub order: Option<Order>,
    /// At most this many, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// Export only: `jsonl` (default) or `csv`.
    #[param(value_type = Option<String>)]
    pub format: Option<Format>,
    /// The actor id (`event.actor.id`).
    pub actor: Option<String>,
    /// The actor's role.
    pub role: Option<String>,
    /// `view`, `create`, `update`, `delete`, `export`, `admin` or `authorization`.
    #[param(value_type = Option<String>)]
    pub action: Option<Action>,
    /// `success`, `failure` or `denied`.
    #[param(value_type = Option<String>)]
    pub outcome: Option<Outcome>,
    /// The operation.
    pub operation: Option<String>,
    /// The record's type.
    pub record_type: Option<String>,
    /// The record's id.
    pub record_id: Option<String>,
    /// The actor's source address.
    pub source_ip: Option<String>,
    /// Events at or after this unix time (seconds).
    #[param(maximum = 9_223_372_036_854_775_807_u64)]
    pub from: Option<u64>,
    /// Events at or before this unix time (seconds).
    #[param(maximum = 9_223_372_036_854_775_807_u64)]
    pub to: Option<u64>,
}

/// Longest text filter, bytes.
pub const MAX_FILTER_LEN: usize = 256;

fn bad_query(message: String, hint: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "request.malformed", message, hint)
}

/// The enum's JSON spelling (`view`, `denied`).
fn spelled<T: Serialize>(value: &T) -> ApiResult<String> {
    match serde_json::to_value(value).map_err(ApiError::internal)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(ApiError::internal(format!("not a string: {other}"))),
    }
}

impl AuditQuery {
    /// The store filter, after checking every value.
    fn filter(&self) -> ApiResult<AuditFilter> {
        let texts = [
            ("actor", &self.actor),
            ("role", &self.role),
            ("operation", &self.operation),
            ("recordType", &self.record_type),
            ("recordId", &self.record_id),
            ("sourceIp", &self.source_ip),
        ];
        for (name, value) in texts {
            if value.as_ref().is_some_and(|v| v.len() > MAX_FILTER_LEN) {
                return Err(bad_query(
                    format!("`{name}` is longer than {MAX_FILTER_LEN} bytes"),
                    "filters match whole values: pass the exact value",
                ));
            }
        }
        for (name, value) in [
            ("after", self.after),
            ("before", self.before),
            ("from", self.from),
            ("to", self.to),
        ] {
            if value.is_some_and(|v| i64::try_from(v).is_err()) {
                return Err(bad_query(
                    format!("`{name}` must be at most {}", i64::MAX),
                    "pass a sequence number or unix time in seconds",
                ));
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(bad_query(
                    format!("`from` ({from}) is after `to` ({to})"),
                    "the time range is inclusive: `from` <= `to`",
                ));
            }
        }
        let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        Ok(AuditFilter {
            actor: nonempty(&self.actor),
            role: nonempty(&self.role),
            source_ip: nonempty(&self.source_ip),
            action: self.action.as_ref().map(spelled).transpose()?,
            operation: nonempty(&self.operation),
            outcome: self.outcome.as_ref().map(spelled).transpose()?,
            record_type: nonempty(&self.record_type),
            record_id: nonempty(&self.record_id),
            from: self.from,
            to: self.to,
        })
    }

    /// Where the page starts.
    fn cursor(&self) -> ApiResult<AuditCursor> {
        match (self.order.unwrap_or_default(), self.after, self.before) {
            (_, Some(_), Some(_)) => Err(bad_query(
                "pass `after` or `before`, not both".to_owned(),
                "`after` pages oldest first, `before` newest first (`order=desc`)",
            )),
            (Order::Asc, after, None) => Ok(AuditCursor::After(after.unwrap_or(0))),
            (Order::Desc, None, before) => Ok(AuditCursor::Before(before)),
            (Order::Asc, _, Some(_)) => Err(bad_query(
                "`before` pages newest first: it needs `order=desc`".to_owned(),
                "pass `order=desc` with `before`, or `after` alone",
            )),
            (Order::Desc, Some(_), _) => Err(bad_query(
                "`after` pages oldest first: it cannot go with `order=desc`".to_owned(),
                "pass `before` with `order=desc`",
            )),
        }
    }
}

/// A page of records.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordPage {
    /// Records (core `AuditRecord`), in the page's order.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<AuditRecord>,
    /// Pass as `after` (oldest first) or `before` (newest first) for the next page;
    /// absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
}

/// Records of `tenant` matching `filter` from `cursor`, as stored: `(seq, JSON)`.
async fn search_raw(
    state: &Arc<AppState>,
    tenant: &str,
    filter: AuditFilter,
    cursor: AuditCursor,
    limit: u32,
) -> ApiResult<Vec<(u64, String)>> {
    let store = state.store.clone();
    let t = tenant.to_owned();
    blocking(move || Ok(store.audit_search(&t, &filter, cursor, limit)?)).await
}

/// Records of `tenant` matching `filter` from `cursor`, parsed.
async fn search(
    state: &Arc<AppState>,
    tenant: &str,
    filter: AuditFilter,
    cursor: AuditCursor,
    limit: u32,
) -> ApiResult<Vec<AuditRecord>> {
    search_raw(state, tenant, filter, cursor, limit)
        .await?
        .iter()
        .map(|(_, json)| serde_json::from_str(json).map_err(ApiError::internal))
        .collect()
}

/// `GET /v1/tenants/{tenant}/audit/events`: a page of the chain, oldest first (`after`)
/// or newest first (`order=desc`, `before`), filtered.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit/events", params(AuditQuery), responses((status = 200, body = RecordPage)), security(("bearer" = [])))]
pub async fn query(
    State(state): State<Arc<AppState>>,
    _caller: Caller,
    Path(tenant): Path<String>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    state.tenant(&tenant).await?;
    if q.format.is_some() {
        return Err(bad_query(
            "`format` belongs to the export".to_owned(),
            "download the filtered view from `/audit/export?format=`",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(bad_query(
            format!("`limit` must be 1 to 1000, not {limit}"),
            "page with `after` (or `before`) and a `limit` of at most 1000",
        ));
    }
    let records = search(&state, &tenant, q.filter()?, q.cursor()?, limit).await?;
    let next = (records.len() == limit as usize)
        .then(|| records.last().map(|r| r.seq))
        .flatten();
    Ok(ok(RecordPage { records, next }))
}

/// `GET /v1/tenants/{tenant}/audit/export?format=jsonl|csv&...filters`: the filtered
/// view, oldest first, as JSON Lines (one `AuditRecord` per line) or CSV (columns
/// [`CSV_COLUMNS`]). The export is itself appended (action `export`) first.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/audit/export", params(AuditQuery), responses((status = 200, description = "application/x-ndjson or text/csv")), security(("bearer" = [])))]
pub async fn export(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tenant): Path<String>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    state.tenant(&tenant).await?;
    if q.after.is_some() || q.before.is_some() || q.order.is_some() || q.limit.is_some() {
        return Err(bad_query(
            "the export takes filters, not paging (`after`, `before`, `order`, `limit`)".to_owned(),
            "narrow the export with filters, e.g. `from` and `to`",
        ));
    }
    let filter = q.filter()?;
    let format = q.format.unwrap_or_default();
    let ev = caller.event(&tenant, Action::Export, "audit.export", Outcome::Success);
    state.audit.append(&tenant, vec![ev]).await?;
    state.metrics.audit_events(1);
    const PAGE: u32 = 1000;
    let mut out = String::new();
    if format == Format::Csv {
        out.push_str(&CSV_COLUMNS.join(","));
        out.push_str("\r\n");
    }
    let mut after = 0;
    loop {
        let page = search_raw(
            &state,
            &tenant,
            filter.clone(),
            AuditCursor::After(after),
            PAGE,
        )
        .await?;
        // Records as stored: a record that no longer parses (altered in the store) is
        // exported as it is, not dropped and not failing the export.
        for (seq, json) in &page {
            match format {
                Format::Jsonl => {
                    out.push_str(json);
                    out.push('\n');
                }
                Format::Csv => out.push_str(&match serde_json::from_str::<AuditRecord>(json) {
                    Ok(record) => csv_row(&record),
                    Err(_) => format!(
                        "{seq},,,,,,,,,,,record does not parse (altered in the store?),\r\n"
                    ),
                }),
            }
        }
        match page.last() {
            Some((last, _)) if page.len() == PAGE as usize => after = *last,
            _ => break,
        }
    }
    let content_type = match format {
        Format::Jsonl => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        out,
    )
        .into_response())
}

/// The CSV export's columns.
pub const CSV_COLUMNS: &[&str] = &[
    "seq",
    "time",
    "actor",
    "role",
    "sourceIp",
    "action",
    "operation",
    "outcome",
    "recordType",
    "recordId",
    "changedFields",
    "reason",
    "hash",
];

/// One CSV line (RFC 4180, CRLF). A text cell a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab or CR first) gets a leading `'`, so an actor id or reason an
/// attacker chose cannot execute in the reviewer's spreadsheet.
fn csv_row(r: &AuditRecord) -> String {
    let e = &r.event;
    let text = |s: &str| {
        let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s.to_owned()
        };
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let cells = [
        r.seq.to_string(),
        e.time.to_string(),
        text(&e.actor.id),
        text(e.actor.role.as_deref().unwrap_or("")),
        text(e.actor.source_ip.as_deref().unwrap_or("")),
        spelled(&e.action).unwrap_or_default(),
        text(e.operation.as_deref().unwrap_or("")),
        spelled(&e.outcome).unwrap_or_default(),
        text(e.record.as_ref().map_or("", |x| x.kind.as_str())),
        text(e.record.as_ref().map_or("", |x| x.id.as_str())),
        text(&e.changed_fields.join(";")),
        text(e.reason.as_deref().unwrap_or("")),
        r.hash.clone(),
    ];
    let mut line = cells.join(",");
    line.push_str("\r\n");
    line
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
    /// The first sequence number at fault, when the fault is in the chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_seq: Option<u64>,
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
            fault_seq: None,
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
            fault_seq: None,
        },
        Err(e) => Verdict {
            valid: false,
            records: n,
            head: None,
            error: Some(ErrorBody::from_diagnostic(&e)),
            fault_seq: e.fault().map(|(_, seq)| seq),
        },
    };
    Ok(ok(verdict))
}
