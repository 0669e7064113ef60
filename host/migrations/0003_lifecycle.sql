-- Tenant lifecycle (issue 15): a tenant is `active`, `offboarding` (an export window
-- until `shred_due_at`, writes refused) or `shredded` (keys destroyed, `deleted_at`).
-- Per-tenant retention settings, and the signed record of the last audit prune.
ALTER TABLE tenants ADD COLUMN state TEXT NOT NULL DEFAULT 'active';
ALTER TABLE tenants ADD COLUMN offboarding_since INTEGER;
ALTER TABLE tenants ADD COLUMN shred_due_at INTEGER;
ALTER TABLE tenants ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 2557;
ALTER TABLE tenants ADD COLUMN export_window_days INTEGER NOT NULL DEFAULT 90;
-- PruneRecord JSON: the chain starts after it (first kept seq and its previous hash).
ALTER TABLE tenants ADD COLUMN audit_prune TEXT;
UPDATE tenants SET state = 'shredded' WHERE deleted_at IS NOT NULL;
