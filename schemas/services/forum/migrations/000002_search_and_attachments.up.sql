ALTER TABLE posts ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED;
CREATE INDEX posts_search_idx ON posts USING gin (search);

CREATE TABLE attachments (
    id          bigserial PRIMARY KEY,
    post_id     bigint NOT NULL REFERENCES posts(id),
    file_name   text NOT NULL,
    byte_size   bigint NOT NULL CHECK (byte_size >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
