-- A rollout moves every instance of a service to a newer version (the
-- Rollout workflow, rollout/<service>/<version>). One row per rollout (its
-- id is the RolloutInput's, kept through continue-as-new); at most one
-- rollout of a service runs at a time.
CREATE TABLE rollouts (
    id           uuid PRIMARY KEY,
    workflow_id  text NOT NULL,
    service      text NOT NULL REFERENCES services(name),
    version      text NOT NULL,
    started_by   uuid REFERENCES users(id),
    options      jsonb NOT NULL DEFAULT '{}',
    -- NULL while it runs; then completed, completed_with_failures,
    -- aborted, failed (or stopped: its workflow closed without saying).
    outcome      text CHECK (outcome IN ('completed', 'completed_with_failures', 'aborted', 'failed', 'stopped')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    planned_at   timestamptz, -- when its instances were listed
    ended_at     timestamptz,
    FOREIGN KEY (service, version) REFERENCES service_versions(service, version)
);
CREATE UNIQUE INDEX rollouts_one_running_per_service ON rollouts (service) WHERE ended_at IS NULL;
CREATE INDEX rollouts_started_idx ON rollouts (started_at DESC);

-- The instances a rollout planned to move, and how each one went. The
-- workflow claims them batch by batch (batch 0 is the canary), so a
-- rollout over ten thousand instances carries none of them in its history.
CREATE TABLE rollout_instances (
    rollout_id    uuid NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
    instance_id   uuid NOT NULL REFERENCES instances(id),
    account_id    uuid NOT NULL,
    from_version  text NOT NULL,
    -- disabled in its grace period when planned: upgraded in place (its
    -- host is offline anyway), so it comes back on the new version.
    was_disabled  boolean NOT NULL DEFAULT false,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'queued', 'done', 'failed', 'skipped')),
    batch         integer,
    -- the retry (1, 2, ...) that last put it back in the queue after it failed
    retry_round   integer NOT NULL DEFAULT 0,
    error         text,
    ended_at      timestamptz,
    PRIMARY KEY (rollout_id, instance_id)
);
CREATE INDEX rollout_instances_state_idx ON rollout_instances (rollout_id, state, instance_id);
CREATE INDEX rollout_instances_instance_idx ON rollout_instances (instance_id);
