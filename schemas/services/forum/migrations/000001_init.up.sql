CREATE TABLE tenant_settings (
    key    text PRIMARY KEY,
    value  jsonb NOT NULL
);

CREATE TABLE members (
    id             bigserial PRIMARY KEY,
    email          text NOT NULL UNIQUE,
    display_name   text NOT NULL,
    password_hash  text NOT NULL,
    is_admin       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE boards (
    id           bigserial PRIMARY KEY,
    slug         text NOT NULL UNIQUE,
    title        text NOT NULL,
    description  text NOT NULL DEFAULT '',
    position     integer NOT NULL DEFAULT 0
);

CREATE TABLE threads (
    id          bigserial PRIMARY KEY,
    board_id    bigint NOT NULL REFERENCES boards(id),
    author_id   bigint NOT NULL REFERENCES members(id),
    title       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX threads_board_idx ON threads (board_id, created_at DESC);

CREATE TABLE posts (
    id          bigserial PRIMARY KEY,
    thread_id   bigint NOT NULL REFERENCES threads(id),
    author_id   bigint NOT NULL REFERENCES members(id),
    body        text NOT NULL,
    hidden      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX posts_thread_idx ON posts (thread_id, created_at);

-- Members' browser sessions live in the tenant database, so any host router
-- process serves them. Only the SHA-256 of the cookie is stored.
CREATE TABLE member_sessions (
    token_hash  bytea PRIMARY KEY,
    member_id   bigint NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX member_sessions_member_idx ON member_sessions (member_id);
