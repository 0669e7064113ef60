//! The server's writer of tenant audit chains (core `audit`): every event carries
//! `recordedBy` (who wrote it, server or ingested); appends are serialized,
//! hashed with the server's audit key and committed to the store before the caller
//! answers, so an acknowledged event is durable.
//!
//! Each tenant's [`AuditChain`] is kept in memory after first use and resumed from the
//! last stored record after a restart. If a store write fails, the cached chain is
//! dropped so the next append resumes from what was actually committed.

use std::collections::HashMap;
use std::sync::Arc;

use phylax_core::audit::{AuditChain, AuditEvent, AuditKey, AuditRecord};
use tokio::sync::Mutex;

use crate::error::{ApiError, ApiResult};
use crate::store::Store;

/// Appends to tenant chains.
#[derive(Debug)]
pub struct AuditLog {
    key: AuditKey,
    chains: Mutex<HashMap<String, AuditChain>>,
}

impl AuditLog {
    /// A writer with the server's audit key.
    pub fn new(key: AuditKey) -> Self {
        Self {
            key,
            chains: Mutex::new(HashMap::new()),
        }
    }

    /// The audit key (for verification).
    pub fn key(&self) -> &AuditKey {
        &self.key
    }

    /// Appends `events` (all of `tenant`) and returns their records once committed.
    pub async fn append(
        &self,
        store: &Arc<dyn Store>,
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
        let mut chains = self.chains.lock().await;
        if !chains.contains_key(tenant) {
            let s = store.clone();
            let t = tenant.to_owned();
            let last = tokio::task::spawn_blocking(move || s.last_audit(&t))
                .await
                .map_err(ApiError::internal)??;
            let chain = match last {
                Some(json) => {
                    let record: AuditRecord =
                        serde_json::from_str(&json).map_err(ApiError::internal)?;
                    AuditChain::resume_after(self.key.clone(), &record)
                }
                None => AuditChain::new(self.key.clone(), tenant),
            }
            .map_err(|e| ApiError::from_diagnostic(&e))?;
            chains.insert(tenant.to_owned(), chain);
        }
        let Some(chain) = chains.get_mut(tenant) else {
            return Err(ApiError::internal("audit chain vanished"));
        };
        let before = chain.head();
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            match chain.append(event) {
                Ok(r) => records.push(r),
                Err(e) => {
                    // Nothing was stored: rewind to the committed head.
                    *chain = AuditChain::resume(self.key.clone(), &before)
                        .map_err(|e| ApiError::from_diagnostic(&e))?;
                    return Err(ApiError::from_diagnostic(&e));
                }
            }
        }
        let rows: Vec<(u64, String)> = records
            .iter()
            .map(|r| serde_json::to_string(r).map(|j| (r.seq, j)))
            .collect::<Result<_, _>>()
            .map_err(ApiError::internal)?;
        let s = store.clone();
        let t = tenant.to_owned();
        let stored = tokio::task::spawn_blocking(move || s.append_audit(&t, &rows))
            .await
            .map_err(ApiError::internal)?;
        if let Err(e) = stored {
            chains.remove(tenant);
            return Err(e.into());
        }
        Ok(records)
    }
}
