//! A tenant's lifecycle: `active` → `offboarding` (the export window) → `shredded`,
//! and audit retention.
//!
//! Why it is built this way:
//! - **Every transition is one store transaction with its audit record**
//!   ([`Store::transition_tenant`]): the state change and the event in the tenant's
//!   chain commit together or not at all, so a crash mid-transition leaves the tenant
//!   as it was and the next sweep (or the operator) does it again.
//! - **Exactly one node performs a due transition**: the transaction is a
//!   compare-and-set on the tenant's state (and, for a due shred, on its due time);
//!   every node's sweeper tries, one commits, the others see `false`.
//! - **Pruning keeps the chain verifiable**: the events past retention are deleted in
//!   the same transaction that stores a prune record signed with the host's Ed25519
//!   key (the bundle signing key, under its own domain) and appends an `audit.prune`
//!   event. What remains verifies from the prune record's hash; a chain that starts
//!   late without one is reported as truncated.
//!
//! The same functions serve the API (`routes::tenants`), the server's sweeper
//! ([`spawn_sweeper`]) and the CLI (`phylax tenants ...`); they are synchronous (run in
//! `spawn_blocking` by the server).

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use phylax_core::audit::{
    Action, Actor, AuditChain, AuditEvent, AuditKey, AuditRecord, CheckpointSigner, Origin,
    Outcome, PruneRecord, RecordedBy,
};
use phylax_core::crypto::{KeyringState, Secret32};
use phylax_core::identity::{api_key, ApiKeyRecord};
use phylax_core::policy::BundleSigningKey;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{Store, TenantRow, TenantState, Transition};

/// A chain record as the store keeps it: its seq and its JSON.
type StoredRecord = (u64, String);

/// Seconds in a day.
pub const DAY: u64 = 86_400;
/// Longest export window and retention accepted, in days (100 years).
pub const MAX_DAYS: u32 = 36_525;
/// Audit records read per page while looking for the retention cut.
const PRUNE_SCAN_PAGE: u32 = 1000;

/// The host's statement signer: the bundle signing key's Ed25519 key, used under the
/// audit domains (prune records, export checkpoints). Its public key is the bundle
/// public key (`GET /v1/bundles/public-key`).
pub fn host_signer(key: &BundleSigningKey) -> ApiResult<CheckpointSigner> {
    let seed = Secret32::parse(&key.to_secret_string()).map_err(ApiError::internal)?;
    Ok(CheckpointSigner::from_secret(&seed))
}

/// An event written by the server itself, not on behalf of a caller (the sweeper).
pub fn system_event(tenant: &str, operation: &str, credential: &str, now: u64) -> AuditEvent {
    AuditEvent {
        tenant: tenant.to_owned(),
        actor: Actor {
            id: credential.to_owned(),
            role: Some("system".to_owned()),
            source_ip: None,
        },
        action: Action::Admin,
        operation: Some(operation.to_owned()),
        record: None,
        time: now,
        outcome: Outcome::Success,
        changed_fields: Vec::new(),
        decision: None,
        reason: None,
        recorded_by: Some(RecordedBy {
            origin: Origin::Server,
            credential: credential.to_owned(),
        }),
    }
}

/// The record of `event` chained after the committed head the store reports.
pub fn chain_record(
    key: &AuditKey,
    event: &AuditEvent,
    tenant: &str,
    head: Option<(u64, String)>,
) -> ApiResult<(u64, String)> {
    let mut chain = match head {
        None => AuditChain::new(key.clone(), tenant),
        Some((_, json)) => {
            let last: AuditRecord = serde_json::from_str(&json).map_err(ApiError::internal)?;
            AuditChain::resume_after(key.clone(), &last)
        }
    }
    .map_err(|e| ApiError::from_diagnostic(&e))?;
    let record = chain
        .append(event.clone())
        .map_err(|e| ApiError::from_diagnostic(&e))?;
    let json = serde_json::to_string(&record).map_err(ApiError::internal)?;
    Ok((record.seq, json))
}

/// Builds the one record of `event` for the store's transactions; an error leaves the
/// vector empty, which the store refuses (nothing is committed).
fn one_record<'a>(
    key: &'a AuditKey,
    event: &'a AuditEvent,
    failure: &'a mut Option<ApiError>,
) -> impl FnMut(&str, Option<StoredRecord>) -> Vec<StoredRecord> + 'a {
    move |tenant, head| match chain_record(key, event, tenant, head) {
        Ok(r) => vec![r],
        Err(e) => {
            *failure = Some(e);
            Vec::new()
        }
    }
}

