-- Failed logins per account (email) and per address, shared by every web
-- process so the limit holds however many there are. Unlogged: a crash
-- forgets recent failures, which costs an attacker nothing worth keeping
-- WAL for.
CREATE UNLOGGED TABLE login_failures (
    id   bigserial PRIMARY KEY,
    key  text NOT NULL,
    at   timestamptz NOT NULL
);
CREATE INDEX login_failures_key_at_idx ON login_failures (key, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);
