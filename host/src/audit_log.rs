//! The server's writer of tenant audit chains (core `audit`): every event carries
//! `recordedBy` (who wrote it, server or ingested), is hashed with the server's audit key
//! and committed to the store before the caller answers, so an acknowledged event is
//! durable.
//!
//! **Group commit.** Callers hand their events to one writer task per node. It takes
//! everything waiting (up to `audit_batch_max` events), and commits the whole batch in
//! one transaction — one fsync — through [`Store::append_audit_locked`], which locks each
//! tenant's chain head in the store. Every caller in the batch is answered after that
//! commit. While one batch commits the next one gathers, so audited traffic is not
//! limited to one commit per request.
//!
//! **Many nodes.** The head row is locked in the append transaction, so chains stay one
//! unbroken sequence whichever node appends. The writer remembers the head it last
//! committed per tenant and uses it only when the locked head in the store still has
//! that seq (no other node appended since); otherwise it resumes from the stored record.
//! If a commit fails, the remembered heads of that batch are dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use phylax_core::audit::{AuditChain, AuditEvent, AuditKey, AuditRecord, ChainHead};
use tokio::sync::{mpsc, oneshot};

use crate::error::{ApiError, ApiResult};
use crate::store::Store;

/// Requests waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 4096;

/// Tenants whose last head the writer remembers; past this it starts over.
const REMEMBERED_HEADS: usize = 100_000;

struct Pending {
    tenant: String,
    events: Vec<AuditEvent>,
    reply: oneshot::Sender<ApiResult<Vec<AuditRecord>>>,
}

/// Appends to tenant chains.
#[derive(Debug)]
pub struct AuditLog {
    key: AuditKey,
    queue: mpsc::Sender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("tenant", &self.tenant)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Starts the writer task (on the current tokio runtime) over `store`. `batch_max`
    /// bounds the events of one commit; 1 commits every request on its own.
    pub fn start(key: AuditKey, store: Arc<dyn Store>, batch_max: usize) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let writer = Writer {
            key: key.clone(),
            store,
            batch_max: batch_max.max(1),
            heads: HashMap::new(),
        };
        tokio::spawn(writer.run(rx));
        Self { key, queue }
    }

    /// The audit key (for verification).
    pub fn key(&self) -> &AuditKey {
        &self.key
    }

    /// Appends `events` (all of `tenant`) and returns their records once committed.
    pub async fn append(
        &self,
        tenant: &str,
        events: Vec<AuditEvent>,
    ) -> ApiResult<Vec<AuditRecord>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Every record says who wrote it: the server's own events and ingested ones
        // alike (an unmarked event would be a bug, never a silent append).
        if events.iter().any(|e| e.recorded_by.is_none()) {
            return Err(ApiError::internal("an audit event without `recordedBy`"));
        }
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            tenant: tenant.to_owned(),
            events,
            reply,
        };
        self.queue
            .send(pending)
            .await
            .map_err(|_| ApiError::internal("the audit writer stopped"))?;
        answer
            .await
            .map_err(|_| ApiError::internal("the audit writer dropped a request"))?
    }
}

