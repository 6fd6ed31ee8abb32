INSERT INTO tenant_settings (key, value) VALUES
    ('language', to_jsonb(current_setting('tenantry.language'))),
    ('modules',  current_setting('tenantry.modules')::jsonb)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
