package servicejobs_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/migrator"
	"tenantry/internal/servicejobs"
	"tenantry/internal/testenv"
	"tenantry/schemas"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func shipped(t *testing.T) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(schemas.Services())
	require.NoError(t, err)
	return cat
}

// TestEveryJobHasCodeForEveryVersion keeps the manifests and the code in
// step: each job a version offers has exactly one implementation for that
// version's schema, and each implementation belongs to a declared job.
func TestEveryJobHasCodeForEveryVersion(t *testing.T) {
	cat := shipped(t)
	jobs := 0
	for _, name := range cat.Names() {
		svc, _ := cat.Service(name)
		require.NotEmpty(t, svc.Jobs, "%s declares no jobs", name)
		for _, v := range svc.Versions {
			for _, j := range svc.JobsAt(v.Version) {
				n := 0
				for _, impl := range servicejobs.All() {
					if impl.Service == name && impl.Job == j.Name && impl.From <= v.SchemaVersion && (impl.To == 0 || v.SchemaVersion <= impl.To) {
						n++
					}
				}
				assert.Equal(t, 1, n, "%s %s (schema %d): implementations of %s", name, v.Version, v.SchemaVersion, j.Name)
				jobs++
			}
		}
	}
	for _, impl := range servicejobs.All() {
		svc, err := cat.Service(impl.Service)
		require.NoError(t, err)
		found := false
		for _, j := range svc.Jobs {
			found = found || j.Name == impl.Job
		}
		assert.True(t, found, "%s has code for %q, which its manifest does not declare", impl.Service, impl.Job)
	}
	assert.Positive(t, jobs)
	_, err := servicejobs.For("forum", "rebuild_search_index", 1)
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(err), "schema 1 has no search index")
}

// tenant is a database of the service migrated to schema.
func tenant(t *testing.T, service string, schema uint) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	url := testenv.NewDatabase(t, "job_")
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	svc, err := shipped(t).Service(service)
	require.NoError(t, err)
	require.NoError(t, migrator.Migrate(ctx, cfg, svc.Migrations, schema))
	conn, err := pgx.ConnectConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func run(t *testing.T, conn *pgx.Conn, service, job string, schema uint) servicejobs.Result {
	t.Helper()
	impl, err := servicejobs.For(service, job, schema)
	require.NoError(t, err)
	r, err := impl.Run(context.Background(), conn)
	require.NoError(t, err)
	return r
}

func exec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	_, err := conn.Exec(context.Background(), sql)
	require.NoError(t, err)
}

func setting(t *testing.T, conn *pgx.Conn, key string) map[string]any {
	t.Helper()
	var raw []byte
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT value FROM tenant_settings WHERE key = $1`, key).Scan(&raw))
	var v map[string]any
	require.NoError(t, json.Unmarshal(raw, &v))
	return v
}

const forumRows = `
	INSERT INTO members (email, display_name, password_hash) VALUES ('a@x.test', 'A', 'h');
	INSERT INTO boards (slug, title) VALUES ('general', 'General'), ('empty', 'Empty');
	INSERT INTO threads (board_id, author_id, title) VALUES (1, 1, 'one'), (1, 1, 'two');
	INSERT INTO posts (thread_id, author_id, body, hidden) VALUES (1, 1, 'hello world', false), (1, 1, 'spam', true), (2, 1, 'hi', false);`

func TestForumJobsPerSchema(t *testing.T) {
	old := tenant(t, "forum", 1)
	exec(t, old, forumRows)
	r := run(t, old, "forum", "refresh_board_stats", 1)
	assert.Equal(t, map[string]int64{"boards": 2, "threads": 2, "posts": 3}, r.Counts)
	assert.Equal(t, map[string]any{"threads": 2.0, "posts": 3.0, "hidden": 1.0, "pinned": 0.0}, setting(t, old, "board_stats")["general"])

	pinned := tenant(t, "forum", 3)
	exec(t, pinned, forumRows+`UPDATE threads SET pinned = true WHERE id = 2;`)
	r = run(t, pinned, "forum", "refresh_board_stats", 3)
	assert.Equal(t, map[string]int64{"boards": 2, "threads": 2, "posts": 3, "pinned": 1}, r.Counts)
	assert.Contains(t, r.Summary, "1 pinned")

	r = run(t, pinned, "forum", "rebuild_search_index", 3)
	assert.Equal(t, "rebuilt the search index over 3 posts", r.Summary)
}

func TestStoreJobsPerSchema(t *testing.T) {
	rows := `
		INSERT INTO customers (email, display_name, password_hash) VALUES ('c@x.test', 'C', 'h');
		INSERT INTO products (sku, title, price_minor) VALUES ('mug', 'Mug', 900);
		INSERT INTO orders (customer_id, status, total_minor) VALUES (1, 'paid', 900), (1, 'shipped', 1800), (1, 'open', 900);`
	old := tenant(t, "store", 1)
	exec(t, old, rows)
	r := run(t, old, "store", "summarise_orders", 1)
	assert.Equal(t, map[string]int64{"orders": 3, "revenue_minor": 2700}, r.Counts)
	assert.Equal(t, map[string]any{"paid": 1.0, "shipped": 1.0, "open": 1.0}, setting(t, old, "order_summary")["by_status"])

	reviewed := tenant(t, "store", 2)
	exec(t, reviewed, rows+`INSERT INTO reviews (product_id, customer_id, stars) VALUES (1, 1, 4);`)
	r = run(t, reviewed, "store", "summarise_orders", 2)
	assert.Equal(t, map[string]int64{"orders": 3, "revenue_minor": 2700, "reviews": 1, "average_stars_x100": 400}, r.Counts)
}
