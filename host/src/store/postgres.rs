//! The PostgreSQL store: many `phylax serve` nodes on one database (Neon, or any
//! PostgreSQL 13+).
//!
//! - **Pooler-safe.** Every statement is `query_typed` (an unnamed statement with its
//!   parameter types, sent with its values in one round trip) and every multi-statement
//!   operation is one explicit transaction, so nothing depends on session state and a
//!   transaction-mode pooler (Neon's `-pooler` endpoint, PgBouncer) works. No named
//!   prepared statements, no `SET`, no `LISTEN`, no session advisory locks.
//! - **Migrations once.** The numbered files in `host/migrations/postgres/` are applied in
//!   one transaction that first takes `pg_advisory_xact_lock` (released at commit, so it
//!   works through a pooler); a second node starting at the same time waits, then finds
//!   them applied.
//! - **Chains with many writers.** A group commit locks the `audit_heads` row of every
//!   tenant in the batch (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, which waits
//!   for another writer's commit and returns the newest seq), then inserts every record
//!   and moves every head: two statements and one commit whatever the batch holds. The
//!   `(tenant, seq)` primary key is the backstop; a conflict or a deadlock is retried a
//!   bounded number of times.
//! - **TLS** is rustls (ring) with the system's root certificates: `sslmode=require` in
//!   the URL requires it and verifies the server's certificate and name; the default
//!   (`prefer`) uses TLS when the server offers it.
//!
//! The [`Store`] trait is synchronous (the server calls it from `spawn_blocking`), so the
//! store runs its own small tokio runtime for the client's connections and blocks on it.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use super::{
    redact_url, AuditCursor, AuditFilter, ChainBuilder, Change, Lifecycle, PolicyRow, SqlValue,
    Store, StoreError, StoreResult, TenantRow, TenantState, Transition, CHANGES_KEPT,
    TENANT_COLUMNS,
};

/// The migrations, in order. Never edit an applied one: add a new file.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        "0002_lifecycle",
        include_str!("../../migrations/postgres/0002_lifecycle.sql"),
    ),
    (
        "0003_audit_filters",
        include_str!("../../migrations/postgres/0003_audit_filters.sql"),
    ),
];

/// How many migrations a fully migrated database has recorded (one row each).
pub const MIGRATION_COUNT: usize = MIGRATIONS.len();

/// The key of the transaction-scoped advisory lock migrations run under ("phylax-m").
const MIGRATION_LOCK: i64 = 0x7068_796c_6178_2d6d;

/// How long one store operation may take before it fails as unavailable.
const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// Appends retried after a conflict (a unique violation or a serialization failure).
const APPEND_ATTEMPTS: u32 = 3;

/// PostgreSQL-backed [`Store`].
pub struct PgStore {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    shown_url: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shown_url)
            .finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks; from inside another runtime that panics.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Whether an error means the database is out of reach (retryable, 503) rather than a
/// failed statement.
fn is_unreachable(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        // Class 08: connection exceptions; 57P0x: shutdown, cannot connect now; 53300:
        // too many connections.
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c.starts_with("57P") || c == "53300"
        }
        None => true,
    }
}

fn pg_err(e: tokio_postgres::Error) -> StoreError {
    if is_unreachable(&e) {
        StoreError::unavailable(format!("postgres: {e}"))
    } else {
        // The server's message (e.g. a constraint's name), never a parameter value.
        let detail = e
            .as_db_error()
            .map(|d| format!("{} ({})", d.message(), d.code().code()))
            .unwrap_or_else(|| e.to_string());
        StoreError::new(format!("postgres: {detail}"))
    }
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        other => StoreError::unavailable(format!("postgres pool: {other}")),
    }
}

/// A conflict another writer caused: worth one more attempt.
fn is_conflict(e: &StoreError) -> bool {
    e.message.contains("(23505)") || e.message.contains("(40001)") || e.message.contains("(40P01)")
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

type Param<'a> = (&'a (dyn ToSql + Sync), Type);

fn text(v: &(dyn ToSql + Sync)) -> Param<'_> {
    (v, Type::TEXT)
}

fn int8(v: &(dyn ToSql + Sync)) -> Param<'_> {
    (v, Type::INT8)
}

