//! Where the server keeps its state, behind a trait so a PostgreSQL backend can follow
//! the embedded SQLite one (DESIGN.md §4: many stateless `phylax` nodes, one database).
//!
//! The trait is synchronous: the server calls it from `tokio::task::spawn_blocking`.
//! Every write method is one transaction and returns only after it is durable, so an
//! acknowledged audit event survives a crash of the process or the machine.
//!
//! What is stored is never secret: keyrings hold wrapped keys only, API keys only their
//! hashes (`ApiKeyRecord`), the admin token only its SHA-256.

pub mod postgres;
pub mod sqlite;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A store failure (I/O, corruption, a constraint the caller did not expect, or the
/// database out of reach).
#[derive(Debug, thiserror::Error)]
#[error("store: {message}")]
pub struct StoreError {
    /// What went wrong (never a password or a secret).
    pub message: String,
    /// The database could not be reached (connect, pool or I/O failure): 503, retryable.
    pub unavailable: bool,
}

impl StoreError {
    /// A failure of the store itself.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unavailable: false,
        }
    }

    /// The database is out of reach.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            unavailable: true,
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A tenant row.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantRow {
    /// Tenant id.
    pub id: String,
    /// Creation time, unix seconds.
    pub created_at: u64,
    /// When its keys were destroyed (shredded).
    pub deleted_at: Option<u64>,
    /// `KeyringState` JSON (wrapped keys only).
    pub keyring: String,
    /// Where it stands in its lifecycle, and its retention settings.
    pub life: Lifecycle,
}

impl TenantRow {
    /// A new active tenant with the default retention settings.
    pub fn new(id: &str, created_at: u64, keyring: String) -> Self {
        Self {
            id: id.to_owned(),
            created_at,
            deleted_at: None,
            keyring,
            life: Lifecycle::default(),
        }
    }
}

impl fmt::Debug for TenantRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantRow")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .field("deleted_at", &self.deleted_at)
            .field("life", &self.life)
            .finish_non_exhaustive()
    }
}

/// A tenant's lifecycle state (`crate::lifecycle`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TenantState {
    /// In use.
    Active,
    /// In its export window: reads and exports allowed, writes refused; shredded when
    /// the window ends unless cancelled.
    Offboarding,
    /// Keys destroyed: every ciphertext fails with `crypto.key_destroyed`.
    Shredded,
}

impl TenantState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Offboarding => "offboarding",
            Self::Shredded => "shredded",
        }
    }

    /// From the stored text.
    pub fn parse(text: &str) -> StoreResult<Self> {
        match text {
            "active" => Ok(Self::Active),
            "offboarding" => Ok(Self::Offboarding),
            "shredded" => Ok(Self::Shredded),
            other => Err(StoreError::new(format!("unknown tenant state `{other}`"))),
        }
    }
}

/// Default audit retention: seven years (2,557 days).
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 2557;
/// Default export window after offboarding starts: 90 days.
pub const DEFAULT_EXPORT_WINDOW_DAYS: u32 = 90;

/// A tenant's lifecycle columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    /// The state.
    pub state: TenantState,
    /// When offboarding started, while offboarding.
    pub offboarding_since: Option<u64>,
    /// When the export window ends and the keys are destroyed, while offboarding.
    pub shred_due_at: Option<u64>,
    /// Audit events older than this many days are pruned.
    pub audit_retention_days: u32,
    /// Days between the start of offboarding and the shred.
    pub export_window_days: u32,
    /// The signed record of the last prune (`PruneRecord` JSON), if any.
    pub audit_prune: Option<String>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            state: TenantState::Active,
            offboarding_since: None,
            shred_due_at: None,
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
            export_window_days: DEFAULT_EXPORT_WINDOW_DAYS,
            audit_prune: None,
        }
    }
}

/// A lifecycle transition, applied by [`Store::transition_tenant`] only if the tenant
/// is still in state `from` (and, for a due shred, its window has ended by `due_by`):
/// the compare-and-set that lets exactly one node perform it.
#[derive(Debug)]
pub struct Transition<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The state it must be in.
    pub from: TenantState,
    /// When set, `shred_due_at` must be at or before this time.
    pub due_by: Option<u64>,
    /// The new state.
    pub to: TenantState,
    /// The new `offboarding_since`.
    pub offboarding_since: Option<u64>,
    /// The new `shred_due_at`.
    pub shred_due_at: Option<u64>,
    /// Sets `deleted_at` (a shred).
    pub deleted_at: Option<u64>,
    /// Replaces the keyring (the destroyed one, for a shred).
    pub keyring: Option<&'a str>,
    /// API key records to save (revoked ones, for a shred).
    pub revoked_keys: &'a [(String, String)],
}

