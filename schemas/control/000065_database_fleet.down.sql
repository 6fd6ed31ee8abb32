ALTER TABLE database_servers
    DROP CONSTRAINT database_servers_capacity_check,
    DROP COLUMN check_problems,
    DROP COLUMN checked_at;
