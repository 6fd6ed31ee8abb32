ALTER TABLE services DROP COLUMN requests_per_thousand_minor, DROP COLUMN included_requests, DROP COLUMN currency;
