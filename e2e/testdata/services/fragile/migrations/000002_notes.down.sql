ALTER TABLE tenant_settings DROP COLUMN changed_at;
DROP TABLE notes;
