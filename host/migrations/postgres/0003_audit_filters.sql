-- Audit review (issue 14): the fields a reviewer filters by, read out of each record's
-- JSON by the database itself (generated columns: every insert path fills them, a
-- tampered record shows what it now says), each indexed with the sequence number so a
-- filtered page newest first is one index range scan, never a scan of the chain.
ALTER TABLE audit_records
    ADD COLUMN actor_id TEXT GENERATED ALWAYS AS (record::jsonb #>> '{event,actor,id}') STORED,
    ADD COLUMN actor_role TEXT GENERATED ALWAYS AS (record::jsonb #>> '{event,actor,role}') STORED,
    ADD COLUMN source_ip TEXT GENERATED ALWAYS AS (record::jsonb #>> '{event,actor,sourceIp}') STORED,
    ADD COLUMN action TEXT GENERATED ALWAYS AS (record::jsonb #>> '{event,action}') STORED,
    ADD COLUMN operation TEXT GENERATED ALWAYS AS (record::jsonb #>> '{event,operation}') STORED,
    ADD COLUMN outcome TEXT GENERATED ALWAYS AS (record::jsonb #>> '{event,outcome}') STORED,
    ADD COLUMN record_type TEXT GENERATED ALWAYS AS (record::jsonb #>> '{event,record,type}') STORED,
    ADD COLUMN record_id TEXT GENERATED ALWAYS AS (record::jsonb #>> '{event,record,id}') STORED,
    ADD COLUMN event_time BIGINT GENERATED ALWAYS AS ((record::jsonb #>> '{event,time}')::bigint) STORED;

CREATE INDEX audit_by_actor ON audit_records(tenant, actor_id, seq);
CREATE INDEX audit_by_role ON audit_records(tenant, actor_role, seq);
CREATE INDEX audit_by_source_ip ON audit_records(tenant, source_ip, seq);
CREATE INDEX audit_by_action ON audit_records(tenant, action, seq);
CREATE INDEX audit_by_operation ON audit_records(tenant, operation, seq);
CREATE INDEX audit_by_outcome ON audit_records(tenant, outcome, seq);
CREATE INDEX audit_by_record ON audit_records(tenant, record_id, seq);
CREATE INDEX audit_by_time ON audit_records(tenant, event_time, seq);
