//! The server's shared state: the store, the keys, the engine, the keyring cache.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use phylax_core::crypto::{Keyring, RootKey, RootKeys};
use phylax_core::identity::JwtVerifier;
use phylax_core::policy::{BundleSigningKey, PolicyFile};
use serde_json::Value;

use crate::audit_log::AuditLog;
use crate::config::Config;
use crate::engine::{spec_for, EngineCell, EngineFactory};
use crate::error::{ApiError, ApiResult};
use crate::failed_auth::FailedAuth;
use crate::metrics::Metrics;
use crate::node_sync::NodeSync;
use crate::rate_limit::Limiter;
use crate::store::{Store, TenantRow};

/// Everything a handler needs.
#[derive(Debug)]
pub struct AppState {
    /// Resolved configuration.
    pub config: Config,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The root keys (the current one first; older ones during a root-key rotation).
    pub root: RootKeys,
    /// The engine in use.
    pub engine: EngineCell,
    /// Builds engines (native or wasm).
    pub factory: EngineFactory,
    /// Extra base entities from the config.
    pub extra_entities: Vec<Value>,
    /// Cached tenants, API keys and keyrings, and the change poller's view.
    pub sync: NodeSync,
    /// The audit writer.
    pub audit: AuditLog,
    /// SHA-256 of the admin token.
    pub admin_token_hash: [u8; 32],
    /// Rate limiter.
    pub limiter: Limiter,
    /// Failed authentications: the per-address throttle and the audit summaries.
    pub failed_auth: FailedAuth,
    /// Metrics.
    pub metrics: Metrics,
    /// Signs bundles.
    pub signing_key: BundleSigningKey,
    /// Verifies user JWTs, when configured.
    pub jwt: Option<JwtVerifier>,
    /// Serializes control-plane writes (tenant create/offboard, policies, rotation).
    pub admin_lock: tokio::sync::Mutex<()>,
    /// One engine build at a time, each reading the store after the one before it
    /// installed its engine, so an older build never replaces a newer one.
    rebuild_lock: tokio::sync::Mutex<()>,
    /// The store version the installed engine was built at (or after).
    engine_built: std::sync::atomic::AtomicU64,
}

/// Unix seconds now.
///
/// In debug builds only (the test suite's), `PHYLAX_TEST_CLOCK_FILE` names a file
/// holding a number of seconds added to the system clock, so lifecycle tests can move a
/// running server days ahead without sleeping. A release build has no such hook.
pub fn now() -> u64 {
    let system = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    system.saturating_add(test_clock_offset())
}

#[cfg(debug_assertions)]
fn test_clock_offset() -> u64 {
    static FILE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| std::env::var_os("PHYLAX_TEST_CLOCK_FILE").map(Into::into))
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(not(debug_assertions))]
fn test_clock_offset() -> u64 {
    0
}

/// Runs blocking store work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// The parts [`AppState::new`] takes.
#[derive(Debug)]
pub struct StateParts {
    /// Resolved configuration.
    pub config: Config,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The root keys (the current one first; older ones during a root-key rotation).
    pub root: RootKeys,
    /// The audit writer.
    pub audit: AuditLog,
    /// SHA-256 of the admin token.
    pub admin_token_hash: [u8; 32],
    /// Signs bundles.
    pub signing_key: BundleSigningKey,
    /// Verifies user JWTs.
    pub jwt: Option<JwtVerifier>,
    /// Extra base entities.
    pub extra_entities: Vec<Value>,
    /// The store's change version, read before anything was loaded from it.
    pub sync_version: u64,
}