/// The columns of `SELECT`s that read a whole tenant row, in [`tenant_row`]'s order.
pub(crate) const TENANT_COLUMNS: &str = "id, created_at, deleted_at, keyring, state, offboarding_since, shred_due_at, audit_retention_days, export_window_days, audit_prune";

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

/// One change to shared state, as every node's poller sees it (`crate::sync`). Every
/// write method records its changes in its own transaction, under one store-wide
/// version counter, so they become visible in version order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Position in the store's change order, from 1.
    pub version: u64,
    /// What changed: `tenant` (created, offboarded or copied), `keyring` (rotated),
    /// `policies`, `api_key` or `setting`.
    pub kind: String,
    /// Which one: the tenant id, key id or setting name.
    pub subject: String,
}

/// Changes kept for pollers; a node further behind than this starts from a clean cache.
pub const CHANGES_KEPT: u64 = 10_000;

/// What an audit query selects: each filter exact (the time range inclusive), all
/// combined with AND, run by the database over the indexed columns of
/// `migrations/*audit_filters.sql`. The default selects every record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// `event.actor.id`.
    pub actor: Option<String>,
    /// `event.actor.role`.
    pub role: Option<String>,
    /// `event.actor.sourceIp`.
    pub source_ip: Option<String>,
    /// `event.action` (`view`, `update`, ...).
    pub action: Option<String>,
    /// `event.operation`.
    pub operation: Option<String>,
    /// `event.outcome` (`success`, `failure`, `denied`).
    pub outcome: Option<String>,
    /// `event.record.type`.
    pub record_type: Option<String>,
    /// `event.record.id`.
    pub record_id: Option<String>,
    /// `event.time` at or after, unix seconds.
    pub from: Option<u64>,
    /// `event.time` at or before, unix seconds.
    pub to: Option<u64>,
}

/// Where an audit page starts, which also orders it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditCursor {
    /// Oldest first, records with `seq > n` (0: from the start).
    After(u64),
    /// Newest first, records with `seq < n` (`None`: from the head).
    Before(Option<u64>),
}

/// A value bound into an audit query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SqlValue {
    /// A text parameter.
    Text(String),
    /// An integer parameter.
    Int(i64),
}

impl AuditFilter {
    /// The index that serves this filter, and its column: the filter most likely to be
    /// selective first (`None`: the primary key, in sequence order). Each index ends in
    /// `seq`, so the page is one range scan of it in order. The choice is made here, not
    /// by a planner: SQLite without statistics would walk the primary key and filter,
    /// and PostgreSQL right after a bulk append may pick a low-cardinality column.
    pub fn index(&self) -> Option<(&'static str, &'static str)> {
        [
            (self.record_id.is_some(), "audit_by_record", "record_id"),
            (self.actor.is_some(), "audit_by_actor", "actor_id"),
            (self.source_ip.is_some(), "audit_by_source_ip", "source_ip"),
            (self.operation.is_some(), "audit_by_operation", "operation"),
            (self.outcome.is_some(), "audit_by_outcome", "outcome"),
            (self.role.is_some(), "audit_by_role", "actor_role"),
            (self.action.is_some(), "audit_by_action", "action"),
        ]
        .into_iter()
        .find_map(|(set, index, column)| set.then_some((index, column)))
    }