fn tenant_row(store: &dyn Store, tenant: &str) -> ApiResult<TenantRow> {
    store
        .tenant(tenant)?
        .ok_or_else(|| ApiError::not_found("tenant", tenant))
}

/// 409 for a tenant in the wrong state for what was asked.
pub fn wrong_state(tenant: &str, state: TenantState, wanted: &str) -> ApiError {
    let (code, hint) = match state {
        TenantState::Active => (
            "tenant.active",
            "start offboarding first (POST /v1/tenants/{tenant}/offboard), or shred at once with confirm",
        ),
        TenantState::Offboarding => (
            "tenant.offboarding",
            "the tenant is in its export window: cancel offboarding to make it active again",
        ),
        TenantState::Shredded => (
            "tenant.shredded",
            "the tenant's keys are destroyed; nothing of it can be changed or exported any more",
        ),
    };
    ApiError::new(
        StatusCode::CONFLICT,
        code,
        format!("tenant `{tenant}` is {}; cannot {wanted}", state.as_str()),
        hint,
    )
}

fn apply(
    store: &dyn Store,
    key: &AuditKey,
    t: &Transition<'_>,
    event: &AuditEvent,
) -> ApiResult<bool> {
    let mut failure = None;
    let mut build = one_record(key, event, &mut failure);
    let result = store.transition_tenant(t, &mut build);
    drop(build);
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(result?)
}

/// Starts offboarding: the tenant enters its export window (its `exportWindowDays`, or
/// `window_days`), at whose end its keys are destroyed. Writes are refused meanwhile.
pub fn offboard(
    store: &dyn Store,
    key: &AuditKey,
    tenant: &str,
    window_days: Option<u32>,
    event: &AuditEvent,
    now: u64,
) -> ApiResult<TenantRow> {
    let row = tenant_row(store, tenant)?;
    if row.life.state != TenantState::Active {
        return Err(wrong_state(tenant, row.life.state, "start offboarding"));
    }
    let days = window_days.unwrap_or(row.life.export_window_days);
    check_days("exportWindowDays", days, 0)?;
    let due = now.saturating_add(u64::from(days).saturating_mul(DAY));
    let t = Transition {
        tenant,
        from: TenantState::Active,
        due_by: None,
        to: TenantState::Offboarding,
        offboarding_since: Some(now),
        shred_due_at: Some(due),
        deleted_at: None,
        keyring: None,
        revoked_keys: &[],
    };
    if !apply(store, key, &t, event)? {
        let row = tenant_row(store, tenant)?;
        return Err(wrong_state(tenant, row.life.state, "start offboarding"));
    }
    tenant_row(store, tenant)
}

/// Cancels offboarding during the export window: the tenant is active again.
pub fn cancel(
    store: &dyn Store,
    key: &AuditKey,
    tenant: &str,
    event: &AuditEvent,
) -> ApiResult<TenantRow> {
    let t = Transition {
        tenant,
        from: TenantState::Offboarding,
        due_by: None,
        to: TenantState::Active,
        offboarding_since: None,
        shred_due_at: None,
        deleted_at: None,
        keyring: None,
        revoked_keys: &[],
    };
    if !apply(store, key, &t, event)? {
        let row = tenant_row(store, tenant)?;
        return Err(wrong_state(tenant, row.life.state, "cancel offboarding"));
    }
    tenant_row(store, tenant)
}

/// When a shred may happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShredWhen {
    /// Now, by an operator: an offboarding tenant at once; an active one only with
    /// `confirm` (it skips the export window).
    Now {
        /// The operator confirmed shredding a tenant that is still active.
        confirm: bool,
    },
    /// The export window ended by this time (the sweeper).
    Due(u64),
}

