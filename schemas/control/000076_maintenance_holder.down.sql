ALTER TABLE instances DROP COLUMN maintenance_by;
