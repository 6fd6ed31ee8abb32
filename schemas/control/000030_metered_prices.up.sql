-- Metered request prices, synced from each service's manifest: a quota of
-- requests included per period, then a price per thousand beyond it.
ALTER TABLE services
    ADD COLUMN currency text NOT NULL DEFAULT 'EUR',
    ADD COLUMN included_requests bigint NOT NULL DEFAULT 0 CHECK (included_requests >= 0),
    ADD COLUMN requests_per_thousand_minor bigint NOT NULL DEFAULT 0 CHECK (requests_per_thousand_minor >= 0);
