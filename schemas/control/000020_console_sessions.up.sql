-- Console sessions (alexedwards/scs pgxstore): any web process can serve any
-- signed-in user. The token is random; data holds the user ID.
CREATE TABLE sessions (
    token   text PRIMARY KEY,
    data    bytea NOT NULL,
    expiry  timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);