fn int4(v: &(dyn ToSql + Sync)) -> Param<'_> {
    (v, Type::INT4)
}

fn days_i32(days: u32) -> i32 {
    i32::try_from(days).unwrap_or(i32::MAX)
}

fn tenant_row(r: &Row) -> StoreResult<TenantRow> {
    // A value out of range reads as the longest period: never "prune everything".
    let days = |i: usize| -> StoreResult<u32> {
        Ok(u32::try_from(r.try_get::<_, i32>(i).map_err(pg_err)?).unwrap_or(u32::MAX))
    };
    let opt = |i: usize| -> StoreResult<Option<u64>> {
        Ok(r.try_get::<_, Option<i64>>(i).map_err(pg_err)?.map(to_u64))
    };
    let state: String = r.try_get(4).map_err(pg_err)?;
    Ok(TenantRow {
        id: r.try_get(0).map_err(pg_err)?,
        created_at: to_u64(r.try_get(1).map_err(pg_err)?),
        deleted_at: opt(2)?,
        keyring: r.try_get(3).map_err(pg_err)?,
        life: Lifecycle {
            state: TenantState::parse(&state)?,
            offboarding_since: opt(5)?,
            shred_due_at: opt(6)?,
            audit_retention_days: days(7)?,
            export_window_days: days(8)?,
            audit_prune: r.try_get(9).map_err(pg_err)?,
        },
    })
}

fn policy_row(r: &Row) -> Result<PolicyRow, tokio_postgres::Error> {
    Ok(PolicyRow {
        tenant: r.try_get(0)?,
        version: u32::try_from(r.try_get::<_, i32>(1)?).unwrap_or(0),
        created_at: to_u64(r.try_get(2)?),
        files: r.try_get(3)?,
    })
}

/// rustls with the system's roots (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured).
fn tls() -> StoreResult<tokio_postgres_rustls::MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        // A certificate the parser rejects is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::new(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl PgStore {
    /// Connects (checking the database answers), then applies pending migrations.
    /// An unreachable database is an error with `unavailable` set.
    pub fn connect(url: &str, pool_size: usize) -> StoreResult<Self> {
        let shown_url = redact_url(url);
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::new(format!("store URL `{shown_url}`: {e}")))?;
        config
            .connect_timeout(Duration::from_secs(5))
            .application_name("phylax");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("phylax-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::new(format!("postgres runtime: {e}")))?;
        let manager = Manager::from_config(
            config,
            tls()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(2))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(Duration::from_secs(5)),
                create: Some(Duration::from_secs(5)),
                recycle: Some(Duration::from_secs(5)),
            })
            .build()
            .map_err(|e| StoreError::new(format!("postgres pool: {e}")))?;
        let store = Self {
            pool,
            runtime: Some(runtime),
            shown_url,
        };
        store.ping().map_err(|e| StoreError {
            message: format!("cannot reach {}: {}", store.shown_url, e.message),
            unavailable: true,
        })?;
        store.migrate()?;
        Ok(store)
    }

    /// Runs one operation on the store's runtime, bounded by [`OP_TIMEOUT`].
    fn run<T>(&self, op: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        let Some(rt) = self.runtime.as_ref() else {
            return Err(StoreError::unavailable("the store is shut down"));
        };
        // The timer is made inside the store's runtime (the caller may have none).
        match rt.block_on(async { tokio::time::timeout(OP_TIMEOUT, op).await }) {
            Ok(result) => result,
            Err(_) => Err(StoreError::unavailable(format!(
                "postgres: no answer within {} s",
                OP_TIMEOUT.as_secs()
            ))),
        }
    }

    fn migrate(&self) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            tx.query_typed("SELECT pg_advisory_xact_lock($1)", &[int8(&MIGRATION_LOCK)])
                .await
                .map_err(pg_err)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS phylax_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .await
            .map_err(pg_err)?;
            let row = tx
                .query_typed_one(
                    "SELECT COALESCE(MAX(version), 0) FROM phylax_migrations",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            let applied: i32 = row.try_get(0).map_err(pg_err)?;
            for (i, (name, sql)) in MIGRATIONS.iter().enumerate() {
                let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
                if number <= applied {
                    continue;
                }
                tx.batch_execute(sql)
                    .await
                    .map_err(|e| StoreError::new(format!("migration {name}: {e}")))?;
                let at = to_i64(crate::state::now());
                tx.query_typed(
                    "INSERT INTO phylax_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    &[int4(&number), text(name), int8(&at)],
                )
                .await
                .map_err(pg_err)?;
            }
            tx.commit().await.map_err(pg_err)
        })
    }

    /// Rows of one statement outside a transaction.
    fn rows(&self, sql: &str, params: &[Param<'_>]) -> StoreResult<Vec<Row>> {
        self.run(async {
            let client = self.pool.get().await.map_err(pool_err)?;
            client.query_typed(sql, params).await.map_err(pg_err)
        })
    }
}

