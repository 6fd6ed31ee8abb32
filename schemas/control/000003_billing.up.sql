-- Billing: module price history, discounts, instance expiry, and one
-- invoice per account and period with lines that explain themselves.
-- Every amount is an integer in minor units (cents).

-- What a module costs from an instant on. The modules table keeps the
-- current price; this keeps every price a module has had, so a change is
-- applied from its instant (open spans are closed and reopened there).
CREATE TABLE module_prices (
    service             text NOT NULL,
    module              text NOT NULL,
    effective_at        timestamptz NOT NULL,
    hourly_price_minor  bigint NOT NULL CHECK (hourly_price_minor >= 0),
    currency            text NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, module, effective_at),
    FOREIGN KEY (service, module) REFERENCES modules(service, name)
);

-- A discount of an account, limited to a service, a module of a service, or
-- (both null) the whole account; valid for a number of periods in which it
-- applied, or until an instant, or both.
CREATE TABLE discounts (
    id             uuid PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES accounts(id),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    reason         text NOT NULL DEFAULT '',
    kind           text NOT NULL CHECK (kind IN ('percent', 'fixed')),
    percent_bp     integer CHECK (percent_bp BETWEEN 1 AND 10000), -- basis points: 2500 = 25 %
    amount_minor   bigint CHECK (amount_minor > 0),
    service        text REFERENCES services(name),
    module         text,
    valid_from     timestamptz NOT NULL DEFAULT now(),
    valid_until    timestamptz,
    periods        integer CHECK (periods > 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'percent') = (percent_bp IS NOT NULL)),
    CHECK ((kind = 'fixed') = (amount_minor IS NOT NULL)),
    CHECK (module IS NULL OR service IS NOT NULL),
    CHECK (valid_until IS NULL OR valid_until > valid_from)
);
CREATE INDEX discounts_account_idx ON discounts (account_id);

-- One invoice per account and period: the unique key is what makes closing
-- a period idempotent whatever retries, resets or duplicates happen.
CREATE TABLE invoices (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts(id),
    period_start     timestamptz NOT NULL,
    period_end       timestamptz NOT NULL CHECK (period_end > period_start),
    currency         text NOT NULL,
    subtotal_minor   bigint NOT NULL,
    discount_minor   bigint NOT NULL,
    total_minor      bigint NOT NULL CHECK (total_minor >= 0),
    closed_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, period_start)
);
CREATE INDEX invoices_period_idx ON invoices (period_start);

CREATE TABLE invoice_lines (
    invoice_id     uuid NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    position       integer NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('module', 'metered', 'discount')),
    instance_id    uuid REFERENCES instances(id),
    service        text NOT NULL DEFAULT '',
    module         text NOT NULL DEFAULT '',
    span_id        bigint REFERENCES usage_spans(id),
    discount_id    uuid REFERENCES discounts(id),
    from_at        timestamptz,
    to_at          timestamptz,
    quantity       bigint NOT NULL DEFAULT 0, -- seconds for module time, requests for metered usage
    rate_minor     bigint NOT NULL DEFAULT 0, -- per hour, per thousand requests, or basis points
    amount_minor   bigint NOT NULL,           -- negative for a discount
    explanation    text NOT NULL,
    PRIMARY KEY (invoice_id, position)
);
CREATE INDEX invoice_lines_discount_idx ON invoice_lines (discount_id) WHERE discount_id IS NOT NULL;

-- A period close that failed, for the developers' page; cleared when the
-- close succeeds.
CREATE TABLE billing_close_failures (
    account_id    uuid NOT NULL REFERENCES accounts(id),
    period_start  timestamptz NOT NULL,
    error         text NOT NULL,
    attempts      integer NOT NULL DEFAULT 1,
    last_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, period_start)
);

-- An instance may end (a trial, a prepaid term): warned before, disabled at.
ALTER TABLE instances ADD COLUMN expires_at timestamptz;
ALTER TABLE instances ADD COLUMN expiry_warned_at timestamptz;

CREATE INDEX usage_spans_window_idx ON usage_spans (instance_id, started_at);