struct Writer {
    key: AuditKey,
    store: Arc<dyn Store>,
    batch_max: usize,
    /// The head this node last committed, per tenant.
    heads: HashMap<String, ChainHead>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Pending>) {
        while let Some(first) = rx.recv().await {
            let mut events = first.events.len();
            let mut batch = vec![first];
            while events < self.batch_max {
                match rx.try_recv() {
                    Ok(p) => {
                        events += p.events.len();
                        batch.push(p);
                    }
                    Err(_) => break,
                }
            }
            let (replies, work): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|p| (p.reply, (p.tenant, p.events)))
                .unzip();
            let result = tokio::task::spawn_blocking(move || {
                let results = self.commit(&work);
                (self, results)
            })
            .await;
            match result {
                Ok((writer, results)) => {
                    self = writer;
                    for (reply, r) in replies.into_iter().zip(results) {
                        // A caller that gave up (timeout) no longer listens; its events
                        // are committed all the same.
                        let _ = reply.send(r);
                    }
                }
                Err(e) => {
                    // The blocking task panicked: the writer state is lost with it.
                    tracing::error!(error = %e, "audit writer failed");
                    for reply in replies {
                        let _ = reply.send(Err(ApiError::internal("the audit writer failed")));
                    }
                    return;
                }
            }
        }
    }

    /// Commits one batch; one answer per request, in order.
    fn commit(&mut self, work: &[(String, Vec<AuditEvent>)]) -> Vec<ApiResult<Vec<AuditRecord>>> {
        let mut by_tenant: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, (tenant, _)) in work.iter().enumerate() {
            by_tenant.entry(tenant.as_str()).or_default().push(i);
        }
        let tenants: Vec<String> = by_tenant.keys().map(|t| (*t).to_owned()).collect();
        let mut results: Vec<Option<ApiResult<Vec<AuditRecord>>>> = vec![None; work.len()];
        let mut new_heads: HashMap<String, ChainHead> = HashMap::new();
        let key = &self.key;
        let remembered = &self.heads;
        let stored = self
            .store
            .append_audit_locked(&tenants, &mut |tenant, head| {
                let indices = by_tenant.get(tenant).map(Vec::as_slice).unwrap_or(&[]);
                match chain_at(key, remembered, tenant, head) {
                    Ok(mut chain) => {
                        let mut rows = Vec::new();
                        for &i in indices {
                            let events = work.get(i).map(|(_, e)| e.as_slice()).unwrap_or(&[]);
                            let answer = append_all(key, &mut chain, events, &mut rows);
                            if let Some(slot) = results.get_mut(i) {
                                *slot = Some(answer);
                            }
                        }
                        new_heads.insert(tenant.to_owned(), chain.head());
                        rows
                    }
                    Err(e) => {
                        for &i in indices {
                            if let Some(slot) = results.get_mut(i) {
                                *slot = Some(Err(e.clone()));
                            }
                        }
                        Vec::new()
                    }
                }
            });
        match stored {
            Ok(()) => {
                if self.heads.len() > REMEMBERED_HEADS {
                    self.heads.clear();
                }
                self.heads.extend(new_heads);
                results
                    .into_iter()
                    .map(|r| {
                        r.unwrap_or_else(|| Err(ApiError::internal("an audit request was skipped")))
                    })
                    .collect()
            }
            Err(e) => {
                // Whether it committed is unknown: start from the store next time.
                for t in &tenants {
                    self.heads.remove(t);
                }
                let err = ApiError::from(e);
                work.iter().map(|_| Err(err.clone())).collect()
            }
        }
    }
}

/// The chain positioned at the committed head the store reported.
fn chain_at(
    key: &AuditKey,
    remembered: &HashMap<String, ChainHead>,
    tenant: &str,
    head: Option<(u64, String)>,
) -> ApiResult<AuditChain> {
    let chain = match head {
        None => AuditChain::new(key.clone(), tenant),
        Some((seq, json)) => match remembered.get(tenant) {
            // Nobody appended since this node did: its head is the stored one.
            Some(h) if h.seq == seq => AuditChain::resume(key.clone(), h),
            _ => {
                let record: AuditRecord =
                    serde_json::from_str(&json).map_err(ApiError::internal)?;
                AuditChain::resume_after(key.clone(), &record)
            }
        },
    };
    chain.map_err(|e| ApiError::from_diagnostic(&e))
}

/// Appends one request's events; on a refused event nothing of the request is kept.
fn append_all(
    key: &AuditKey,
    chain: &mut AuditChain,
    events: &[AuditEvent],
    rows: &mut Vec<(u64, String)>,
) -> ApiResult<Vec<AuditRecord>> {
    let before = chain.head();
    let mut records = Vec::with_capacity(events.len());
    let mut texts = Vec::with_capacity(events.len());
    for event in events {
        let appended = chain
            .append(event.clone())
            .map_err(|e| ApiError::from_diagnostic(&e))
            .and_then(|r| {
                let text = serde_json::to_string(&r).map_err(ApiError::internal)?;
                Ok((r, text))
            });
        match appended {
            Ok((r, text)) => {
                texts.push((r.seq, text));
                records.push(r);
            }
            Err(e) => {
                *chain = AuditChain::resume(key.clone(), &before)
                    .map_err(|e| ApiError::from_diagnostic(&e))?;
                return Err(e);
            }
        }
    }
    rows.extend(texts);
    Ok(records)
}
