-- A service's background jobs, one row per run a client asked for: the
-- service version and schema it was queued under (its code is that
-- version's), where it stands and what it did.
CREATE TABLE service_jobs (
    id              uuid PRIMARY KEY,
    instance_id     uuid NOT NULL REFERENCES instances(id),
    service         text NOT NULL,
    job             text NOT NULL,
    version         text NOT NULL,
    schema_version  integer NOT NULL CHECK (schema_version > 0),
    actor_id        uuid,
    status          text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'held', 'running', 'completed', 'failed', 'cancelled')),
    held_by         text,
    result          jsonb,
    error           text,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX service_jobs_instance_idx ON service_jobs (instance_id, queued_at DESC);
CREATE INDEX service_jobs_live_idx ON service_jobs (service, status) WHERE status IN ('queued', 'held', 'running');
