-- The fleet of database servers: what the last check found, so operators
-- see a server that is unreachable or open to tenants without asking it.
ALTER TABLE database_servers
    ADD COLUMN checked_at     timestamptz,
    ADD COLUMN check_problems text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT database_servers_capacity_check CHECK (max_instances >= 0);
