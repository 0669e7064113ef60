//! `phylax store copy`: moves an installation between stores (SQLite to PostgreSQL, or
//! back), with a progress bar.
//!
//! Resumable: settings, tenants, policy versions and API-key records are upserts, and each
//! tenant's audit chain continues from the target's head, so running the same command
//! again after an interruption finishes the copy. Before continuing a chain it checks the
//! target's last record is the source's record at that seq (a target chain that forked
//! from the source is an error, never merged). At the end every tenant's chain on the
//! target is verified with the audit key, and its head compared with the source's.

use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use phylax_core::audit::{self, AuditRecord};
use phylax_core::identity::ApiKeyRecord;

use crate::store::{self, redact_url, Store};

/// Store commands.
#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Copy every table from one store to another, then verify every audit chain on the
    /// target. Safe to run again after an interruption: it resumes.
    Copy {
        /// The source: `sqlite:PATH` or `postgres://...`.
        #[arg(long, value_parser = crate::config::StoreUrl::parse)]
        from: crate::config::StoreUrl,
        /// The target: `postgres://...` or `sqlite:PATH`.
        #[arg(long, value_parser = crate::config::StoreUrl::parse)]
        to: crate::config::StoreUrl,
        /// Audit records per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: u32,
        /// File holding the audit key (else `PHYLAX_AUDIT_KEY`, or `--data-dir`).
        #[arg(long)]
        audit_key_file: Option<std::path::PathBuf>,
        /// The server's data dir (reads its generated audit key).
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
        /// Stop after copying this many audit records (to test resuming).
        #[arg(long, hide = true)]
        stop_after: Option<u64>,
    },
}

fn open(url: &crate::config::StoreUrl) -> Result<std::sync::Arc<dyn Store>, String> {
    let u = url.expose();
    if !u.starts_with("sqlite:") && !u.starts_with("postgres") {
        return Err(format!(
            "`{}`: give a store URL, sqlite:PATH or postgres://...",
            redact_url(u)
        ));
    }
    if let Some(path) = u.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        if !std::path::Path::new(path).exists() {
            // Opening would create an empty database; a typo must not copy nothing.
            return Err(format!("`{path}`: no such SQLite store"));
        }
    }
    store::open(Some(u), std::path::Path::new("."), 4)
        .map_err(|e| format!("`{}`: {}", redact_url(u), e.message))
}

