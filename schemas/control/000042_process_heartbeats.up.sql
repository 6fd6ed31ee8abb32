-- Every live Tenantry process (web, worker, host router) says it is alive,
-- which build it runs and which service versions it can serve; rollouts
-- wait until every live process can serve their target, and the
-- developers' pages list them. A process that runs several parts (the dev
-- stack) keeps one row per part.
CREATE TABLE process_heartbeats (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('web', 'worker', 'router')),
    host        text NOT NULL,
    pid         integer NOT NULL,
    build       text NOT NULL,
    -- {"forum": ["1.0.0", "1.2.0"], ...}
    versions    jsonb NOT NULL DEFAULT '{}',
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX process_heartbeats_last_seen_idx ON process_heartbeats (last_seen);
