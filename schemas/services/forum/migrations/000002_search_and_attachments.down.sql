DROP TABLE attachments;
DROP INDEX posts_search_idx;
ALTER TABLE posts DROP COLUMN search;