/// Runs a store command.
pub fn run(cmd: &StoreCommand) -> Result<ExitCode, String> {
    let StoreCommand::Copy {
        from,
        to,
        batch,
        audit_key_file,
        data_dir,
        stop_after,
    } = cmd;
    let key = super::audit::audit_key(audit_key_file.as_ref(), data_dir.as_ref())?;
    let verifier = super::existing_signing_key(data_dir.as_deref())
        .ok()
        .and_then(|k| crate::lifecycle::host_signer(&k).ok())
        .map(|s| s.verifier());
    let source = open(from)?;
    let target = open(to)?;
    let e = |e: store::StoreError| e.to_string();

    for (name, value) in source.settings().map_err(e)? {
        target.put_setting(&name, &value).map_err(e)?;
    }
    let tenants = source.tenants().map_err(e)?;
    let mut api_keys = 0;
    let mut versions = 0;
    for row in &tenants {
        target.put_tenant_row(row).map_err(e)?;
        for p in source.policy_versions(&row.id).map_err(e)? {
            target.put_policy_row(&p).map_err(e)?;
            versions += 1;
        }
        let mut keys = Vec::new();
        for json in source.api_keys(&row.id).map_err(e)? {
            let record: ApiKeyRecord =
                serde_json::from_str(&json).map_err(|err| format!("an API key record: {err}"))?;
            keys.push((record.key_id, json));
        }
        api_keys += keys.len();
        target.put_api_keys(&row.id, &keys).map_err(e)?;
    }
    eprintln!(
        "copied {} tenants, {versions} policy versions, {api_keys} API keys; now the audit chains",
        tenants.len()
    );

    // The audit chains: the bulk of the data.
    let heads: Vec<(String, u64)> = tenants
        .iter()
        .map(|t| Ok((t.id.clone(), last_seq(&*source, &t.id)?)))
        .collect::<Result<_, String>>()?;
    let total: u64 = heads.iter().map(|(_, s)| s).sum();
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} audit records ({per_sec}, {eta} left)")
            .map_err(|err| err.to_string())?,
    );
    let mut copied_now = 0u64;
    for (tenant, source_head) in &heads {
        let mut after = last_seq(&*target, tenant)?;
        if after > 0 {
            // Resume only onto the same chain.
            let ours = record_at(&*source, tenant, after)?;
            let theirs = record_at(&*target, tenant, after)?;
            if ours.is_none() || ours != theirs {
                return Err(format!(
                    "the target's audit chain of tenant `{tenant}` differs from the source at seq {after}: refusing to merge two chains"
                ));
            }
        }
        bar.inc(after);
        while after < *source_head {
            let rows = source.audit_page(tenant, after, *batch).map_err(e)?;
            let Some((last, _)) = rows.last() else { break };
            let last = *last;
            target.append_audit(tenant, &rows).map_err(e)?;
            bar.inc(rows.len() as u64);
            copied_now += rows.len() as u64;
            after = last;
            if stop_after.is_some_and(|n| copied_now >= n) {
                bar.abandon();
                eprintln!(
                    "stopped after {copied_now} audit records (--stop-after); run again to resume"
                );
                return Ok(ExitCode::from(3));
            }
        }
    }
    bar.finish();

    // Verify every chain on the target, and that it ends where the source's does.
    let mut records_verified = 0;
    for (tenant, source_head) in &heads {
        let records = whole_chain(&*target, tenant)?;
        if records.is_empty() && *source_head == 0 {
            continue;
        }
        // A chain pruned at retention verifies from its prune record (its signature is
        // checked when the bundle signing key is at hand).
        let row = target
            .tenant(tenant)
            .map_err(e)?
            .ok_or_else(|| format!("tenant `{tenant}` is missing on the target"))?;
        let prune = crate::lifecycle::prune_record(&row).map_err(|e| e.body.message)?;
        let start = match (&prune, &verifier) {
            (None, _) => None,
            (Some(p), Some(v)) => Some(
                v.check_prune(p)
                    .map_err(|err| format!("tenant `{tenant}`: its prune record: {err}"))?,
            ),
            (Some(p), None) => Some(audit::ChainHead {
                tenant: p.tenant.clone(),
                seq: p.first_kept_seq.saturating_sub(1),
                hash: p.prev_hash.clone(),
            }),
        };
        match audit::verify_retained(tenant, &records, &key, start.as_ref(), None) {
            Ok(v) if v.head.seq == *source_head => records_verified += v.verified,
            Ok(v) => {
                return Err(format!(
                    "tenant `{tenant}`: the target's chain ends at seq {}, the source's at {source_head}",
                    v.head.seq
                ))
            }
            Err(err) => {
                return Err(format!(
                    "tenant `{tenant}`: the copied chain does not verify [{}]: {err}",
                    phylax_core::Diagnostic::code(&err)
                ))
            }
        }
    }
    println!(
        "ok: {} tenants, {versions} policy versions, {api_keys} API keys, {records_verified} audit records copied to {}; every chain verifies",
        tenants.len(),
        redact_url(to.expose()),
    );
    Ok(ExitCode::SUCCESS)
}

fn last_seq(store: &dyn Store, tenant: &str) -> Result<u64, String> {
    match store.last_audit(tenant).map_err(|e| e.to_string())? {
        Some(json) => {
            let r: AuditRecord = serde_json::from_str(&json).map_err(|e| e.to_string())?;
            Ok(r.seq)
        }
        None => Ok(0),
    }
}

fn record_at(store: &dyn Store, tenant: &str, seq: u64) -> Result<Option<String>, String> {
    let rows = store
        .audit_page(tenant, seq.saturating_sub(1), 1)
        .map_err(|e| e.to_string())?;
    Ok(rows.into_iter().find(|(s, _)| *s == seq).map(|(_, r)| r))
}

fn whole_chain(store: &dyn Store, tenant: &str) -> Result<Vec<AuditRecord>, String> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let rows = store
            .audit_page(tenant, after, 1000)
            .map_err(|e| e.to_string())?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        for (_, json) in rows {
            out.push(serde_json::from_str(&json).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}
