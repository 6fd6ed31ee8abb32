-- Ten minutes: the test cancels it long before.
CREATE TABLE before_the_sleep (id bigint PRIMARY KEY);
SELECT pg_sleep(600);
