-- Phylax host store, version 2 (SQLite): what many writers and many nodes need.

-- Each tenant's chain head: locked by every append (BEGIN IMMEDIATE here, SELECT ... FOR
-- UPDATE on PostgreSQL), so appends from any node form one unbroken sequence.
CREATE TABLE audit_heads (
    tenant      TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL
);
INSERT INTO audit_heads (tenant, seq)
    SELECT tenant, MAX(seq) FROM audit_records GROUP BY tenant;

-- One store-wide counter: every write of shared state bumps it and records what changed,
-- in the same transaction; nodes poll it to drop what they cached.
CREATE TABLE store_version (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     INTEGER NOT NULL
);
INSERT INTO store_version (id, version) VALUES (1, 0);

CREATE TABLE changes (
    version     INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL
);
