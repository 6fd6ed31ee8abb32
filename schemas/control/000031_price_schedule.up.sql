-- The price changes scheduled in the manifests, synced at start. A row is
-- 'scheduled' until its PriceChange workflow applies it at its instant
-- ('applied', applied_at says when it actually ran, perhaps late), or until
-- it leaves the manifest before then ('cancelled'; it is scheduled again if
-- it comes back). An applied row is history: it is never changed.
CREATE TABLE price_schedule (
    service             text NOT NULL,
    module              text NOT NULL,
    effective_at        timestamptz NOT NULL,
    hourly_price_minor  bigint NOT NULL CHECK (hourly_price_minor >= 0),
    currency            text NOT NULL,
    status              text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'applied', 'cancelled')),
    applied_at          timestamptz,
    cancelled_at        timestamptz,
    synced_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, module, effective_at),
    FOREIGN KEY (service, module) REFERENCES modules(service, name),
    CHECK ((status = 'applied') = (applied_at IS NOT NULL))
);
CREATE INDEX price_schedule_pending_idx ON price_schedule (effective_at) WHERE status = 'scheduled';
