-- A rollout holds a service's jobs while it drains them: new jobs are
-- accepted and queued but wait until the hold is released.
CREATE TABLE service_job_holds (
    service     text PRIMARY KEY,
    rollout_id  text NOT NULL,
    held_at     timestamptz NOT NULL DEFAULT now()
);