impl AppState {
    /// Builds the state and the first engine from the store.
    pub fn new(parts: StateParts, factory: EngineFactory) -> Result<Self, String> {
        let engine = build_engine(&*parts.store, &factory, &parts.extra_entities)
            .map_err(|e| format!("building the engine: {}", e.body.message))?;
        let limiter = Limiter::new(
            parts.config.rate_limit_per_second,
            parts.config.rate_limit_burst,
        );
        let failed_auth = FailedAuth::new(
            parts.config.auth_failures_per_second,
            parts.config.auth_failure_burst,
        );
        let sync = NodeSync::new(
            parts.sync_version,
            Duration::from_millis(parts.config.sync_interval_ms),
            Duration::from_millis(parts.config.sync_bound_ms),
        );
        Ok(Self {
            sync,
            failed_auth,
            config: parts.config,
            store: parts.store,
            root: parts.root,
            engine: EngineCell::new(engine),
            factory,
            extra_entities: parts.extra_entities,
            audit: parts.audit,
            admin_token_hash: parts.admin_token_hash,
            limiter,
            metrics: Metrics::default(),
            signing_key: parts.signing_key,
            jwt: parts.jwt,
            admin_lock: tokio::sync::Mutex::new(()),
            rebuild_lock: tokio::sync::Mutex::new(()),
            engine_built: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Rebuilds the engine from the store (after tenants or policies changed).
    pub async fn rebuild_engine(self: &Arc<Self>) -> ApiResult<()> {
        self.rebuild_engine_unless(|| false).await
    }

    /// Rebuilds the engine, unless `current()` says, once the build lock is held (after
    /// any build in progress), that the installed engine will do.
    async fn rebuild_engine_unless(
        self: &Arc<Self>,
        current: impl FnOnce() -> bool,
    ) -> ApiResult<()> {
        let _one = self.rebuild_lock.lock().await;
        if current() {
            return Ok(());
        }
        // Read before the store is: the engine holds at least what that version says.
        let version = self.sync.version();
        let state = self.clone();
        let engine =
            blocking(move || build_engine(&*state.store, &state.factory, &state.extra_entities))
                .await?;
        self.engine.replace(engine);
        self.engine_built
            .fetch_max(version, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    /// A tenant row (cached), or 404.
    pub async fn tenant(self: &Arc<Self>, id: &str) -> ApiResult<Arc<TenantRow>> {
        self.sync
            .tenant(self, id)
            .await?
            .ok_or_else(|| ApiError::not_found("tenant", id))
    }

    /// A tenant row read from the store now (for read-modify-write), or 404.
    pub async fn tenant_from_store(self: &Arc<Self>, id: &str) -> ApiResult<TenantRow> {
        let store = self.store.clone();
        let key = id.to_owned();
        blocking(move || Ok(store.tenant(&key)?))
            .await?
            .ok_or_else(|| ApiError::not_found("tenant", id))
    }

    /// A tenant's opened keyring (cached).
    pub async fn keyring(self: &Arc<Self>, tenant: &str) -> ApiResult<Arc<Keyring>> {
        self.sync
            .keyring(self, tenant, |row| {
                Keyring::open_json_with(&row.keyring, &self.root)
                    .map_err(|e| ApiError::from_diagnostic(&e))
            })
            .await
    }

    /// The root key that wrapped `keyring` (so a rotation wraps its new version under
    /// the same one; `phylax keys rotate-root` moves whole keyrings).
    pub fn root_of(&self, keyring: &Keyring) -> &RootKey {
        keyring
            .state()
            .root_key_id
            .as_deref()
            .and_then(|id| self.root.get(id))
            .unwrap_or(self.root.current())
    }

    /// Applies the change this node just committed (and any other node's) before the
    /// caller answers: caches dropped, the engine rebuilt when tenants or policies
    /// changed.
    pub async fn changed(self: &Arc<Self>) -> ApiResult<()> {
        self.sync.poll_now(self).await?;
        // The background poller may have seen this write first and be rebuilding: wait
        // for an engine built at or after the write, whoever builds it.
        let current = || {
            self.engine_built.load(std::sync::atomic::Ordering::Acquire) >= self.sync.engine_dirty()
        };
        if !current() {
            self.rebuild_engine_unless(current).await?;
        }
        Ok(())
    }
}

/// Builds the engine for the store's live tenants and their current policies.
pub fn build_engine(
    store: &dyn Store,
    factory: &EngineFactory,
    extra: &[Value],
) -> ApiResult<Arc<dyn crate::engine::DecisionEngine>> {
    let tenants: Vec<String> = store
        .tenants()?
        .into_iter()
        .filter(|t| t.deleted_at.is_none())
        .map(|t| t.id)
        .collect();
    let mut policies = BTreeMap::new();
    for row in store.current_policies()? {
        let files: Vec<PolicyFile> =
            serde_json::from_str(&row.files).map_err(ApiError::internal)?;
        policies.insert(row.tenant, files);
    }
    let spec = spec_for(&tenants, policies, extra).map_err(|e| ApiError::from_diagnostic(&e))?;
    factory.build(&spec).map_err(ApiError::from_body)
}
