CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL);
ALTER TABLE tenant_settings ADD COLUMN changed_at timestamptz;
