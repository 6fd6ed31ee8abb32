DROP TABLE instance_log_batches;
DROP TABLE instance_logs;
