package devstack_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"tenantry/internal/devstack"
)

// privatePostgres starts a private cluster in a scratch state folder.
func privatePostgres(t *testing.T) (*devstack.Postgres, string) {
	t.Helper()
	if os.Getenv("DATABASE_URL") != "" {
		t.Skip("DATABASE_URL points at an external server")
	}
	state := devstack.TempStateDir(t)
	pg, err := devstack.StartPostgres(context.Background(), devstack.PostgresOptions{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	return pg, state
}

// requireSearchAttributes checks each namespace has the search attributes.
func requireSearchAttributes(t *testing.T, c client.Client, namespaces ...string) {
	t.Helper()
	for _, ns := range namespaces {
		resp, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		if err != nil {
			t.Fatalf("namespace %s: %v", ns, err)
		}
		for _, sa := range devstack.SearchAttributes {
			if _, ok := resp.GetCustomAttributes()[sa]; !ok {
				t.Errorf("namespace %s: search attribute %s not registered", ns, sa)
			}
		}
	}
}

func TestPostgresStartsResumesAndKeepsData(t *testing.T) {
	ctx := context.Background()
	pg, state := privatePostgres(t)
	exec(t, pg.AdminURL, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`)
	pg.Stop()

	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	conn, err := pgx.Connect(ctx, pg.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != 42 {
		t.Fatalf("data not kept across restart: v=%d err=%v", v, err)
	}
}

func TestTemporalDevServerRegistersSearchAttributes(t *testing.T) {
	ctx := context.Background()
	wd, _ := os.Getwd()
	tmp, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		ModuleDir: devstack.ModuleDirFrom(wd),
		DBFile:    filepath.Join(t.TempDir(), "temporal.db"),
		Namespace: "tenantry-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Stop()
	c, err := client.Dial(client.Options{HostPort: tmp.HostPort})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The configured namespace is created beside "default", with the
	// same search attributes.
	requireSearchAttributes(t, c, "default", "tenantry-test")
}

func exec(t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
}

func TestTemporalClusterOnPostgresRegistersAndResumes(t *testing.T) {
	ctx := context.Background()
	pg, state := privatePostgres(t)
	defer pg.Stop()
	wd, _ := os.Getwd()
	opts := devstack.ClusterOptions{ModuleDir: devstack.ModuleDirFrom(wd), AdminURL: pg.AdminURL,
		StateDir: filepath.Join(state, "temporal"), Namespace: "tenantry-test", UIPort: freePort(t)}
	for run := range 2 { // the second start resumes the same databases
		start := time.Now()
		cl, err := devstack.StartTemporalCluster(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("start %d: %s", run, time.Since(start))
		c, err := client.Dial(client.Options{HostPort: cl.HostPort})
		if err != nil {
			t.Fatal(err)
		}
		requireSearchAttributes(t, c, "default", "tenantry-test")
		c.Close()
		resp, err := http.Get(cl.UIURL)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("web UI at %s: %v %v", cl.UIURL, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
		cl.Stop()
	}
	// Every store lives in PostgreSQL: the history shards were created there.
	var shards int
	conn, err := pgx.Connect(ctx, testenvURL(pg.AdminURL, "temporal"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM shards`).Scan(&shards); err != nil || shards != 4 {
		t.Fatalf("%d history shards in PostgreSQL (%v), want 4", shards, err)
	}
}

func freePort(t *testing.T) int {
	p, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testenvURL points a PostgreSQL URL at another database.
func testenvURL(url, db string) string {
	return url[:strings.LastIndex(url, "/")+1] + db
}

// FreePorts gives distinct ports, none of them one already promised.
func TestFreePortsAreDistinct(t *testing.T) {
	promised, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		ports, err := devstack.FreePorts(6, promised)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]bool{promised: true}
		for _, p := range ports {
			if seen[p] {
				t.Fatalf("port %d twice in %v (promised %d)", p, ports, promised)
			}
			seen[p] = true
		}
	}
}
