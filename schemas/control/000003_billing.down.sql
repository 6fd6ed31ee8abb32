DROP INDEX IF EXISTS usage_spans_window_idx;
ALTER TABLE instances DROP COLUMN IF EXISTS expiry_warned_at;
ALTER TABLE instances DROP COLUMN IF EXISTS expires_at;
DROP TABLE IF EXISTS billing_close_failures;
DROP TABLE IF EXISTS invoice_lines;
DROP TABLE IF EXISTS invoices;
DROP TABLE IF EXISTS discounts;
DROP TABLE IF EXISTS module_prices;
