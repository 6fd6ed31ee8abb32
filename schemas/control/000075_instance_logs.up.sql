-- Each instance's own log: a line per request the host routers served
-- (batched like the meter) and the instance's events (provisioning,
-- module changes, maintenance, disable, failures) in one stream, kept for
-- a bounded time and number of lines (the LogRetention schedule prunes).
CREATE TABLE instance_logs (
    id           bigserial PRIMARY KEY,
    instance_id  uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    at           timestamptz NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('request', 'event')),
    -- A request line: what the router saw.
    method       text,
    path         text,
    status       integer,
    duration_us  bigint,
    router_id    text,
    -- An event line: what happened, recorded once per event key however
    -- often the activity that records it runs.
    event        text,
    detail       jsonb,
    event_key    text,
    CHECK ((kind = 'request') = (router_id IS NOT NULL)),
    CHECK ((kind = 'event') = (event IS NOT NULL AND event_key IS NOT NULL))
);
CREATE INDEX instance_logs_instance_idx ON instance_logs (instance_id, id);
CREATE INDEX instance_logs_at_idx ON instance_logs (at);

-- The batches of request lines the routers flushed: a retried flush (same
-- router, same batch) writes its lines once, without a unique key on every
-- line.
CREATE TABLE instance_log_batches (
    router_id   text NOT NULL,
    batch       bigint NOT NULL,
    flushed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (router_id, batch)
);
CREATE UNIQUE INDEX instance_logs_event_key ON instance_logs (event_key) WHERE kind = 'event';
