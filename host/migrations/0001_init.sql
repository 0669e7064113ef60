-- Phylax host store, version 1. Applied once, in a transaction, by store::sqlite.
-- Secrets are never stored: keyrings hold only wrapped keys, API keys only hashes,
-- the admin token only its SHA-256.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    deleted_at  INTEGER,
    -- KeyringState JSON (wrapped keys only; emptied by crypto-shredding).
    keyring     TEXT NOT NULL
);

-- Every version of every tenant's policies is kept; the highest version is current.
CREATE TABLE tenant_policies (
    tenant      TEXT NOT NULL REFERENCES tenants(id),
    version     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    -- JSON array of {name, text} policy files.
    files       TEXT NOT NULL,
    PRIMARY KEY (tenant, version)
);

-- ApiKeyRecord JSON (hash only), one row per key id.
CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL REFERENCES tenants(id),
    record      TEXT NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys(tenant);

-- Each tenant's audit chain: AuditRecord JSON, in sequence order.
CREATE TABLE audit_records (
    tenant      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (tenant, seq)
) WITHOUT ROWID;

-- Small server settings (e.g. the admin token's hash).
CREATE TABLE settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);
