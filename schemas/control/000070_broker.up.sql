-- The Open Service Broker API (web/broker): the credentials a platform
-- signs in with, the platform's service instances mapped to Tenantry's,
-- and the bindings, each a read-only login role on the instance's database.

-- An account owner makes broker credentials in the console; the broker acts
-- for that account. Only the argon2id hash of the password is stored; a
-- request must also come from one of allowed_cidrs.
CREATE TABLE broker_credentials (
    id             uuid PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES accounts(id),
    created_by     uuid NOT NULL REFERENCES users(id),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    username       text NOT NULL UNIQUE,
    password_hash  text NOT NULL,
    allowed_cidrs  text[] NOT NULL CHECK (cardinality(allowed_cidrs) > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);
CREATE INDEX broker_credentials_account_idx ON broker_credentials (account_id, created_at DESC);

-- A platform's service instance (its instance_id is the key) and the
-- Tenantry instance it is. The instance row is written by EnableService,
-- after this one, so there is no foreign key. parameters are the request's
-- without the setup's password; operation is the last one asked for
-- (provision, modules, upgrade/<version>, deprovision).
CREATE TABLE broker_instances (
    osb_id         text PRIMARY KEY CHECK (length(osb_id) BETWEEN 1 AND 200),
    instance_id    uuid NOT NULL UNIQUE,
    account_id     uuid NOT NULL REFERENCES accounts(id),
    service_id     text NOT NULL,
    plan_id        text NOT NULL,
    parameters     jsonb NOT NULL DEFAULT '{}',
    operation      text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX broker_instances_account_idx ON broker_instances (account_id);

-- A binding: a login role of its own, read-only on the instance's
-- database. The Bind workflow's activity generates the password and seals
-- it here (AES-GCM, bound to the binding's id); it is erased once the
-- platform has been given it.
CREATE TABLE broker_bindings (
    id                  uuid PRIMARY KEY,
    osb_id              text NOT NULL UNIQUE CHECK (length(osb_id) BETWEEN 1 AND 200),
    instance_osb_id     text NOT NULL REFERENCES broker_instances(osb_id),
    instance_id         uuid NOT NULL,
    parameters          jsonb NOT NULL DEFAULT '{}',
    role_name           text NOT NULL UNIQUE,
    password_encrypted  bytea,
    state               text NOT NULL DEFAULT 'binding' CHECK (state IN ('binding', 'bound', 'unbinding', 'unbound')),
    delivered_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    bound_at            timestamptz,
    unbound_at          timestamptz
);
CREATE INDEX broker_bindings_instance_idx ON broker_bindings (instance_osb_id) WHERE state <> 'unbound';