/// Destroys the tenant's keys (crypto-shredding) and revokes its API keys, with the
/// audit record, in one transaction. `Ok(None)` when another node did it first (or,
/// for [`ShredWhen::Due`], when it is not due any more).
pub fn shred(
    store: &dyn Store,
    key: &AuditKey,
    tenant: &str,
    when: ShredWhen,
    event: &AuditEvent,
    now: u64,
) -> ApiResult<Option<TenantRow>> {
    let row = tenant_row(store, tenant)?;
    let from = row.life.state;
    match (from, when) {
        (TenantState::Shredded, _) => return Err(wrong_state(tenant, from, "shred it again")),
        (TenantState::Active, ShredWhen::Now { confirm: false }) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "tenant.confirm_required",
                format!("tenant `{tenant}` is active: shredding it now skips its export window"),
                "offboard it first (its data stays exportable for the window), or confirm: `?confirm=true` / `--confirm`",
            ))
        }
        (TenantState::Active, ShredWhen::Due(_)) => return Ok(None),
        _ => {}
    }
    let mut state: KeyringState = serde_json::from_str(&row.keyring).map_err(ApiError::internal)?;
    // Emptied without opening: the root key is not needed to destroy keys.
    state.data_keys.active = 0;
    state.data_keys.versions.clear();
    state.index_keys.active = 0;
    state.index_keys.versions.clear();
    state.destroyed_at.get_or_insert(now);
    let keyring = serde_json::to_string(&state).map_err(ApiError::internal)?;
    let mut revoked = Vec::new();
    for json in store.api_keys(tenant)? {
        let record: ApiKeyRecord = serde_json::from_str(&json).map_err(ApiError::internal)?;
        let r = api_key::revoke(&record, now);
        revoked.push((
            r.key_id.clone(),
            serde_json::to_string(&r).map_err(ApiError::internal)?,
        ));
    }
    let t = Transition {
        tenant,
        from,
        due_by: match when {
            ShredWhen::Due(at) => Some(at),
            ShredWhen::Now { .. } => None,
        },
        to: TenantState::Shredded,
        offboarding_since: row.life.offboarding_since,
        shred_due_at: None,
        deleted_at: Some(now),
        keyring: Some(&keyring),
        revoked_keys: &revoked,
    };
    if !apply(store, key, &t, event)? {
        return match when {
            ShredWhen::Due(_) => Ok(None),
            ShredWhen::Now { .. } => {
                let row = tenant_row(store, tenant)?;
                Err(wrong_state(tenant, row.life.state, "shred it"))
            }
        };
    }
    tenant_row(store, tenant).map(Some)
}

fn check_days(name: &str, days: u32, min: u32) -> ApiResult<()> {
    if (min..=MAX_DAYS).contains(&days) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "request.invalid",
        format!("`{name}` must be between {min} and {MAX_DAYS} days"),
        "give a number of days, e.g. 2557 for seven years",
    ))
}

/// Sets an active tenant's retention settings.
pub fn put_settings(
    store: &dyn Store,
    tenant: &str,
    audit_retention_days: u32,
    export_window_days: u32,
) -> ApiResult<TenantRow> {
    check_days("auditRetentionDays", audit_retention_days, 1)?;
    check_days("exportWindowDays", export_window_days, 0)?;
    if !store.put_tenant_settings(tenant, audit_retention_days, export_window_days)? {
        let row = tenant_row(store, tenant)?;
        return Err(wrong_state(tenant, row.life.state, "change its settings"));
    }
    tenant_row(store, tenant)
}

/// The verified prune record a tenant's chain starts after, if it was pruned.
pub fn prune_record(row: &TenantRow) -> ApiResult<Option<PruneRecord>> {
    row.life
        .audit_prune
        .as_deref()
        .map(|json| serde_json::from_str(json).map_err(ApiError::internal))
        .transpose()
}

/// A tenant's chain with the prune record it starts after, read so that the two agree:
/// a prune committed between reading one and the other would make a healthy chain look
/// cut, so the record is read again after the chain and the read repeated if it moved.
pub fn chain_with_prune(
    store: &dyn Store,
    tenant: &str,
) -> ApiResult<(Option<PruneRecord>, Vec<AuditRecord>)> {
    const PAGE: u32 = 5000;
    for _ in 0..5 {
        let before = tenant_row(store, tenant)?.life.audit_prune;
        let mut records = Vec::new();
        let mut after = 0;
        loop {
            let page = store.audit_page(tenant, after, PAGE)?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            for (_, json) in page {
                records
                    .push(serde_json::from_str::<AuditRecord>(&json).map_err(ApiError::internal)?);
            }
        }
        let row = tenant_row(store, tenant)?;
        if row.life.audit_prune == before {
            return Ok((prune_record(&row)?, records));
        }
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "request.conflict",
        "the chain was pruned again and again while it was read",
        "retry in a moment",
    ))
}