    /// The query for one page of `tenant`'s records: `SELECT seq, record ...`, with
    /// `hint(index)` after the table name wherever an index is meant to serve
    /// (SQLite: ` INDEXED BY index`), placeholders from `placeholder(n)` (1-based),
    /// and the values to bind in order. With `only_chosen_index` (PostgreSQL, which has
    /// no index hints), every filter but the one [`AuditFilter::index`] chose compares
    /// an expression (`col || ''`, `event_time + 0`), which no other index serves. Only
    /// column names written here reach the text; every value is bound.
    pub fn page_query(
        &self,
        tenant: &str,
        cursor: AuditCursor,
        limit: u32,
        hint: impl Fn(&'static str) -> String,
        only_chosen_index: bool,
        placeholder: impl Fn(usize) -> String,
    ) -> (String, Vec<SqlValue>) {
        let index = self.index();
        let chosen = index.map(|(_, column)| column);
        let wrap = only_chosen_index && chosen.is_some();
        let mut values = Vec::new();
        // Binds a value: its placeholder.
        let mut bind = |value: SqlValue| {
            values.push(value);
            placeholder(values.len())
        };
        let int = |v: u64| SqlValue::Int(i64::try_from(v).unwrap_or(i64::MAX));
        let mut clauses = vec![format!(
            "tenant = {}",
            bind(SqlValue::Text(tenant.to_owned()))
        )];
        let texts = [
            ("actor_id", &self.actor),
            ("actor_role", &self.role),
            ("source_ip", &self.source_ip),
            ("action", &self.action),
            ("operation", &self.operation),
            ("outcome", &self.outcome),
            ("record_type", &self.record_type),
            ("record_id", &self.record_id),
        ];
        for (column, value) in texts {
            if let Some(v) = value {
                let p = bind(SqlValue::Text(v.clone()));
                clauses.push(if wrap && chosen != Some(column) {
                    format!("({column} || '') = {p}")
                } else {
                    format!("{column} = {p}")
                });
            }
        }
        let time = if wrap { "event_time + 0" } else { "event_time" };
        let mut range = Vec::new();
        if let Some(from) = self.from {
            range.push((">=", from));
        }
        if let Some(to) = self.to {
            range.push(("<=", to));
        }
        for (op, v) in &range {
            clauses.push(format!("{time} {op} {}", bind(int(*v))));
        }
        if chosen.is_none() && !range.is_empty() && matches!(cursor, AuditCursor::Before(_)) {
            // A time range alone, newest first: the sequence numbers it spans, read
            // from the time index (covering: no record is read), bound the walk of the
            // primary key, so a range far back in the chain is not reached by walking
            // from the head. It costs a scan of the range's index entries per page; an
            // oldest-first walk (the export) goes without it, each page starting where
            // the last ended.
            for (agg, cmp) in [("MIN", ">="), ("MAX", "<=")] {
                let mut sub = format!(
                    "seq {cmp} (SELECT {agg}(seq) FROM audit_records{} WHERE tenant = {}",
                    hint("audit_by_time"),
                    bind(SqlValue::Text(tenant.to_owned()))
                );
                for (op, v) in &range {
                    sub.push_str(&format!(" AND event_time {op} {}", bind(int(*v))));
                }
                sub.push(')');
                clauses.push(sub);
            }
        }
        let order = match cursor {
            AuditCursor::After(after) => {
                clauses.push(format!("seq > {}", bind(int(after))));
                "ASC"
            }
            AuditCursor::Before(before) => {
                if let Some(before) = before {
                    clauses.push(format!("seq < {}", bind(int(before))));
                }
                "DESC"
            }
        };
        let limit = bind(SqlValue::Int(i64::from(limit)));
        let sql = format!(
            "SELECT seq, record FROM audit_records{} WHERE {} ORDER BY seq {order} LIMIT {limit}",
            index.map(|(name, _)| hint(name)).unwrap_or_default(),
            clauses.join(" AND "),
        );
        (sql, values)
    }
}

/// What [`Store::append_audit_locked`] asks of its caller for one tenant: given the
/// chain's committed head (its last `(seq, record JSON)`, `None` for an empty chain),
/// the records to append after it.
pub type ChainBuilder<'a> = dyn FnMut(&str, Option<(u64, String)>) -> Vec<(u64, String)> + 'a;

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
    /// Replaces a live tenant's keyring (after a rotation) if it is still `expected`:
    /// `false` when another writer changed it first, or offboarded the tenant (a
    /// rotation read before an offboarding must never bring its keys back).
    fn update_keyring(&self, id: &str, expected: &str, keyring: &str) -> StoreResult<bool>;
    /// Applies a lifecycle transition and appends its audit record (`build` is asked
    /// for it, given the chain's head) in one transaction: `false`, with nothing
    /// written, when the tenant is no longer in `from` (or not yet due). A transition
    /// whose audit record cannot be built is not applied. After a shred on SQLite the
    /// WAL is checkpointed and truncated, so no copy of the old keyring is left in it.
    fn transition_tenant(
        &self,
        t: &Transition<'_>,
        build: &mut ChainBuilder<'_>,
    ) -> StoreResult<bool>;
    /// Sets an active tenant's retention settings: `false` when it is not active.
    fn put_tenant_settings(
        &self,
        id: &str,
        audit_retention_days: u32,
        export_window_days: u32,
    ) -> StoreResult<bool>;
    /// Prunes a tenant's chain before `first_kept` in one transaction, if its stored
    /// prune record is still `expected`: saves the new signed `prune` record, appends
    /// the prune's own audit record (after the head, which may itself be pruned), and
    /// deletes the records before `first_kept`.
    /// `false` (nothing written) when another node pruned first.
    fn prune_audit(
        &self,
        tenant: &str,
        expected: Option<&str>,
        prune: &str,
        first_kept: u64,
        build: &mut ChainBuilder<'_>,
    ) -> StoreResult<bool>;

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
    /// Replaces API key records in one transaction if the record of `key_id` is still
    /// `expected`: `false` (nothing written) when another writer changed it first, so a
    /// rotation read before a revocation cannot undo it.
    fn swap_api_keys(
        &self,
        tenant: &str,
        key_id: &str,
        expected: &str,
        records: &[(String, String)],
    ) -> StoreResult<bool>;
    /// One API key record by key id.
    fn api_key(&self, key_id: &str) -> StoreResult<Option<(String, String)>>;
    /// A tenant's API key records.
    fn api_keys(&self, tenant: &str) -> StoreResult<Vec<String>>;

