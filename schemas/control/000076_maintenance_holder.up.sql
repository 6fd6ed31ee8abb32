-- Who holds an instance's maintenance: the workflow ID of the upgrade
-- (upgrade/<instance>/<version>) or the move (move/<instance>/<server>)
-- that turned it on; NULL when off, or when turned on by a caller that
-- names none. A second workflow cannot take it over, nor end it.
ALTER TABLE instances ADD COLUMN maintenance_by text;