/// Bumps the store version and records one change, inside the caller's transaction.
/// The version row stays locked until commit, so versions become visible in order.
async fn record_change(
    tx: &deadpool_postgres::Transaction<'_>,
    kind: &str,
    subject: &str,
) -> StoreResult<()> {
    let row = tx
        .query_typed_one(
            "UPDATE store_version SET version = version + 1 WHERE id = 1 RETURNING version",
            &[],
        )
        .await
        .map_err(pg_err)?;
    let version: i64 = row.try_get(0).map_err(pg_err)?;
    tx.query_typed(
        "INSERT INTO changes (version, kind, subject) VALUES ($1, $2, $3)",
        &[int8(&version), text(&kind), text(&subject)],
    )
    .await
    .map_err(pg_err)?;
    if version % 1000 == 0 {
        let below = version - to_i64(CHANGES_KEPT);
        tx.query_typed("DELETE FROM changes WHERE version <= $1", &[int8(&below)])
            .await
            .map_err(pg_err)?;
    }
    Ok(())
}

/// Inserts or replaces API key records, one change each.
async fn upsert_api_keys(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: &str,
    records: &[(String, String)],
) -> StoreResult<()> {
    for (key_id, record) in records {
        tx.execute_typed(
            "INSERT INTO api_keys (key_id, tenant, record) VALUES ($1, $2, $3)
             ON CONFLICT (key_id) DO UPDATE SET record = EXCLUDED.record",
            &[text(key_id), text(&tenant), text(record)],
        )
        .await
        .map_err(pg_err)?;
        record_change(tx, "api_key", key_id).await?;
    }
    Ok(())
}

