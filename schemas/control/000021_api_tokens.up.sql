-- API tokens for the JSON API, made in the console: scoped to some of the
-- user's permissions, optionally expiring, revocable. Only the SHA-256 of a
-- token is stored; the token itself is shown once.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash   bytea NOT NULL UNIQUE,
    permissions  text[] NOT NULL CHECK (cardinality(permissions) > 0),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, created_at DESC);
