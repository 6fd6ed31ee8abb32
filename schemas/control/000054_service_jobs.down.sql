DROP TABLE service_jobs;
