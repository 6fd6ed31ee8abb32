-- One grants model: a user holds a role on an account (owner, member,
-- billing) or on the platform (developer, billing-operator). A user may
-- belong to several accounts; an account may have several members. This
-- replaces users.role, users.account_id and the TENANTRY_OPERATORS list.
CREATE TABLE grants (
    user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        text NOT NULL,
    -- NULL is the platform: every account, for the platform's own roles.
    account_id  uuid REFERENCES accounts(id) ON DELETE CASCADE,
    granted_by  uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT grants_role_fits_scope CHECK (
        (account_id IS NULL AND role IN ('developer', 'billing-operator')) OR
        (account_id IS NOT NULL AND role IN ('owner', 'member', 'billing')))
);
-- One role per member of an account; each platform role once per user.
CREATE UNIQUE INDEX grants_account_member_key ON grants (account_id, user_id) WHERE account_id IS NOT NULL;
CREATE UNIQUE INDEX grants_platform_role_key ON grants (user_id, role) WHERE account_id IS NULL;
CREATE INDEX grants_user_idx ON grants (user_id, created_at);

-- Every user keeps the role they had on their account. The old developer
-- role held everything on its own account and the platform's console: it
-- becomes the account's owner plus the platform's developer.
INSERT INTO grants (user_id, role, account_id, created_at)
SELECT id, CASE WHEN role IN ('owner', 'member', 'billing') THEN role ELSE 'owner' END, account_id, created_at FROM users;
INSERT INTO grants (user_id, role, account_id, created_at)
SELECT id, 'developer', NULL, created_at FROM users WHERE role = 'developer';

-- A login or an API token acts on one account of its user.
ALTER TABLE api_sessions ADD COLUMN account_id uuid REFERENCES accounts(id) ON DELETE CASCADE;
UPDATE api_sessions s SET account_id = u.account_id FROM users u WHERE u.id = s.user_id;
ALTER TABLE api_sessions ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE api_tokens ADD COLUMN account_id uuid REFERENCES accounts(id) ON DELETE CASCADE;
UPDATE api_tokens t SET account_id = u.account_id FROM users u WHERE u.id = t.user_id;
ALTER TABLE api_tokens ALTER COLUMN account_id SET NOT NULL;

ALTER TABLE users DROP COLUMN role;
ALTER TABLE users DROP COLUMN account_id;
