package migrator_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/migrator"
	"tenantry/internal/testenv"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(childEnv); url != "" {
		os.Exit(migrateAsChild(url))
	}
	testenv.Main(m)
}

func files(second string) fstest.MapFS {
	return fstest.MapFS{
		"000001_a.up.sql":   {Data: []byte("CREATE TABLE a (id int);")},
		"000001_a.down.sql": {Data: []byte("DROP TABLE a;")},
		"000002_b.up.sql":   {Data: []byte(second)},
		"000002_b.down.sql": {Data: []byte("DROP TABLE b;")},
	}
}

// TestCancelStopsTheRunningStatement: cancelling the context stops a
// migration in the middle of its statement; its file rolls back, and the
// next run (with the file fixed) migrates on from the version before.
func TestCancelStopsTheRunningStatement(t *testing.T) {
	url := testenv.NewDatabase(t, "migrator_")
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	t0 := time.Now()
	err = migrator.Migrate(ctx, cfg, files("CREATE TABLE b (id int); SELECT pg_sleep(60);"), migrator.Latest)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled migration: %v", err)
	}
	took := time.Since(t0)
	t.Logf("stopped %s after the start (cancelled at 1s)", took.Round(10*time.Millisecond))
	if took > 10*time.Second {
		t.Fatalf("the cancelled migration took %s to stop", took)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var a, b bool
	var sleeping int
	if err := conn.QueryRow(context.Background(), `SELECT to_regclass('a') IS NOT NULL, to_regclass('b') IS NOT NULL,
		(SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid())`).Scan(&a, &b, &sleeping); err != nil {
		t.Fatal(err)
	}
	if !a || b || sleeping != 0 {
		t.Fatalf("after the cancel: table a %t, table b %t (rolled back?), statements still running %d", a, b, sleeping)
	}
	if err := migrator.Migrate(context.Background(), cfg, files("CREATE TABLE b (id int);"), migrator.Latest); err != nil {
		t.Fatalf("migrating on: %v", err)
	}
	if err := conn.QueryRow(context.Background(), `SELECT to_regclass('b') IS NOT NULL`).Scan(&b); err != nil || !b {
		t.Fatalf("table b after migrating on: %t %v", b, err)
	}
}