/// Prunes the tenant's audit events older than its retention, if any: returns the first
/// seq kept. The prune appends its own record, so a chain is never left empty.
pub fn prune(
    store: &dyn Store,
    key: &AuditKey,
    signer: &CheckpointSigner,
    tenant: &str,
    now: u64,
    credential: &str,
) -> ApiResult<Option<u64>> {
    let row = tenant_row(store, tenant)?;
    let cutoff = now.saturating_sub(u64::from(row.life.audit_retention_days).saturating_mul(DAY));
    let start = prune_record(&row)?.map_or(0, |p| p.first_kept_seq.saturating_sub(1));
    // The first record at or after the cutoff is the first kept; the one before it is
    // the last pruned. When every record is older, all go: the first kept is the one
    // after the head, i.e. the prune's own record (or one another node appends first),
    // which the store appends before it deletes.
    let mut last_old: Option<AuditRecord> = None;
    let mut after = start;
    let first_kept = 'scan: loop {
        let page = store.audit_page(tenant, after, PRUNE_SCAN_PAGE)?;
        if page.is_empty() {
            match &last_old {
                Some(head) => break 'scan head.seq.saturating_add(1),
                None => return Ok(None),
            }
        }
        for (seq, json) in page {
            let record: AuditRecord = serde_json::from_str(&json).map_err(ApiError::internal)?;
            if record.event.time >= cutoff {
                break 'scan seq;
            }
            after = seq;
            last_old = Some(record);
        }
    };
    let Some(last_old) = last_old else {
        return Ok(None);
    };
    let record = signer.sign_prune(tenant, first_kept, &last_old.hash, key.key_id(), now);
    let json = serde_json::to_string(&record).map_err(ApiError::internal)?;
    let mut event = system_event(tenant, "audit.prune", credential, now);
    event.reason = Some(format!(
        "retention {} days: events before seq {first_kept} pruned",
        row.life.audit_retention_days
    ));
    let mut failure = None;
    let mut build = one_record(key, &event, &mut failure);
    let done = store.prune_audit(
        tenant,
        row.life.audit_prune.as_deref(),
        &json,
        first_kept,
        &mut build,
    );
    drop(build);
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(done?.then_some(first_kept))
}

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Tenants this node shredded (their window ended).
    pub shredded: Vec<String>,
    /// Tenants this node pruned, with the first seq kept.
    pub pruned: Vec<(String, u64)>,
    /// Tenants whose step failed this time, with the error code (logged).
    pub failed: Vec<(String, String)>,
}

/// Performs every due transition: shreds tenants whose export window ended, prunes
/// chains past retention. Safe on every node at once (each step is a compare-and-set)
/// and after a crash (each step is one transaction).
pub fn sweep(
    store: &dyn Store,
    key: &AuditKey,
    signer: &CheckpointSigner,
    now: u64,
) -> ApiResult<Sweep> {
    const WHO: &str = "phylax-lifecycle";
    let mut out = Sweep::default();
    for row in store.tenants()? {
        // One tenant's failure (say, a record that no longer parses) is logged and the
        // sweep goes on: it must not hold back every other tenant's due shred.
        let mut step = || -> ApiResult<()> {
            if row.life.state == TenantState::Offboarding
                && row.life.shred_due_at.is_some_and(|d| d <= now)
            {
                let event = system_event(&row.id, "tenant.shred", WHO, now);
                if shred(store, key, &row.id, ShredWhen::Due(now), &event, now)?.is_some() {
                    out.shredded.push(row.id.clone());
                }
            }
            // A shredded tenant's chain is kept, and pruned at its retention like any other.
            if let Some(first) = prune(store, key, signer, &row.id, now, WHO)? {
                out.pruned.push((row.id.clone(), first));
            }
            Ok(())
        };
        if let Err(e) = step() {
            if e.status.is_server_error() && e.body.code.starts_with("store.") {
                // The database itself is failing: the next sweep retries everything.
                return Err(e);
            }
            tracing::warn!(tenant = %row.id, code = %e.body.code, error = %e.body.message, "lifecycle step failed for this tenant; the others go on");
            out.failed.push((row.id.clone(), e.body.code.clone()));
        }
    }
    Ok(out)
}

/// Runs [`sweep`] every `interval` on this node (every node runs one; the store decides
/// which performs each step), applying what changed to the caches.
pub fn spawn_sweeper(state: Arc<AppState>, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let s = state.clone();
            let result = tokio::task::spawn_blocking(move || {
                let signer = host_signer(&s.signing_key)?;
                sweep(&*s.store, s.audit.key(), &signer, crate::state::now())
            })
            .await;
            match result {
                Ok(Ok(done)) => {
                    for t in &done.shredded {
                        tracing::info!(tenant = %t, "export window ended: tenant shredded");
                    }
                    for (t, first) in &done.pruned {
                        tracing::info!(tenant = %t, first_kept = first, "audit chain pruned at retention");
                    }
                    if (!done.shredded.is_empty() || !done.pruned.is_empty())
                        && state.changed().await.is_err()
                    {
                        tracing::warn!("lifecycle sweep: caches not refreshed; the poller will");
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(code = e.body.code, error = %e.body.message, "lifecycle sweep failed; retrying next interval")
                }
                Err(e) => tracing::error!(error = %e, "lifecycle sweep panicked"),
            }
        }
    })
}