/// Inserts chain records and moves the tenant's head to the last one.
async fn insert_records(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: &str,
    records: &[(u64, String)],
) -> StoreResult<()> {
    let Some(last) = records.iter().map(|(seq, _)| *seq).max() else {
        return Ok(());
    };
    // One statement for the whole group: arrays of seqs and records.
    let seqs: Vec<i64> = records.iter().map(|(s, _)| to_i64(*s)).collect();
    let texts: Vec<&str> = records.iter().map(|(_, r)| r.as_str()).collect();
    tx.query_typed(
        "INSERT INTO audit_records (tenant, seq, record)
         SELECT $1, s, r FROM UNNEST($2::BIGINT[], $3::TEXT[]) AS t(s, r)",
        &[
            text(&tenant),
            (&seqs, Type::INT8_ARRAY),
            (&texts, Type::TEXT_ARRAY),
        ],
    )
    .await
    .map_err(pg_err)?;
    let last = to_i64(last);
    tx.query_typed(
        "INSERT INTO audit_heads (tenant, seq) VALUES ($1, $2)
         ON CONFLICT (tenant) DO UPDATE SET seq = GREATEST(audit_heads.seq, EXCLUDED.seq)",
        &[text(&tenant), int8(&last)],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

/// One group commit: two statements whatever the number of tenants in the batch (four
/// round trips with `BEGIN` and `COMMIT`).
async fn append_batch(
    pool: &Pool,
    tenants: &[String],
    build: &mut ChainBuilder<'_>,
) -> StoreResult<()> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(pg_err)?;
    append_in_tx(&tx, tenants, build).await?;
    tx.commit().await.map_err(pg_err)
}

/// The group commit's two statements inside the caller's transaction; returns how many
/// records were inserted.
async fn append_in_tx(
    tx: &deadpool_postgres::Transaction<'_>,
    tenants: &[String],
    build: &mut ChainBuilder<'_>,
) -> StoreResult<usize> {
    // 1. Create the missing head rows and lock every head of the batch, in the callers'
    //    (sorted) order. ON CONFLICT DO UPDATE waits for another writer's commit and
    //    RETURNING gives the newest committed seq; the join reads its record. If another
    //    writer committed while this one waited for the lock, the record is newer than
    //    the statement's snapshot and the join finds nothing: it is read again below.
    let rows = tx
        .query_typed(
            "WITH locked AS (
               INSERT INTO audit_heads (tenant, seq)
               SELECT t, 0 FROM UNNEST($1::TEXT[]) WITH ORDINALITY AS u(t, n) ORDER BY n
               ON CONFLICT (tenant) DO UPDATE SET seq = audit_heads.seq
               RETURNING tenant, seq)
             SELECT l.tenant, l.seq, r.record FROM locked l
             LEFT JOIN audit_records r ON r.tenant = l.tenant AND r.seq = l.seq",
            &[(&tenants, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(pg_err)?;
    let mut heads: HashMap<String, (i64, Option<String>)> = HashMap::with_capacity(rows.len());
    for r in &rows {
        heads.insert(
            r.try_get(0).map_err(pg_err)?,
            (r.try_get(1).map_err(pg_err)?, r.try_get(2).map_err(pg_err)?),
        );
    }
    // 1b. Only after waiting for another node's commit: those head records, in a new
    //     statement (a new snapshot under READ COMMITTED, which sees them).
    let (names, seqs): (Vec<&str>, Vec<i64>) = heads
        .iter()
        .filter(|(_, (s, r))| *s > 0 && r.is_none())
        .map(|(t, (s, _))| (t.as_str(), *s))
        .unzip();
    if !names.is_empty() {
        let rows = tx
            .query_typed(
                "SELECT r.tenant, r.record FROM audit_records r
                 JOIN UNNEST($1::TEXT[], $2::BIGINT[]) AS h(t, s) ON r.tenant = h.t AND r.seq = h.s",
                &[(&names, Type::TEXT_ARRAY), (&seqs, Type::INT8_ARRAY)],
            )
            .await
            .map_err(pg_err)?;
        for r in &rows {
            let tenant: String = r.try_get(0).map_err(pg_err)?;
            if let Some(head) = heads.get_mut(&tenant) {
                head.1 = Some(r.try_get(1).map_err(pg_err)?);
            }
        }
    }
    // 2. The records of every tenant, chained onto its head.
    let (mut r_tenants, mut r_seqs, mut r_texts) = (Vec::new(), Vec::new(), Vec::new());
    let (mut h_tenants, mut h_seqs) = (Vec::new(), Vec::new());
    for tenant in tenants {
        let head = match heads.remove(tenant) {
            None | Some((0, _)) => None,
            Some((seq, Some(r))) => Some((to_u64(seq), r)),
            Some((seq, None)) => {
                return Err(StoreError::new(format!(
                    "the chain head of a tenant names seq {seq}, which is not stored"
                )))
            }
        };
        let new = build(tenant, head);
        let Some(last) = new.iter().map(|(s, _)| *s).max() else {
            continue;
        };
        for (s, text) in new {
            r_tenants.push(tenant.as_str());
            r_seqs.push(to_i64(s));
            r_texts.push(text);
        }
        h_tenants.push(tenant.as_str());
        h_seqs.push(to_i64(last));
    }
    if !r_tenants.is_empty() {
        // 3. Every record (the (tenant, seq) key is the backstop) and every head moved,
        //    in one statement: a data-modifying CTE runs to completion.
        tx.execute_typed(
            "WITH inserted AS (
               INSERT INTO audit_records (tenant, seq, record)
               SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::TEXT[]))
             UPDATE audit_heads h SET seq = u.s
             FROM UNNEST($4::TEXT[], $5::BIGINT[]) AS u(t, s) WHERE h.tenant = u.t",
            &[
                (&r_tenants, Type::TEXT_ARRAY),
                (&r_seqs, Type::INT8_ARRAY),
                (&r_texts, Type::TEXT_ARRAY),
                (&h_tenants, Type::TEXT_ARRAY),
                (&h_seqs, Type::INT8_ARRAY),
            ],
        )
        .await
        .map_err(pg_err)?;
    }
    Ok(r_tenants.len())
}

/// Runs one transaction again (up to [`APPEND_ATTEMPTS`] in all) when it fails on a
/// unique-key conflict, a serialization failure or a deadlock with another writer.
fn retry_conflicts<T>(what: &str, mut once: impl FnMut() -> StoreResult<T>) -> StoreResult<T> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match once() {
            Err(e) if attempt < APPEND_ATTEMPTS && is_conflict(&e) => {
                tracing::warn!(error = %e, attempt, "{what} conflict; retrying");
            }
            other => return other,
        }
    }
}

