-- forum 1.2.0: moderators pin threads to the top of a board, and the
-- attachments module is retired. Its rows are kept (renamed, read-only for
-- the service) so nothing a client stored is lost; the module's billing
-- ends when an instance is swapped to 1.2.0.
ALTER TABLE threads ADD COLUMN pinned boolean NOT NULL DEFAULT false;
DROP INDEX threads_board_idx;
CREATE INDEX threads_board_idx ON threads (board_id, pinned DESC, created_at DESC);

ALTER TABLE attachments RENAME TO retired_attachments;
