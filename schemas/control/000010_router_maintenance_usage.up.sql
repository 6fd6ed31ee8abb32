-- Rollouts put an instance in maintenance while they migrate it; the host
-- router answers 503 with Retry-After meanwhile.
ALTER TABLE instances ADD COLUMN maintenance boolean NOT NULL DEFAULT false;

-- Metered usage, flushed by every host router in batches. One row per
-- router, flush window, instance and metric: a retried flush writes the same
-- key again and changes nothing, so nothing is ever counted twice.
CREATE TABLE usage_counts (
    router_id     text NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    instance_id   uuid NOT NULL REFERENCES instances(id),
    metric        text NOT NULL,
    count         bigint NOT NULL CHECK (count > 0),
    PRIMARY KEY (router_id, window_start, instance_id, metric),
    CHECK (window_end >= window_start)
);
CREATE INDEX usage_counts_instance_idx ON usage_counts (instance_id, window_start);
