//! The embedded store: one SQLite file (`phylax.db` in the data dir), WAL mode.
//!
//! Durability: `journal_mode=WAL` with `synchronous=FULL`, so every committed
//! transaction is fsynced before `COMMIT` returns. NORMAL would be faster but may lose
//! the last transactions on power loss, and the server promises that an acknowledged
//! audit event is durable. One connection behind a mutex: SQLite serializes writers
//! anyway, and the server calls the store from `spawn_blocking`.
//!
//! Migrations are the numbered files in `host/migrations/`, compiled in and applied in
//! order; `PRAGMA user_version` records the last one applied.
//!
//! Writes take the database's write lock at `BEGIN IMMEDIATE`, so an audit append reads
//! its chain head under the same lock it commits with, even if a second process opened
//! the file.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    AuditCursor, AuditFilter, ChainBuilder, Change, Lifecycle, PolicyRow, SqlValue, Store,
    StoreError, StoreResult, TenantRow, TenantState, Transition, TENANT_COLUMNS,
};

/// The migrations, in order. Never edit an applied one: add a new file.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    (
        "0002_scale_out",
        include_str!("../../migrations/0002_scale_out.sql"),
    ),
    (
        "0003_lifecycle",
        include_str!("../../migrations/0003_lifecycle.sql"),
    ),
    (
        "0004_audit_filters",
        include_str!("../../migrations/0004_audit_filters.sql"),
    ),
];

/// File name of the database in the data dir.
pub const DB_FILE: &str = "phylax.db";

/// SQLite-backed [`Store`].
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e.to_string())
}

/// Bumps the store version and records one change, inside the caller's transaction.
fn record_change(tx: &rusqlite::Transaction<'_>, kind: &str, subject: &str) -> StoreResult<()> {
    let version: i64 = tx
        .query_row(
            "UPDATE store_version SET version = version + 1 WHERE id = 1 RETURNING version",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    tx.execute(
        "INSERT INTO changes (version, kind, subject) VALUES (?1, ?2, ?3)",
        params![version, kind, subject],
    )
    .map_err(err)?;
    let kept = i64::try_from(super::CHANGES_KEPT).unwrap_or(i64::MAX);
    if version % 1000 == 0 {
        tx.execute(
            "DELETE FROM changes WHERE version <= ?1",
            params![version - kept],
        )
        .map_err(err)?;
    }
    Ok(())
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `dir` and applies pending migrations.
    pub fn open_dir(dir: &Path) -> StoreResult<Self> {
        Self::open(&dir.join(DB_FILE))
    }

    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        // Deleted and overwritten content (a shredded tenant's wrapped keys) is zeroed
        // in the file, not left in free space.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied
        // (SQLite rolls it back), so a poisoned lock is safe to reuse.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An audit page's query: the filter's index named (`INDEXED BY`), as SQLite without
/// statistics would otherwise walk the primary key.
fn search_query(
    tenant: &str,
    filter: &AuditFilter,
    cursor: AuditCursor,
    limit: u32,
) -> (String, Vec<SqlValue>) {
    filter.page_query(
        tenant,
        cursor,
        limit,
        |index| format!(" INDEXED BY {index}"),
        false,
        |n| format!("?{n}"),
    )
}

/// Applies the migrations newer than `PRAGMA user_version`.
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
        let number = i64::try_from(i + 1).unwrap_or(i64::MAX);
        if number <= applied {
            continue;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::new(format!("migration {name}: {e}")))?;
        tx.pragma_update(None, "user_version", number)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}

fn tenant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TenantRow> {
    let state: String = r.get(4)?;
    let state = TenantState::parse(&state).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
    })?;
    let days = |i: usize| -> rusqlite::Result<u32> {
        Ok(u32::try_from(r.get::<_, i64>(i)?).unwrap_or(u32::MAX))
    };
    Ok(TenantRow {
        id: r.get(0)?,
        created_at: to_u64(r.get(1)?),
        deleted_at: r.get::<_, Option<i64>>(2)?.map(to_u64),
        keyring: r.get(3)?,
        life: Lifecycle {
            state,
            offboarding_since: r.get::<_, Option<i64>>(5)?.map(to_u64),
            shred_due_at: r.get::<_, Option<i64>>(6)?.map(to_u64),
            audit_retention_days: days(7)?,
            export_window_days: days(8)?,
            audit_prune: r.get(9)?,
        },
    })
}

