DROP TABLE usage_counts;
ALTER TABLE instances DROP COLUMN maintenance;
