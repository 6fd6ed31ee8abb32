ALTER TABLE products ADD COLUMN stock integer;

CREATE TABLE coupons (
    code            text PRIMARY KEY,
    percent_off     integer NOT NULL CHECK (percent_off BETWEEN 1 AND 100),
    uses_left       integer,
    expires_at      timestamptz
);

CREATE TABLE reviews (
    id           bigserial PRIMARY KEY,
    product_id   bigint NOT NULL REFERENCES products(id),
    customer_id  bigint NOT NULL REFERENCES customers(id),
    stars        integer NOT NULL CHECK (stars BETWEEN 1 AND 5),
    body         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (product_id, customer_id)
);
