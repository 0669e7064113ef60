-- Audit review (issue 14): the fields a reviewer filters by, read out of each record's
-- JSON by the database itself (generated columns: every insert path fills them, a
-- tampered record shows what it now says), each indexed with the sequence number so a
-- filtered page newest first is one index range scan, never a scan of the chain.
ALTER TABLE audit_records ADD COLUMN actor_id TEXT
    GENERATED ALWAYS AS (json_extract(record, '$.event.actor.id')) VIRTUAL;
ALTER TABLE audit_records ADD COLUMN actor_role TEXT
    GENERATED ALWAYS AS (json_extract(record, '$.event.actor.role')) VIRTUAL;
ALTER TABLE audit_records ADD COLUMN source_ip TEXT
    GENERATED ALWAYS AS (json_extract(record, '$.event.actor.sourceIp')) VIRTUAL;
ALTER TABLE audit_records ADD COLUMN action TEXT
    GENERATED ALWAYS AS (json_extract(record, '$.event.action')) VIRTUAL;
ALTER TABLE audit_records ADD COLUMN operation TEXT
    GENERATED ALWAYS AS (json_extract(record, '$.event.operation')) VIRTUAL;
ALTER TABLE audit_records ADD COLUMN outcome TEXT
    GENERATED ALWAYS AS (json_extract(record, '$.event.outcome')) VIRTUAL;
ALTER TABLE audit_records ADD COLUMN record_type TEXT
    GENERATED ALWAYS AS (json_extract(record, '$.event.record.type')) VIRTUAL;
ALTER TABLE audit_records ADD COLUMN record_id TEXT
    GENERATED ALWAYS AS (json_extract(record, '$.event.record.id')) VIRTUAL;
ALTER TABLE audit_records ADD COLUMN event_time INTEGER
    GENERATED ALWAYS AS (json_extract(record, '$.event.time')) VIRTUAL;

CREATE INDEX audit_by_actor ON audit_records(tenant, actor_id, seq);
CREATE INDEX audit_by_role ON audit_records(tenant, actor_role, seq);
CREATE INDEX audit_by_source_ip ON audit_records(tenant, source_ip, seq);
CREATE INDEX audit_by_action ON audit_records(tenant, action, seq);
CREATE INDEX audit_by_operation ON audit_records(tenant, operation, seq);
CREATE INDEX audit_by_outcome ON audit_records(tenant, outcome, seq);
CREATE INDEX audit_by_record ON audit_records(tenant, record_id, seq);
CREATE INDEX audit_by_time ON audit_records(tenant, event_time, seq);
