-- Phylax host store on PostgreSQL, version 1: the SQLite schema (0001 + 0002) in one.
-- Applied in one transaction under pg_advisory_xact_lock by store::postgres, so nodes
-- starting at once on an empty database migrate once. Secrets are never stored: keyrings
-- hold only wrapped keys, API keys only hashes, the admin token only its SHA-256.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    deleted_at  BIGINT,
    keyring     TEXT NOT NULL
);

CREATE TABLE tenant_policies (
    tenant      TEXT NOT NULL REFERENCES tenants(id),
    version     INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    files       TEXT NOT NULL,
    PRIMARY KEY (tenant, version)
);

CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL REFERENCES tenants(id),
    record      TEXT NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys(tenant);

-- The unique (tenant, seq) key is the backstop: two writers can never both commit a seq.
CREATE TABLE audit_records (
    tenant      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
);

CREATE TABLE audit_heads (
    tenant      TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL
);

CREATE TABLE settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);

CREATE TABLE store_version (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     BIGINT NOT NULL
);
INSERT INTO store_version (id, version) VALUES (1, 0);

CREATE TABLE changes (
    version     BIGINT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL
);
