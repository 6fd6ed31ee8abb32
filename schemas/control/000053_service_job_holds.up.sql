-- A rollout holds a service's jobs while it drains and swaps: a job started
-- meanwhile is queued as held by that rollout and starts when it releases.
CREATE TABLE service_job_holds (
    service     text PRIMARY KEY,
    rollout_id  text NOT NULL,
    held_at     timestamptz NOT NULL DEFAULT now()
);