/// The head of a tenant's chain inside a write transaction: its seq and record.
fn chain_head(tx: &rusqlite::Transaction<'_>, tenant: &str) -> StoreResult<Option<(u64, String)>> {
    tx.prepare_cached(
        "SELECT h.seq, r.record FROM audit_heads h
         JOIN audit_records r ON r.tenant = h.tenant AND r.seq = h.seq
         WHERE h.tenant = ?1",
    )
    .and_then(|mut st| {
        st.query_row(params![tenant], |r| Ok((to_u64(r.get(0)?), r.get(1)?)))
            .optional()
    })
    .map_err(err)
}

/// Appends the one-tenant audit record(s) `build` makes, inside a write transaction;
/// fails (so the caller's transaction rolls back) when it makes none.
fn append_required(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    build: &mut ChainBuilder<'_>,
) -> StoreResult<()> {
    let head = chain_head(tx, tenant)?;
    let records = build(tenant, head);
    if records.is_empty() {
        return Err(StoreError::new(
            "the audit record of a tenant change could not be built; nothing was changed",
        ));
    }
    insert_records(tx, tenant, &records)
}

/// Copies the WAL into the database and truncates it, so earlier page images (a shredded
/// tenant's wrapped keys) are gone from the data dir; `secure_delete` zeroed the old
/// pages in the database file itself.
fn checkpoint_truncate(conn: &Connection) -> StoreResult<()> {
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .map_err(err)?;
    if busy == 0 {
        Ok(())
    } else {
        Err(StoreError::new(
            "the WAL could not be checkpointed after a shred (another reader holds it); the shred is committed, run it again",
        ))
    }
}

fn policy_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PolicyRow> {
    Ok(PolicyRow {
        tenant: r.get(0)?,
        version: u32::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
        created_at: to_u64(r.get(2)?),
        files: r.get(3)?,
    })
}

impl Store for SqliteStore {
    fn ping(&self) -> StoreResult<()> {
        self.conn()
            .query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
            .map(|_| ())
            .map_err(err)
    }