/// Appends the one-tenant audit record(s) `build` makes inside the caller's
/// transaction; fails (so it rolls back) when it makes none.
async fn append_required(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: &str,
    build: &mut ChainBuilder<'_>,
) -> StoreResult<()> {
    if append_in_tx(tx, &[tenant.to_owned()], build).await? == 0 {
        return Err(StoreError::new(
            "the audit record of a tenant change could not be built; nothing was changed",
        ));
    }
    Ok(())
}

impl Store for PgStore {
    fn ping(&self) -> StoreResult<()> {
        self.rows("SELECT 1", &[]).map(|_| ())
    }

    fn create_tenant(&self, row: &TenantRow) -> StoreResult<bool> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            let created = to_i64(row.created_at);
            let retention = days_i32(row.life.audit_retention_days);
            let window = days_i32(row.life.export_window_days);
            let n = tx
                .execute_typed(
                    "INSERT INTO tenants (id, created_at, deleted_at, keyring, audit_retention_days, export_window_days)
                     VALUES ($1, $2, NULL, $3, $4, $5)
                     ON CONFLICT (id) DO NOTHING",
                    &[
                        text(&row.id),
                        int8(&created),
                        text(&row.keyring),
                        int4(&retention),
                        int4(&window),
                    ],
                )
                .await
                .map_err(pg_err)?;
            if n == 1 {
                record_change(&tx, "tenant", &row.id).await?;
            }
            tx.commit().await.map_err(pg_err)?;
            Ok(n == 1)
        })
    }

    fn tenant(&self, id: &str) -> StoreResult<Option<TenantRow>> {
        let rows = self.rows(
            &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"),
            &[text(&id)],
        )?;
        rows.first().map(tenant_row).transpose()
    }

    fn tenants(&self) -> StoreResult<Vec<TenantRow>> {
        let rows = self.rows(
            &format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id"),
            &[],
        )?;
        rows.iter().map(tenant_row).collect()
    }

    fn update_keyring(&self, id: &str, expected: &str, keyring: &str) -> StoreResult<bool> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            let n = tx
                .execute_typed(
                    "UPDATE tenants SET keyring = $3 WHERE id = $1 AND keyring = $2 AND deleted_at IS NULL",
                    &[text(&id), text(&expected), text(&keyring)],
                )
                .await
                .map_err(pg_err)?;
            if n != 1 {
                return Ok(false);
            }
            record_change(&tx, "keyring", id).await?;
            tx.commit().await.map_err(pg_err)?;
            Ok(true)
        })
    }

    fn transition_tenant(
        &self,
        t: &Transition<'_>,
        build: &mut ChainBuilder<'_>,
    ) -> StoreResult<bool> {
        retry_conflicts("tenant transition", || {
            self.run(async {
                let mut client = self.pool.get().await.map_err(pool_err)?;
                let tx = client.transaction().await.map_err(pg_err)?;
                let (from, to) = (t.from.as_str(), t.to.as_str());
                let since = t.offboarding_since.map(to_i64);
                let due = t.shred_due_at.map(to_i64);
                let deleted = t.deleted_at.map(to_i64);
                let due_by = t.due_by.map(to_i64);
                let n = tx
                    .execute_typed(
                        "UPDATE tenants SET state = $3, offboarding_since = $4, shred_due_at = $5,
                       deleted_at = COALESCE(deleted_at, $6), keyring = COALESCE($7, keyring)
                     WHERE id = $1 AND state = $2 AND ($8::BIGINT IS NULL OR shred_due_at <= $8)",
                        &[
                            text(&t.tenant),
                            text(&from),
                            text(&to),
                            int8(&since),
                            int8(&due),
                            int8(&deleted),
                            text(&t.keyring),
                            int8(&due_by),
                        ],
                    )
                    .await
                    .map_err(pg_err)?;
                if n != 1 {
                    return Ok(false);
                }
                record_change(&tx, "tenant", t.tenant).await?;
                for (key_id, record) in t.revoked_keys {
                    tx.execute_typed(
                        "UPDATE api_keys SET record = $2 WHERE key_id = $1",
                        &[text(key_id), text(record)],
                    )
                    .await
                    .map_err(pg_err)?;
                    record_change(&tx, "api_key", key_id).await?;
                }
                append_required(&tx, t.tenant, &mut *build).await?;
                tx.commit().await.map_err(pg_err)?;
                Ok(true)
            })
        })
    }

    fn put_tenant_settings(
        &self,
        id: &str,
        audit_retention_days: u32,
        export_window_days: u32,
    ) -> StoreResult<bool> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            let (retention, window) =
                (days_i32(audit_retention_days), days_i32(export_window_days));
            let n = tx
                .execute_typed(
                    "UPDATE tenants SET audit_retention_days = $2, export_window_days = $3
                     WHERE id = $1 AND state = 'active'",
                    &[text(&id), int4(&retention), int4(&window)],
                )
                .await
                .map_err(pg_err)?;
            if n != 1 {
                return Ok(false);
            }
            record_change(&tx, "tenant", id).await?;
            tx.commit().await.map_err(pg_err)?;
            Ok(true)
        })
    }

    fn prune_audit(
        &self,
        tenant: &str,
        expected: Option<&str>,
        prune: &str,
        first_kept: u64,
        build: &mut ChainBuilder<'_>,
    ) -> StoreResult<bool> {
        retry_conflicts("audit prune", || {
            self.run(async {
                let mut client = self.pool.get().await.map_err(pool_err)?;
                let tx = client.transaction().await.map_err(pg_err)?;
                let n = tx
                    .execute_typed(
                        "UPDATE tenants SET audit_prune = $3
                     WHERE id = $1 AND audit_prune IS NOT DISTINCT FROM $2",
                        &[text(&tenant), text(&expected), text(&prune)],
                    )
                    .await
                    .map_err(pg_err)?;
                if n != 1 {
                    return Ok(false);
                }
                // Appended first: the head it chains onto may be among those deleted.
                append_required(&tx, tenant, &mut *build).await?;
                let first = to_i64(first_kept);
                tx.execute_typed(
                    "DELETE FROM audit_records WHERE tenant = $1 AND seq < $2",
                    &[text(&tenant), int8(&first)],
                )
                .await
                .map_err(pg_err)?;
                record_change(&tx, "tenant", tenant).await?;
                tx.commit().await.map_err(pg_err)?;
                Ok(true)
            })
        })
    }

    fn put_policies(&self, tenant: &str, files: &str, at: u64) -> StoreResult<u32> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            // The tenant row lock serializes version numbering between nodes.
            tx.query_typed(
                "SELECT id FROM tenants WHERE id = $1 FOR UPDATE",
                &[text(&tenant)],
            )
            .await
            .map_err(pg_err)?;
            let row = tx
                .query_typed_one(
                    "SELECT COALESCE(MAX(version), 0) FROM tenant_policies WHERE tenant = $1",
                    &[text(&tenant)],
                )
                .await
                .map_err(pg_err)?;
            let version: i32 = row.try_get::<_, i32>(0).map_err(pg_err)? + 1;
            let at = to_i64(at);
            tx.execute_typed(
                "INSERT INTO tenant_policies (tenant, version, created_at, files) VALUES ($1, $2, $3, $4)",
                &[text(&tenant), int4(&version), int8(&at), text(&files)],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, "policies", tenant).await?;
            tx.commit().await.map_err(pg_err)?;
            u32::try_from(version).map_err(|e| StoreError::new(e.to_string()))
        })
    }

    fn policies(&self, tenant: &str, version: Option<u32>) -> StoreResult<Option<PolicyRow>> {
        let rows = match version {
            Some(v) => {
                let v = i32::try_from(v).unwrap_or(i32::MAX);
                self.rows(
                    "SELECT tenant, version, created_at, files FROM tenant_policies WHERE tenant = $1 AND version = $2",
                    &[text(&tenant), int4(&v)],
                )?
            }
            None => self.rows(
                "SELECT tenant, version, created_at, files FROM tenant_policies WHERE tenant = $1 ORDER BY version DESC LIMIT 1",
                &[text(&tenant)],
            )?,
        };
        rows.first().map(policy_row).transpose().map_err(pg_err)
    }

    fn policy_versions(&self, tenant: &str) -> StoreResult<Vec<PolicyRow>> {
        let rows = self.rows(
            "SELECT tenant, version, created_at, files FROM tenant_policies WHERE tenant = $1 ORDER BY version",
            &[text(&tenant)],
        )?;
        rows.iter()
            .map(policy_row)
            .collect::<Result<_, _>>()
            .map_err(pg_err)
    }

    fn current_policies(&self) -> StoreResult<Vec<PolicyRow>> {
        let rows = self.rows(
            "SELECT DISTINCT ON (p.tenant) p.tenant, p.version, p.created_at, p.files
             FROM tenant_policies p JOIN tenants t ON t.id = p.tenant AND t.deleted_at IS NULL
             ORDER BY p.tenant, p.version DESC",
            &[],
        )?;
        rows.iter()
            .map(policy_row)
            .collect::<Result<_, _>>()
            .map_err(pg_err)
    }

    fn put_api_keys(&self, tenant: &str, records: &[(String, String)]) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            upsert_api_keys(&tx, tenant, records).await?;
            tx.commit().await.map_err(pg_err)
        })
    }

    fn swap_api_keys(
        &self,
        tenant: &str,
        key_id: &str,
        expected: &str,
        records: &[(String, String)],
    ) -> StoreResult<bool> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            // Locks the row: a concurrent swap waits, then sees the new record.
            let current = tx
                .query_typed_opt(
                    "SELECT record FROM api_keys WHERE key_id = $1 AND tenant = $2 FOR UPDATE",
                    &[text(&key_id), text(&tenant)],
                )
                .await
                .map_err(pg_err)?
                .map(|r| r.try_get::<_, String>(0))
                .transpose()
                .map_err(pg_err)?;
            if current.as_deref() != Some(expected) {
                return Ok(false);
            }
            upsert_api_keys(&tx, tenant, records).await?;
            tx.commit().await.map_err(pg_err)?;
            Ok(true)
        })
    }

    fn api_key(&self, key_id: &str) -> StoreResult<Option<(String, String)>> {
        let rows = self.rows(
            "SELECT tenant, record FROM api_keys WHERE key_id = $1",
            &[text(&key_id)],
        )?;
        rows.first()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .transpose()
            .map_err(pg_err)
    }

    fn api_keys(&self, tenant: &str) -> StoreResult<Vec<String>> {
        let rows = self.rows(
            "SELECT record FROM api_keys WHERE tenant = $1 ORDER BY key_id",
            &[text(&tenant)],
        )?;
        rows.iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(pg_err)
    }

    fn last_audit(&self, tenant: &str) -> StoreResult<Option<String>> {
        let rows = self.rows(
            "SELECT record FROM audit_records WHERE tenant = $1 ORDER BY seq DESC LIMIT 1",
            &[text(&tenant)],
        )?;
        rows.first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg_err)
    }

    fn append_audit(&self, tenant: &str, records: &[(u64, String)]) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            insert_records(&tx, tenant, records).await?;
            tx.commit().await.map_err(pg_err)
        })
    }

    fn append_audit_locked(
        &self,
        tenants: &[String],
        build: &mut ChainBuilder<'_>,
    ) -> StoreResult<()> {
        retry_conflicts("audit append", || {
            self.run(append_batch(&self.pool, tenants, &mut *build))
        })
    }

    fn audit_search(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        cursor: AuditCursor,
        limit: u32,
    ) -> StoreResult<Vec<(u64, String)>> {
        let (sql, values) = filter.page_query(
            tenant,
            cursor,
            limit,
            |_| String::new(),
            true,
            |n| format!("${n}"),
        );
        let params: Vec<Param<'_>> = values
            .iter()
            .map(|v| match v {
                SqlValue::Text(t) => text(t),
                SqlValue::Int(i) => int8(i),
            })
            .collect();
        let rows = self.rows(&sql, &params)?;
        rows.iter()
            .map(|r| Ok((to_u64(r.try_get(0)?), r.try_get(1)?)))
            .collect::<Result<_, _>>()
            .map_err(pg_err)
    }

    fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        let rows = self.rows("SELECT value FROM settings WHERE name = $1", &[text(&name)])?;
        rows.first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg_err)
    }

    fn put_setting(&self, name: &str, value: &str) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            tx.execute_typed(
                "INSERT INTO settings (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                &[text(&name), text(&value)],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, "setting", name).await?;
            tx.commit().await.map_err(pg_err)
        })
    }

    fn settings(&self) -> StoreResult<Vec<(String, String)>> {
        let rows = self.rows("SELECT name, value FROM settings ORDER BY name", &[])?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, _>>()
            .map_err(pg_err)
    }

    fn changes_since(&self, after: u64, limit: u32) -> StoreResult<(u64, Vec<Change>)> {
        let after = to_i64(after);
        let limit = i64::from(limit);
        self.run(async {
            let client = self.pool.get().await.map_err(pool_err)?;
            let row = client
                .query_typed_one("SELECT version FROM store_version WHERE id = 1", &[])
                .await
                .map_err(pg_err)?;
            let now: i64 = row.try_get(0).map_err(pg_err)?;
            if now <= after {
                return Ok((to_u64(now), Vec::new()));
            }
            let rows = client
                .query_typed(
                    "SELECT version, kind, subject FROM changes WHERE version > $1 ORDER BY version LIMIT $2",
                    &[int8(&after), int8(&limit)],
                )
                .await
                .map_err(pg_err)?;
            let changes = rows
                .iter()
                .map(|r| {
                    Ok(Change {
                        version: to_u64(r.try_get(0)?),
                        kind: r.try_get(1)?,
                        subject: r.try_get(2)?,
                    })
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(pg_err)?;
            Ok((to_u64(now), changes))
        })
    }

    fn put_tenant_row(&self, row: &TenantRow) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            let created = to_i64(row.created_at);
            let deleted = row.deleted_at.map(to_i64);
            let life = &row.life;
            let state = life.state.as_str();
            let since = life.offboarding_since.map(to_i64);
            let due = life.shred_due_at.map(to_i64);
            let retention = days_i32(life.audit_retention_days);
            let window = days_i32(life.export_window_days);
            tx.execute_typed(
                "INSERT INTO tenants (id, created_at, deleted_at, keyring, state, offboarding_since,
                   shred_due_at, audit_retention_days, export_window_days, audit_prune)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (id) DO UPDATE SET created_at = EXCLUDED.created_at,
                   deleted_at = EXCLUDED.deleted_at, keyring = EXCLUDED.keyring,
                   state = EXCLUDED.state, offboarding_since = EXCLUDED.offboarding_since,
                   shred_due_at = EXCLUDED.shred_due_at,
                   audit_retention_days = EXCLUDED.audit_retention_days,
                   export_window_days = EXCLUDED.export_window_days,
                   audit_prune = EXCLUDED.audit_prune",
                &[
                    text(&row.id),
                    int8(&created),
                    int8(&deleted),
                    text(&row.keyring),
                    text(&state),
                    int8(&since),
                    int8(&due),
                    int4(&retention),
                    int4(&window),
                    text(&life.audit_prune),
                ],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, "tenant", &row.id).await?;
            tx.commit().await.map_err(pg_err)
        })
    }

    fn put_policy_row(&self, row: &PolicyRow) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(pg_err)?;
            let version = i32::try_from(row.version).unwrap_or(i32::MAX);
            let created = to_i64(row.created_at);
            tx.execute_typed(
                "INSERT INTO tenant_policies (tenant, version, created_at, files) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant, version) DO NOTHING",
                &[
                    text(&row.tenant),
                    int4(&version),
                    int8(&created),
                    text(&row.files),
                ],
            )
            .await
            .map_err(pg_err)?;
            record_change(&tx, "policies", &row.tenant).await?;
            tx.commit().await.map_err(pg_err)
        })
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }
}
