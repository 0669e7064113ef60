//! What a node caches from the store, and how changes made through other nodes reach it.
//!
//! Request paths never read the store when nothing changed: tenant rows, API-key records
//! and opened keyrings come from these caches. Every write of shared state records a
//! [`Change`](crate::store::Change) under one store-wide version in its own transaction;
//! each node polls that version every `sync_interval_ms` (one indexed read of one row
//! when nothing changed, on every backend: no `LISTEN`, nothing a pooler or CockroachDB
//! lacks), drops what changed, and rebuilds its engine when tenants or policies did.
//!
//! **The bound.** A node trusts its caches only while its last successful poll *started*
//! less than `sync_bound_ms` ago; otherwise a request polls once more and waits for it
//! (at most the bound), and answers 503 `store.stale` if that fails. A poll that starts after a commit sees it, so a revoked API key, a
//! rotated keyring or an offboarded tenant is in force on every node within
//! `sync_bound_ms` of the commit — even on a node cut off from the database, which stops
//! answering rather than answer from a stale cache. A policy change is in force once the
//! polling node has rebuilt its engine, which it does off the poll path (the poll
//! interval plus the build time; measured in `host/tests/scale_out.rs`).
//!
//! A cache fill races with an invalidation: a request that read the store before a
//! change was applied must not put the old value back. Each fill is made only if no
//! invalidation happened since the request's read began (a generation counter).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lru::LruCache;
use phylax_core::crypto::Keyring;

use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, AppState};
use crate::store::{Change, TenantRow};

/// Entries kept per cache; the least recently used goes first.
const CACHE_ENTRIES: usize = 10_000;

/// Changes read per poll query (a node further behind reads again at once).
const POLL_PAGE: u32 = 1_000;

type Cache<V> = Mutex<LruCache<String, V>>;