    fn create_tenant(&self, row: &TenantRow) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO tenants (id, created_at, deleted_at, keyring, audit_retention_days, export_window_days)
                 VALUES (?1, ?2, NULL, ?3, ?4, ?5)",
                params![
                    row.id,
                    to_i64(row.created_at),
                    row.keyring,
                    row.life.audit_retention_days,
                    row.life.export_window_days
                ],
            )
            .map_err(err)?;
        if n == 1 {
            record_change(&tx, "tenant", &row.id)?;
        }
        tx.commit().map_err(err)?;
        Ok(n == 1)
    }

    fn tenant(&self, id: &str) -> StoreResult<Option<TenantRow>> {
        self.conn()
            .query_row(
                &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?1"),
                params![id],
                tenant_row,
            )
            .optional()
            .map_err(err)
    }

    fn tenants(&self) -> StoreResult<Vec<TenantRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id"))
            .map_err(err)?;
        let rows = stmt.query_map([], tenant_row).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn update_keyring(&self, id: &str, expected: &str, keyring: &str) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let n = tx
            .execute(
                "UPDATE tenants SET keyring = ?3 WHERE id = ?1 AND keyring = ?2 AND deleted_at IS NULL",
                params![id, expected, keyring],
            )
            .map_err(err)?;
        if n != 1 {
            return Ok(false);
        }
        record_change(&tx, "keyring", id)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }

    fn transition_tenant(
        &self,
        t: &Transition<'_>,
        build: &mut ChainBuilder<'_>,
    ) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let n = tx
            .execute(
                "UPDATE tenants SET state = ?3, offboarding_since = ?4, shred_due_at = ?5,
                   deleted_at = COALESCE(deleted_at, ?6), keyring = COALESCE(?7, keyring)
                 WHERE id = ?1 AND state = ?2 AND (?8 IS NULL OR shred_due_at <= ?8)",
                params![
                    t.tenant,
                    t.from.as_str(),
                    t.to.as_str(),
                    t.offboarding_since.map(to_i64),
                    t.shred_due_at.map(to_i64),
                    t.deleted_at.map(to_i64),
                    t.keyring,
                    t.due_by.map(to_i64),
                ],
            )
            .map_err(err)?;
        if n != 1 {
            return Ok(false);
        }
        record_change(&tx, "tenant", t.tenant)?;
        for (key_id, record) in t.revoked_keys {
            tx.execute(
                "UPDATE api_keys SET record = ?2 WHERE key_id = ?1",
                params![key_id, record],
            )
            .map_err(err)?;
            record_change(&tx, "api_key", key_id)?;
        }
        append_required(&tx, t.tenant, build)?;
        tx.commit().map_err(err)?;
        if t.keyring.is_some() {
            checkpoint_truncate(&conn)?;
        }
        Ok(true)
    }

    fn put_tenant_settings(
        &self,
        id: &str,
        audit_retention_days: u32,
        export_window_days: u32,
    ) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let n = tx
            .execute(
                "UPDATE tenants SET audit_retention_days = ?2, export_window_days = ?3
                 WHERE id = ?1 AND state = 'active'",
                params![id, audit_retention_days, export_window_days],
            )
            .map_err(err)?;
        if n != 1 {
            return Ok(false);
        }
        record_change(&tx, "tenant", id)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }

    fn prune_audit(
        &self,
        tenant: &str,
        expected: Option<&str>,
        prune: &str,
        first_kept: u64,
        build: &mut ChainBuilder<'_>,
    ) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let n = tx
            .execute(
                "UPDATE tenants SET audit_prune = ?3 WHERE id = ?1 AND audit_prune IS ?2",
                params![tenant, expected, prune],
            )
            .map_err(err)?;
        if n != 1 {
            return Ok(false);
        }
        // Appended first: the head it chains onto may be among the records deleted.
        append_required(&tx, tenant, build)?;
        tx.execute(
            "DELETE FROM audit_records WHERE tenant = ?1 AND seq < ?2",
            params![tenant, to_i64(first_kept)],
        )
        .map_err(err)?;
        record_change(&tx, "tenant", tenant)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }

    fn put_policies(&self, tenant: &str, files: &str, at: u64) -> StoreResult<u32> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let last: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM tenant_policies WHERE tenant = ?1",
                params![tenant],
                |r| r.get(0),
            )
            .map_err(err)?;
        let version = last + 1;
        tx.execute(
            "INSERT INTO tenant_policies (tenant, version, created_at, files) VALUES (?1, ?2, ?3, ?4)",
            params![tenant, version, to_i64(at), files],
        )
        .map_err(err)?;
        record_change(&tx, "policies", tenant)?;
        tx.commit().map_err(err)?;
        u32::try_from(version).map_err(err)
    }

    fn policies(&self, tenant: &str, version: Option<u32>) -> StoreResult<Option<PolicyRow>> {
        let conn = self.conn();
        let result = match version {
            Some(v) => conn.query_row(
                "SELECT tenant, version, created_at, files FROM tenant_policies WHERE tenant = ?1 AND version = ?2",
                params![tenant, v],
                policy_row,
            ),
            None => conn.query_row(
                "SELECT tenant, version, created_at, files FROM tenant_policies WHERE tenant = ?1 ORDER BY version DESC LIMIT 1",
                params![tenant],
                policy_row,
            ),
        };
        result.optional().map_err(err)
    }

    fn policy_versions(&self, tenant: &str) -> StoreResult<Vec<PolicyRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT tenant, version, created_at, files FROM tenant_policies WHERE tenant = ?1 ORDER BY version")
            .map_err(err)?;
        let rows = stmt.query_map(params![tenant], policy_row).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn current_policies(&self) -> StoreResult<Vec<PolicyRow>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT p.tenant, p.version, p.created_at, p.files FROM tenant_policies p
                 JOIN (SELECT tenant, MAX(version) AS v FROM tenant_policies GROUP BY tenant) m
                   ON p.tenant = m.tenant AND p.version = m.v
                 JOIN tenants t ON t.id = p.tenant AND t.deleted_at IS NULL
                 ORDER BY p.tenant",
            )
            .map_err(err)?;
        let rows = stmt.query_map([], policy_row).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn put_api_keys(&self, tenant: &str, records: &[(String, String)]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        upsert_api_keys(&tx, tenant, records)?;
        tx.commit().map_err(err)
    }

    fn swap_api_keys(
        &self,
        tenant: &str,
        key_id: &str,
        expected: &str,
        records: &[(String, String)],
    ) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let current: Option<String> = tx
            .query_row(
                "SELECT record FROM api_keys WHERE key_id = ?1 AND tenant = ?2",
                params![key_id, tenant],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        if current.as_deref() != Some(expected) {
            return Ok(false);
        }
        upsert_api_keys(&tx, tenant, records)?;
        tx.commit().map_err(err)?;
        Ok(true)
    }

    fn api_key(&self, key_id: &str) -> StoreResult<Option<(String, String)>> {
        self.conn()
            .query_row(
                "SELECT tenant, record FROM api_keys WHERE key_id = ?1",
                params![key_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)
    }

    fn api_keys(&self, tenant: &str) -> StoreResult<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT record FROM api_keys WHERE tenant = ?1 ORDER BY key_id")
            .map_err(err)?;
        let rows = stmt.query_map(params![tenant], |r| r.get(0)).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn last_audit(&self, tenant: &str) -> StoreResult<Option<String>> {
        self.conn()
            .query_row(
                "SELECT record FROM audit_records WHERE tenant = ?1 ORDER BY seq DESC LIMIT 1",
                params![tenant],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)
    }

    fn append_audit(&self, tenant: &str, records: &[(u64, String)]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        insert_records(&tx, tenant, records)?;
        tx.commit().map_err(err)
    }

    fn append_audit_locked(
        &self,
        tenants: &[String],
        build: &mut ChainBuilder<'_>,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        // IMMEDIATE: the write lock is ours before the heads are read.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        for tenant in tenants {
            let head = chain_head(&tx, tenant)?;
            let records = build(tenant, head);
            insert_records(&tx, tenant, &records)?;
        }
        tx.commit().map_err(err)
    }

    fn audit_search(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        cursor: AuditCursor,
        limit: u32,
    ) -> StoreResult<Vec<(u64, String)>> {
        let (sql, values) = search_query(tenant, filter, cursor, limit);
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&sql).map_err(err)?;
        let params = values.iter().map(|v| match v {
            SqlValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
            SqlValue::Int(i) => rusqlite::types::Value::Integer(*i),
        });
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                Ok((to_u64(r.get(0)?), r.get(1)?))
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn settings(&self) -> StoreResult<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT name, value FROM settings ORDER BY name")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn changes_since(&self, after: u64, limit: u32) -> StoreResult<(u64, Vec<Change>)> {
        let conn = self.conn();
        let now: i64 = conn
            .prepare_cached("SELECT version FROM store_version WHERE id = 1")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(err)?;
        let now = to_u64(now);
        if now <= after {
            return Ok((now, Vec::new()));
        }
        let mut stmt = conn
            .prepare_cached(
                "SELECT version, kind, subject FROM changes WHERE version > ?1 ORDER BY version LIMIT ?2",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![to_i64(after), limit], |r| {
                Ok(Change {
                    version: to_u64(r.get(0)?),
                    kind: r.get(1)?,
                    subject: r.get(2)?,
                })
            })
            .map_err(err)?;
        Ok((now, rows.collect::<Result<_, _>>().map_err(err)?))
    }

    fn put_tenant_row(&self, row: &TenantRow) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "INSERT INTO tenants (id, created_at, deleted_at, keyring, state, offboarding_since,
               shred_due_at, audit_retention_days, export_window_days, audit_prune)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(id) DO UPDATE SET created_at = excluded.created_at,
               deleted_at = excluded.deleted_at, keyring = excluded.keyring,
               state = excluded.state, offboarding_since = excluded.offboarding_since,
               shred_due_at = excluded.shred_due_at,
               audit_retention_days = excluded.audit_retention_days,
               export_window_days = excluded.export_window_days,
               audit_prune = excluded.audit_prune",
            params![
                row.id,
                to_i64(row.created_at),
                row.deleted_at.map(to_i64),
                row.keyring,
                row.life.state.as_str(),
                row.life.offboarding_since.map(to_i64),
                row.life.shred_due_at.map(to_i64),
                row.life.audit_retention_days,
                row.life.export_window_days,
                row.life.audit_prune,
            ],
        )
        .map_err(err)?;
        record_change(&tx, "tenant", &row.id)?;
        tx.commit().map_err(err)
    }

    fn put_policy_row(&self, row: &PolicyRow) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "INSERT OR IGNORE INTO tenant_policies (tenant, version, created_at, files) VALUES (?1, ?2, ?3, ?4)",
            params![row.tenant, row.version, to_i64(row.created_at), row.files],
        )
        .map_err(err)?;
        record_change(&tx, "policies", &row.tenant)?;
        tx.commit().map_err(err)
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        self.conn()
            .query_row(
                "SELECT value FROM settings WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)
    }

    fn put_setting(&self, name: &str, value: &str) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )
        .map_err(err)?;
        record_change(&tx, "setting", name)?;
        tx.commit().map_err(err)
    }
}

