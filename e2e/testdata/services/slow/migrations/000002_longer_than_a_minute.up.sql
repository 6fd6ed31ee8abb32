-- Longer than a local activity's one-minute attempt used to allow.
SELECT pg_sleep(65);
CREATE TABLE after_a_minute (id bigint PRIMARY KEY);
