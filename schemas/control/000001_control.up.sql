-- The control database: who the clients are, what we sell, what each client
-- runs, where its database lives, and what it is billed for.

CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES accounts(id),
    email          text NOT NULL CHECK (email = lower(email)),
    name           text NOT NULL,
    password_hash  text NOT NULL,
    role           text NOT NULL DEFAULT 'owner',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- Bearer tokens for the JSON API; only the SHA-256 of a token is stored.
CREATE TABLE api_sessions (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX api_sessions_user_idx ON api_sessions (user_id);

-- The service catalog, synced from schemas/services at start.
CREATE TABLE services (
    name             text PRIMARY KEY,
    description      text NOT NULL,
    current_version  text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE service_versions (
    service         text NOT NULL REFERENCES services(name),
    version         text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version > 0),
    PRIMARY KEY (service, version)
);

CREATE TABLE modules (
    service              text NOT NULL REFERENCES services(name),
    name                 text NOT NULL,
    description          text NOT NULL,
    required             boolean NOT NULL DEFAULT false,
    hourly_price_minor   bigint NOT NULL CHECK (hourly_price_minor >= 0),
    currency             text NOT NULL,
    PRIMARY KEY (service, name)
);

-- Database servers that host tenant databases. The admin DSN is encrypted.
CREATE TABLE database_servers (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL UNIQUE,
    host                 text NOT NULL,
    port                 integer NOT NULL,
    admin_dsn_encrypted  bytea NOT NULL,
    max_instances        integer NOT NULL DEFAULT 1000,
    active               boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instances (
    id                     uuid PRIMARY KEY,
    account_id             uuid NOT NULL REFERENCES accounts(id),
    service                text NOT NULL REFERENCES services(name),
    version                text NOT NULL,
    modules                text[] NOT NULL,
    status                 text NOT NULL CHECK (status IN
                             ('provisioning', 'ready', 'disabled', 'deleted', 'failed')),
    host                   text NOT NULL,
    host_registered_at     timestamptz,
    database_server_id     uuid REFERENCES database_servers(id),
    database_name          text,
    role_name              text,
    credentials_encrypted  bytea,
    failure_reason         text,
    disabled_at            timestamptz,
    delete_after           timestamptz,
    created_by             uuid REFERENCES users(id),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (service, version) REFERENCES service_versions(service, version)
);
-- A host belongs to one live instance; failed and deleted ones release it.
CREATE UNIQUE INDEX instances_live_host_key ON instances (host)
    WHERE status IN ('provisioning', 'ready', 'disabled');
CREATE INDEX instances_account_idx ON instances (account_id, created_at DESC);
CREATE INDEX instances_server_idx ON instances (database_server_id) WHERE status <> 'deleted';

-- What each instance is billed for: one span per module while it is enabled.
-- The rate is captured when the span opens, so a later price change never
-- rewrites history.
CREATE TABLE usage_spans (
    id                  bigserial PRIMARY KEY,
    instance_id         uuid NOT NULL REFERENCES instances(id),
    module              text NOT NULL,
    started_at          timestamptz NOT NULL,
    ended_at            timestamptz,
    hourly_rate_minor   bigint NOT NULL CHECK (hourly_rate_minor >= 0),
    currency            text NOT NULL,
    discount_ref        text,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX usage_spans_open_key ON usage_spans (instance_id, module) WHERE ended_at IS NULL;
CREATE UNIQUE INDEX usage_spans_start_key ON usage_spans (instance_id, module, started_at);

-- event_key makes a retried activity record its event once.
CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    event_key    text NOT NULL UNIQUE,
    account_id   uuid REFERENCES accounts(id),
    actor_id     uuid,
    action       text NOT NULL,
    object_type  text NOT NULL,
    object_id    text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_account_idx ON audit_log (account_id, at DESC);
