DROP TABLE service_job_holds;
