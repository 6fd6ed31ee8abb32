-- Runs after the migrations, as the tenant's own role, on every provision and
-- retry: every statement must be idempotent. The engine sets the tenantry.*
-- settings for this session before running it.
INSERT INTO tenant_settings (key, value) VALUES
    ('language', to_jsonb(current_setting('tenantry.language'))),
    ('modules',  current_setting('tenantry.modules')::jsonb)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;

INSERT INTO customers (email, display_name, password_hash, is_admin)
VALUES (current_setting('tenantry.admin_email'), current_setting('tenantry.admin_name'),
        current_setting('tenantry.admin_password_hash'), true)
ON CONFLICT (email) DO UPDATE
    SET display_name = EXCLUDED.display_name, password_hash = EXCLUDED.password_hash, is_admin = true;

-- A first product, so a new store has something to show.
INSERT INTO products (sku, title, description, price_minor)
VALUES ('welcome-mug', 'Welcome mug', 'A mug to say hello.', 1200)
ON CONFLICT (sku) DO NOTHING;