    /// The last record of a tenant's audit chain (`AuditRecord` JSON).
    fn last_audit(&self, tenant: &str) -> StoreResult<Option<String>>;
    /// Appends records `(seq, AuditRecord JSON)` to a tenant's chain, durably, in one
    /// transaction, and moves its head. Fails if a sequence number is taken.
    fn append_audit(&self, tenant: &str, records: &[(u64, String)]) -> StoreResult<()>;
    /// The group commit: in one transaction, for each of `tenants` (in this order, which
    /// callers keep sorted so writers never deadlock), locks the chain's head row so no
    /// other writer on any node can append to it, asks `build` for the records that
    /// follow the committed head, inserts them and moves the head. One commit, one
    /// fsync, for the whole batch. Any failure rolls all of it back.
    fn append_audit_locked(
        &self,
        tenants: &[String],
        build: &mut ChainBuilder<'_>,
    ) -> StoreResult<()>;
    /// Records with `seq > after`, at most `limit`, in order.
    fn audit_page(&self, tenant: &str, after: u64, limit: u32) -> StoreResult<Vec<(u64, String)>> {
        self.audit_search(
            tenant,
            &AuditFilter::default(),
            AuditCursor::After(after),
            limit,
        )
    }
    /// At most `limit` records of the chain that match `filter`, from `cursor` in its
    /// order, as `(seq, AuditRecord JSON)`.
    fn audit_search(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        cursor: AuditCursor,
        limit: u32,
    ) -> StoreResult<Vec<(u64, String)>>;

    /// A server setting.
    fn setting(&self, name: &str) -> StoreResult<Option<String>>;
    /// Sets a server setting.
    fn put_setting(&self, name: &str, value: &str) -> StoreResult<()>;
    /// Every server setting, by name.
    fn settings(&self) -> StoreResult<Vec<(String, String)>>;

    /// The store's change version now, and up to `limit` changes after `after`, in
    /// order. The caller detects a gap (changes pruned) by the first version.
    fn changes_since(&self, after: u64, limit: u32) -> StoreResult<(u64, Vec<Change>)>;

    /// Copies a tenant row as it is (`phylax store copy`); an existing row is replaced.
    fn put_tenant_row(&self, row: &TenantRow) -> StoreResult<()>;
    /// Copies a policy version as it is; an existing version is left alone.
    fn put_policy_row(&self, row: &PolicyRow) -> StoreResult<()>;
    /// Which backend this is, for logs and `/readyz`: `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
}

/// Opens the store a URL names: `postgres://…` (or `postgresql://…`) for PostgreSQL,
/// `sqlite:PATH` for a SQLite file, nothing for `phylax.db` in the data dir.
pub fn open(url: Option<&str>, data_dir: &Path, pool_size: usize) -> StoreResult<Arc<dyn Store>> {
    match url.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(Arc::new(sqlite::SqliteStore::open_dir(data_dir)?)),
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Arc::new(postgres::PgStore::connect(u, pool_size)?))
        }
        Some(u) => match u.strip_prefix("sqlite:") {
            Some(path) => {
                let path = path.strip_prefix("//").unwrap_or(path);
                Ok(Arc::new(sqlite::SqliteStore::open(Path::new(path))?))
            }
            None => Err(StoreError::new(format!(
                "unknown store URL `{}`: use postgres://... or sqlite:PATH",
                redact_url(u)
            ))),
        },
    }
}

/// A store URL with its password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            // A password in the query string (`?password=`) is hidden too.
            let tail = hide_query_password(tail);
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => format!("{scheme}://{authority}{}", hide_query_password(tail)),
    }
}

fn hide_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}
