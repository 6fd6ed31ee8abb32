-- Back to one account and one role per user: each user keeps their oldest
-- account membership; a platform developer becomes that account's developer.
ALTER TABLE users ADD COLUMN account_id uuid REFERENCES accounts(id);
ALTER TABLE users ADD COLUMN role text NOT NULL DEFAULT 'owner';
UPDATE users u SET account_id = g.account_id, role = g.role
FROM (SELECT DISTINCT ON (user_id) user_id, account_id, role FROM grants
      WHERE account_id IS NOT NULL ORDER BY user_id, created_at) g
WHERE g.user_id = u.id;
UPDATE users u SET role = 'developer'
WHERE EXISTS (SELECT 1 FROM grants g WHERE g.user_id = u.id AND g.account_id IS NULL AND g.role = 'developer');
DELETE FROM users WHERE account_id IS NULL;
ALTER TABLE users ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE api_tokens DROP COLUMN account_id;
ALTER TABLE api_sessions DROP COLUMN account_id;
DROP TABLE grants;