fn cache<V>() -> Cache<V> {
    let n = NonZeroUsize::new(CACHE_ENTRIES).unwrap_or(NonZeroUsize::MIN);
    Mutex::new(LruCache::new(n))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The node's caches and its view of the store's change version.
pub struct NodeSync {
    interval: Duration,
    bound: Duration,
    /// The last change version applied.
    version: AtomicU64,
    /// Bumped by every invalidation; a fill started under an older one is dropped.
    generation: AtomicU64,
    /// When the last successful poll started.
    fresh_at: Mutex<Instant>,
    /// One poll at a time (the background poller and `poll_now` after a local write).
    polling: tokio::sync::Mutex<()>,
    /// A background engine rebuild is asked for and has not started reading yet.
    rebuild_pending: AtomicBool,
    /// The store version of the last change that needs a new engine.
    engine_dirty: AtomicU64,
    /// The last background rebuild failed: the next poll asks again.
    rebuild_failed: AtomicBool,
    tenants: Cache<Option<Arc<TenantRow>>>,
    api_keys: Cache<Option<Arc<(String, String)>>>,
    keyrings: Cache<Arc<Keyring>>,
}

impl std::fmt::Debug for NodeSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSync")
            .field("interval", &self.interval)
            .field("bound", &self.bound)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl NodeSync {
    /// Caches that start fresh at change `version` (read before anything was loaded).
    pub fn new(version: u64, interval: Duration, bound: Duration) -> Self {
        Self {
            interval,
            bound,
            version: AtomicU64::new(version),
            generation: AtomicU64::new(0),
            fresh_at: Mutex::new(Instant::now()),
            polling: tokio::sync::Mutex::new(()),
            rebuild_pending: AtomicBool::new(false),
            engine_dirty: AtomicU64::new(0),
            rebuild_failed: AtomicBool::new(false),
            tenants: cache(),
            api_keys: cache(),
            keyrings: cache(),
        }
    }

    /// The propagation bound.
    pub fn bound(&self) -> Duration {
        self.bound
    }

    /// The last change version this node applied.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The store version of the last change seen that needs a new engine (policies,
    /// tenants): an engine built from the store at or after it is current.
    pub fn engine_dirty(&self) -> u64 {
        self.engine_dirty.load(Ordering::Acquire)
    }

    /// 503 `store.stale` when this node has not heard from the store within the bound.
    pub fn check_fresh(&self) -> ApiResult<()> {
        let age = lock(&self.fresh_at).elapsed();
        if age <= self.bound {
            return Ok(());
        }
        let mut e = ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "store.stale",
            format!(
                "this node has not heard from the store for {} ms (bound {} ms)",
                age.as_millis(),
                self.bound.as_millis()
            ),
            "retry shortly; the node answers again once the database is reachable",
        );
        e.retry_after = Some(1);
        Err(e)
    }

    /// Makes sure the caches are current before a request relies on them: within the
    /// bound, at once; past it (a poll delayed by load, or the database away), by
    /// polling now — requests arriving together wait for one poll — for at most the
    /// bound, then 503 `store.stale`. Under load this turns a late poll into latency
    /// instead of errors, and the guarantee holds: a poll that starts after the request
    /// arrived sees every commit before it.
    pub async fn ensure_fresh(&self, state: &Arc<AppState>) -> ApiResult<()> {
        if self.check_fresh().is_ok() {
            return Ok(());
        }
        let asked = Instant::now();
        if let Ok(Ok(rebuild)) =
            tokio::time::timeout(self.bound, self.poll_since(state, asked)).await
        {
            if rebuild {
                self.request_rebuild(state);
            }
        }
        self.check_fresh()
    }

    /// A tenant row (`None`: no such tenant), from the cache or the store. Shared, not
    /// copied: a row carries the keyring's text and is read on every request.
    pub async fn tenant(
        &self,
        state: &Arc<AppState>,
        id: &str,
    ) -> ApiResult<Option<Arc<TenantRow>>> {
        let store = state.store.clone();
        self.cached(&self.tenants, id, move |key| {
            Ok(store.tenant(key)?.map(Arc::new))
        })
        .await
    }

    /// An API key's `(tenant, record JSON)` (`None`: no such key), cached.
    pub async fn api_key(
        &self,
        state: &Arc<AppState>,
        key_id: &str,
    ) -> ApiResult<Option<Arc<(String, String)>>> {
        let store = state.store.clone();
        self.cached(&self.api_keys, key_id, move |key| {
            Ok(store.api_key(key)?.map(Arc::new))
        })
        .await
    }

    /// `cache`'s entry for `key`, or `load`'s answer from the store (kept unless an
    /// invalidation came in while it was read).
    async fn cached<V: Clone + Send + 'static>(
        &self,
        cache: &Cache<V>,
        key: &str,
        load: impl FnOnce(&str) -> ApiResult<V> + Send + 'static,
    ) -> ApiResult<V> {
        if let Some(v) = lock(cache).get(key) {
            return Ok(v.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let owned = key.to_owned();
        let v = blocking(move || load(&owned)).await?;
        self.fill(cache, generation, key, v.clone());
        Ok(v)
    }

    /// A tenant's opened keyring, cached; `open` unwraps it from the row.
    pub async fn keyring(
        &self,
        state: &Arc<AppState>,
        tenant: &str,
        open: impl FnOnce(&TenantRow) -> ApiResult<Keyring>,
    ) -> ApiResult<Arc<Keyring>> {
        if let Some(k) = lock(&self.keyrings).get(tenant) {
            return Ok(k.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        let row = self
            .tenant(state, tenant)
            .await?
            .ok_or_else(|| ApiError::not_found("tenant", tenant))?;
        let keyring = Arc::new(open(&row)?);
        self.fill(&self.keyrings, generation, tenant, keyring.clone());
        Ok(keyring)
    }

    fn fill<V>(&self, cache: &Cache<V>, generation: u64, key: &str, value: V) {
        let mut c = lock(cache);
        // Under the cache lock: an invalidation bumps the generation before it takes
        // the locks, so a fill either lands before it (and is dropped by it) or sees it.
        if self.generation.load(Ordering::Acquire) == generation {
            c.put(key.to_owned(), value);
        }
    }

    /// Drops what `changes` touch; returns whether the engine must be rebuilt.
    fn apply(&self, changes: &[Change]) -> bool {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut rebuild = false;
        let mut tenants = lock(&self.tenants);
        let mut keyrings = lock(&self.keyrings);
        let mut api_keys = lock(&self.api_keys);
        for c in changes {
            match c.kind.as_str() {
                "tenant" | "keyring" => {
                    tenants.pop(&c.subject);
                    keyrings.pop(&c.subject);
                    rebuild |= c.kind == "tenant";
                }
                "api_key" => {
                    api_keys.pop(&c.subject);
                }
                "policies" => rebuild = true,
                _ => {}
            }
        }
        rebuild
    }

    /// Drops every cached entry (a node that fell behind the kept changes).
    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        lock(&self.tenants).clear();
        lock(&self.keyrings).clear();
        lock(&self.api_keys).clear();
    }

    /// Polls the store once and drops what changed; returns whether the engine must be
    /// rebuilt (tenants or policies changed). A local write calls this, then rebuilds,
    /// before it answers ([`AppState::changed`]), so its own node is current at once.
    pub async fn poll_now(&self, state: &Arc<AppState>) -> ApiResult<bool> {
        self.poll_since(state, Instant::now()).await
    }

    /// Polls unless a poll that started at or after `asked` has already completed while
    /// this one waited for its turn.
    async fn poll_since(&self, state: &Arc<AppState>, asked: Instant) -> ApiResult<bool> {
        let _one = self.polling.lock().await;
        if *lock(&self.fresh_at) >= asked {
            return Ok(false);
        }
        let started = Instant::now();
        let mut rebuild = false;
        loop {
            let after = self.version();
            let store = state.store.clone();
            let (now, changes) =
                blocking(move || Ok(store.changes_since(after, POLL_PAGE)?)).await?;
            let gap = changes.first().is_some_and(|c| c.version > after + 1)
                || (changes.is_empty() && now > after);
            if gap {
                tracing::warn!(
                    after,
                    now,
                    "fell behind the kept changes; dropping every cache"
                );
                self.clear();
                rebuild = true;
                self.version.store(now, Ordering::Release);
                self.engine_dirty.fetch_max(now, Ordering::AcqRel);
                break;
            }
            let last = changes.last().map_or(after, |c| c.version);
            if self.apply(&changes) {
                rebuild = true;
                self.engine_dirty.fetch_max(last, Ordering::AcqRel);
            }
            self.version.store(last, Ordering::Release);
            if last >= now {
                break;
            }
        }
        // Credentials, tenants and keyrings are current from here on.
        *lock(&self.fresh_at) = started;
        Ok(rebuild)
    }

    /// Rebuilds the engine in the background, off the poll path, so a slow build (many
    /// tenants) never holds up the next poll and the caches' freshness. Requests while
    /// one is pending coalesce; builds are serialized by [`AppState::rebuild_engine`].
    fn request_rebuild(&self, state: &Arc<AppState>) {
        if self.rebuild_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let state = state.clone();
        tokio::spawn(async move {
            // Cleared before the build reads the store: a change after this point asks
            // for another build.
            state.sync.rebuild_pending.store(false, Ordering::Release);
            if let Err(e) = state.rebuild_engine().await {
                tracing::warn!(code = %e.body.code, "engine rebuild after a change failed; the next change retries");
                // Ask again at the next poll rather than keep a stale engine silently.
                state.sync.rebuild_failed.store(true, Ordering::Release);
            }
        });
    }

    /// The background poller: runs until the process ends.
    pub fn spawn_poller(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(state.sync.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tick.tick().await;
                let polled = state.sync.poll_now(&state).await.map(|rebuild| {
                    rebuild || state.sync.rebuild_failed.swap(false, Ordering::AcqRel)
                });
                if let Ok(true) = polled {
                    state.sync.request_rebuild(&state);
                }
                match polled {
                    Ok(_) if failing => {
                        tracing::info!("store reachable again; caches current");
                        failing = false;
                    }
                    Ok(_) => {}
                    Err(e) if !failing => {
                        tracing::warn!(code = %e.body.code, "change poll failed; serving until the bound, then 503");
                        failing = true;
                    }
                    Err(_) => {}
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    fn change(version: u64, kind: &str, subject: &str) -> Change {
        Change {
            version,
            kind: kind.into(),
            subject: subject.into(),
        }
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let s = NodeSync::new(0, Duration::from_millis(100), Duration::from_secs(1));
        let before = s.generation.load(Ordering::Acquire);
        // The change lands between the store read and the fill.
        s.apply(&[change(1, "api_key", "k1")]);
        s.fill(
            &s.api_keys,
            before,
            "k1",
            Some(Arc::new(("t".into(), "old".into()))),
        );
        assert!(lock(&s.api_keys).get("k1").is_none());
        // A fill after it is kept, and the next change drops it.
        let now = s.generation.load(Ordering::Acquire);
        s.fill(
            &s.api_keys,
            now,
            "k1",
            Some(Arc::new(("t".into(), "new".into()))),
        );
        assert!(lock(&s.api_keys).get("k1").is_some());
        assert!(!s.apply(&[change(2, "api_key", "k1")]));
        assert!(lock(&s.api_keys).get("k1").is_none());
    }

    #[test]
    fn tenants_and_policies_rebuild_the_engine_keyrings_do_not() {
        let s = NodeSync::new(0, Duration::from_millis(100), Duration::from_secs(1));
        assert!(!s.apply(&[change(1, "keyring", "a")]));
        assert!(s.apply(&[change(2, "tenant", "a")]));
        assert!(s.apply(&[change(3, "policies", "a")]));
        assert!(!s.apply(&[change(4, "setting", "x")]));
    }

    #[test]
    fn stale_past_the_bound() {
        let s = NodeSync::new(0, Duration::from_millis(10), Duration::from_millis(20));
        assert!(s.check_fresh().is_ok());
        *lock(&s.fresh_at) = Instant::now() - Duration::from_millis(50);
        let e = s.check_fresh().unwrap_err();
        assert_eq!(e.body.code, "store.stale");
        assert_eq!(e.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
    }
}
