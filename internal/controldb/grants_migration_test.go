package controldb_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/migrator"
	"tenantry/internal/testenv"
	"tenantry/schemas"
)

// beforeGrants is the last control schema with users.role and
// users.account_id; the grants migration follows it.
const beforeGrants = 40

// TestGrantsMigration migrates data of the old shape (one account and one
// role per user) to grants and back.
func TestGrantsMigration(t *testing.T) {
	ctx := context.Background()
	url := testenv.NewDatabase(t, "grants_")
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	migrate := func(version uint) {
		t.Helper()
		if err := migrator.Migrate(ctx, cfg, schemas.Control(), version); err != nil {
			t.Fatalf("migrate to %d: %v", version, err)
		}
	}
	migrate(beforeGrants)
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	exec := func(sql string) {
		t.Helper()
		if _, err := db.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	// lines answers a query whose rows are one text column each.
	lines := func(sql string) []string {
		t.Helper()
		rows, err := db.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	expect := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got  %q\n want %q", what, got, want)
		}
	}
	usersColumns := `SELECT column_name || ' ' || is_nullable FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'users' AND column_name IN ('account_id', 'role')
		ORDER BY column_name`
	oldUsers := `SELECT u.email || ' ' || u.role || ' ' || a.name FROM users u JOIN accounts a ON a.id = u.account_id ORDER BY u.email`
	oldShape := []string{"ann owner Acme", "bill billing Acme", "bo owner Beta", "dev developer Beta", "mo member Acme"}

	exec(`
		INSERT INTO accounts (id, name) VALUES
			('00000000-0000-0000-0000-00000000000a', 'Acme'), ('00000000-0000-0000-0000-00000000000b', 'Beta');
		INSERT INTO users (id, account_id, email, name, password_hash, role, created_at) VALUES
			('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-00000000000a', 'ann', 'Ann', 'x', 'owner', now() - interval '5 days'),
			('00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-00000000000a', 'mo', 'Mo', 'x', 'member', now() - interval '4 days'),
			('00000000-0000-0000-0000-0000000000a3', '00000000-0000-0000-0000-00000000000a', 'bill', 'Bill', 'x', 'billing', now() - interval '3 days'),
			('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-00000000000b', 'dev', 'Dev', 'x', 'developer', now() - interval '2 days'),
			('00000000-0000-0000-0000-0000000000b2', '00000000-0000-0000-0000-00000000000b', 'bo', 'Bo', 'x', 'owner', now() - interval '1 day');
		INSERT INTO api_sessions (token_hash, user_id, expires_at) VALUES
			('\x01', '00000000-0000-0000-0000-0000000000a2', now() + interval '1 day'),
			('\x02', '00000000-0000-0000-0000-0000000000b1', now() + interval '1 day');
		INSERT INTO api_tokens (id, user_id, name, token_hash, permissions) VALUES
			('00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000a3', 'books', '\x03', '{billing.read}'),
			('00000000-0000-0000-0000-0000000000f2', '00000000-0000-0000-0000-0000000000b1', 'ci', '\x04', '{*}')`)
	expect("users before", lines(oldUsers), oldShape...)

	migrate(migrator.Latest)
	grants := `SELECT u.email || ' ' || g.role || ' ' || coalesce(a.name, 'platform') FROM grants g
		JOIN users u ON u.id = g.user_id LEFT JOIN accounts a ON a.id = g.account_id ORDER BY 1`
	newShape := []string{"ann owner Acme", "bill billing Acme", "bo owner Beta", "dev developer platform", "dev owner Beta", "mo member Acme"}
	expect("grants", lines(grants), newShape...)
	expect("login tokens' accounts", lines(`SELECT u.email || ' ' || a.name FROM api_sessions s
		JOIN users u ON u.id = s.user_id JOIN accounts a ON a.id = s.account_id ORDER BY 1`), "dev Beta", "mo Acme")
	expect("API tokens' accounts", lines(`SELECT u.email || ' ' || a.name FROM api_tokens t
		JOIN users u ON u.id = t.user_id JOIN accounts a ON a.id = t.account_id ORDER BY 1`), "bill Acme", "dev Beta")
	expect("users' old columns", lines(usersColumns))

	// Ann joins Beta later: going back, a user keeps their oldest account.
	exec(`INSERT INTO grants (user_id, role, account_id) VALUES
		('00000000-0000-0000-0000-0000000000a1', 'billing', '00000000-0000-0000-0000-00000000000b')`)
	migrate(beforeGrants)
	expect("users after going back", lines(oldUsers), oldShape...)
	expect("users' columns after going back", lines(usersColumns), "account_id NO", "role NO")
	expect("tables and columns dropped", lines(`SELECT table_name || '.' || column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND (table_name = 'grants' OR
			(table_name IN ('api_sessions', 'api_tokens') AND column_name = 'account_id'))`))
	expect("tokens kept", lines(`SELECT name FROM api_tokens ORDER BY 1`), "books", "ci")

	// And forth again: the same grants as the first time.
	migrate(migrator.Latest)
	expect("grants again", lines(grants), newShape...)
}