/// Inserts or replaces API key records, one change each.
fn upsert_api_keys(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    records: &[(String, String)],
) -> StoreResult<()> {
    for (key_id, record) in records {
        tx.execute(
            "INSERT INTO api_keys (key_id, tenant, record) VALUES (?1, ?2, ?3)
             ON CONFLICT(key_id) DO UPDATE SET record = excluded.record",
            params![key_id, tenant, record],
        )
        .map_err(err)?;
        record_change(tx, "api_key", key_id)?;
    }
    Ok(())
}

/// Inserts chain records and moves the tenant's head to the last one.
fn insert_records(
    tx: &rusqlite::Transaction<'_>,
    tenant: &str,
    records: &[(u64, String)],
) -> StoreResult<()> {
    let Some(last) = records.iter().map(|(seq, _)| *seq).max() else {
        return Ok(());
    };
    {
        let mut stmt = tx
            .prepare_cached("INSERT INTO audit_records (tenant, seq, record) VALUES (?1, ?2, ?3)")
            .map_err(err)?;
        for (seq, record) in records {
            stmt.execute(params![tenant, to_i64(*seq), record])
                .map_err(err)?;
        }
    }
    tx.prepare_cached(
        "INSERT INTO audit_heads (tenant, seq) VALUES (?1, ?2)
         ON CONFLICT(tenant) DO UPDATE SET seq = MAX(seq, excluded.seq)",
    )
    .and_then(|mut st| st.execute(params![tenant, to_i64(last)]))
    .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn every_audit_filter_is_an_index_search() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let text = |v: &str| Some(v.to_owned());
        let filters = [
            AuditFilter::default(),
            AuditFilter {
                actor: text("a"),
                ..AuditFilter::default()
            },
            AuditFilter {
                outcome: text("denied"),
                role: text("staff"),
                ..AuditFilter::default()
            },
            AuditFilter {
                record_type: text("T"),
                record_id: text("1"),
                ..AuditFilter::default()
            },
            AuditFilter {
                source_ip: text("10.0.0.1"),
                from: Some(5),
                ..AuditFilter::default()
            },
            AuditFilter {
                action: text("view"),
                operation: text("x"),
                ..AuditFilter::default()
            },
            AuditFilter {
                from: Some(5),
                to: Some(9),
                ..AuditFilter::default()
            },
            AuditFilter {
                to: Some(9),
                ..AuditFilter::default()
            },
        ];
        for f in &filters {
            for cursor in [
                AuditCursor::Before(None),
                AuditCursor::Before(Some(9)),
                AuditCursor::After(3),
            ] {
                let (sql, values) = search_query("t", f, cursor, 50);
                let conn = store.conn();
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let params = values.iter().map(|v| match v {
                    SqlValue::Text(t) => rusqlite::types::Value::Text(t.clone()),
                    SqlValue::Int(i) => rusqlite::types::Value::Integer(*i),
                });
                let plan: Vec<String> = stmt
                    .query_map(rusqlite::params_from_iter(params), |r| r.get(3))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let searches: Vec<&String> = plan
                    .iter()
                    .filter(|p| p.contains("audit_records"))
                    .collect();
                assert!(
                    searches.iter().all(|p| p.starts_with("SEARCH")),
                    "{f:?}: {plan:?}"
                );
                assert!(
                    !plan.iter().any(|p| p.contains("TEMP B-TREE")),
                    "{f:?}: {plan:?}"
                );
                if f.index().is_none()
                    && (f.from.is_some() || f.to.is_some())
                    && matches!(cursor, AuditCursor::Before(_))
                {
                    assert!(plan.iter().any(|p| p.contains("audit_by_time")), "{plan:?}");
                }
            }
        }
    }

    #[test]
    fn migrates_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        let row = TenantRow::new("acme", 1, "{}".into());
        assert!(store.create_tenant(&row).unwrap());
        assert!(!store.create_tenant(&row).unwrap());
        assert_eq!(store.put_policies("acme", "[]", 2).unwrap(), 1);
        assert_eq!(store.put_policies("acme", "[1]", 3).unwrap(), 2);
        assert_eq!(store.policies("acme", None).unwrap().unwrap().version, 2);
        assert_eq!(
            store.policies("acme", Some(1)).unwrap().unwrap().files,
            "[]"
        );
        assert_eq!(store.current_policies().unwrap().len(), 1);
        // Records are JSON: the database reads the audit filter columns out of them.
        let (a, b, c) = ("{\"a\":1}", "{\"b\":1}", "{\"c\":1}");
        store
            .append_audit("acme", &[(1, a.into()), (2, b.into())])
            .unwrap();
        assert!(store.append_audit("acme", &[(2, c.into())]).is_err());
        assert!(store
            .append_audit("acme", &[(3, "not json".into())])
            .is_err());
        assert_eq!(store.last_audit("acme").unwrap().unwrap(), b);
        assert_eq!(
            store.audit_page("acme", 1, 10).unwrap(),
            vec![(2, b.into())]
        );
        drop(store);
        // Reopening applies nothing twice.
        let store = SqliteStore::open_dir(dir.path()).unwrap();
        assert_eq!(store.tenant("acme").unwrap().unwrap().created_at, 1);
    }
}
