CREATE TABLE tenant_settings (
    key    text PRIMARY KEY,
    value  jsonb NOT NULL
);

CREATE TABLE customers (
    id             bigserial PRIMARY KEY,
    email          text NOT NULL UNIQUE,
    display_name   text NOT NULL,
    password_hash  text NOT NULL,
    is_admin       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id           bigserial PRIMARY KEY,
    sku          text NOT NULL UNIQUE,
    title        text NOT NULL,
    description  text NOT NULL DEFAULT '',
    price_minor  bigint NOT NULL CHECK (price_minor >= 0),
    active       boolean NOT NULL DEFAULT true
);

CREATE TABLE orders (
    id           bigserial PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customers(id),
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid', 'shipped', 'cancelled')),
    total_minor  bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_idx ON orders (customer_id, created_at DESC);

CREATE TABLE order_lines (
    order_id     bigint NOT NULL REFERENCES orders(id),
    product_id   bigint NOT NULL REFERENCES products(id),
    quantity     integer NOT NULL CHECK (quantity > 0),
    price_minor  bigint NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

-- Customers' browser sessions live in the tenant database, so any host
-- router process serves them. Only the SHA-256 of the cookie is stored.
CREATE TABLE customer_sessions (
    token_hash   bytea PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX customer_sessions_customer_idx ON customer_sessions (customer_id);

CREATE TABLE cart_items (
    customer_id  bigint NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    product_id   bigint NOT NULL REFERENCES products(id),
    quantity     integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    PRIMARY KEY (customer_id, product_id)
);
