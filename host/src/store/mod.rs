//! Where the server keeps its state, behind a trait so a PostgreSQL backend can follow
//! the embedded SQLite one (DESIGN.md §4: many stateless `phylax` nodes, one database).
//!
//! The trait is synchronous: the server calls it from `tokio::task::spawn_blocking`.
//! Every write method is one transaction and returns only after it is durable, so an
//! acknowledged audit event survives a crash of the process or the machine.
//!
//! What is stored is never secret: keyrings hold wrapped keys only, API keys only their
//! hashes (`ApiKeyRecord`), the admin token only its SHA-256.

pub mod sqlite;

use std::fmt;

/// A store failure (I/O, corruption, a constraint the caller did not expect).
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A tenant row.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantRow {
    /// Tenant id.
    pub id: String,
    /// Creation time, unix seconds.
    pub created_at: u64,
    /// Offboarding time, when offboarded.
    pub deleted_at: Option<u64>,
    /// `KeyringState` JSON (wrapped keys only).
    pub keyring: String,
}

impl fmt::Debug for TenantRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantRow")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .field("deleted_at", &self.deleted_at)
            .finish_non_exhaustive()
    }
}

/// One stored version of a tenant's policies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRow {
    /// Tenant id.
    pub tenant: String,
    /// Version, from 1.
    pub version: u32,
    /// When it was stored, unix seconds.
    pub created_at: u64,
    /// JSON array of `{name, text}` policy files.
    pub files: String,
}

/// The server's state store.
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// Checks the store answers (for `/readyz`).
    fn ping(&self) -> StoreResult<()>;

    /// Inserts a tenant; `false` when the id is taken.
    fn create_tenant(&self, row: &TenantRow) -> StoreResult<bool>;
    /// One tenant.
    fn tenant(&self, id: &str) -> StoreResult<Option<TenantRow>>;
    /// Every tenant, offboarded ones included, by id.
    fn tenants(&self) -> StoreResult<Vec<TenantRow>>;
    /// Replaces a tenant's keyring (after a rotation).
    fn update_keyring(&self, id: &str, keyring: &str) -> StoreResult<()>;
    /// Offboards a tenant in one transaction: saves the destroyed keyring, sets
    /// `deleted_at`, and saves the given (revoked) API key records.
    fn offboard_tenant(
        &self,
        id: &str,
        keyring: &str,
        at: u64,
        revoked_keys: &[(String, String)],
    ) -> StoreResult<()>;

    /// Stores a new version of a tenant's policies and returns its number.
    fn put_policies(&self, tenant: &str, files: &str, at: u64) -> StoreResult<u32>;
    /// One version (the newest when `version` is `None`).
    fn policies(&self, tenant: &str, version: Option<u32>) -> StoreResult<Option<PolicyRow>>;
    /// Every version of a tenant's policies, oldest first.
    fn policy_versions(&self, tenant: &str) -> StoreResult<Vec<PolicyRow>>;
    /// The newest version of every tenant's policies.
    fn current_policies(&self) -> StoreResult<Vec<PolicyRow>>;

    /// Inserts or replaces an API key record (`ApiKeyRecord` JSON).
    fn put_api_keys(&self, tenant: &str, records: &[(String, String)]) -> StoreResult<()>;
    /// One API key record by key id.
    fn api_key(&self, key_id: &str) -> StoreResult<Option<(String, String)>>;
    /// A tenant's API key records.
    fn api_keys(&self, tenant: &str) -> StoreResult<Vec<String>>;

    /// The last record of a tenant's audit chain (`AuditRecord` JSON).
    fn last_audit(&self, tenant: &str) -> StoreResult<Option<String>>;
    /// Appends records `(seq, AuditRecord JSON)` to a tenant's chain, durably, in one
    /// transaction. Fails if a sequence number is taken.
    fn append_audit(&self, tenant: &str, records: &[(u64, String)]) -> StoreResult<()>;
    /// Records with `seq > after`, at most `limit`, in order.
    fn audit_page(&self, tenant: &str, after: u64, limit: u32) -> StoreResult<Vec<(u64, String)>>;

    /// A server setting.
    fn setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Sets a server setting.
    fn put_setting(&self, name: &str, value: &str) -> StoreResult<()>;
}
