ALTER TABLE retired_attachments RENAME TO attachments;

DROP INDEX threads_board_idx;
CREATE INDEX threads_board_idx ON threads (board_id, created_at DESC);
ALTER TABLE threads DROP COLUMN pinned;
