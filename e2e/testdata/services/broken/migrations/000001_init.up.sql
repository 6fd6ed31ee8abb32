CREATE TABLE tenant_settings (
    key    text PRIMARY KEY,
    value  jsonb NOT NULL
);
