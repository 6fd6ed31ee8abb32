DROP TABLE instance_logs;
