-- Tenant roles live on the same server in dev: none of them may connect to
-- the control database. Only its owner (and superusers) keep access.
DO $$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
END
$$;
