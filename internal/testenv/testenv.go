// Package testenv gives tests real parts: one private PostgreSQL cluster per
// test binary (or the server at DATABASE_URL), and a fresh, migrated control
// database per test.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/activities"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/internal/dbserver"
	"tenantry/internal/devstack"
	"tenantry/internal/secret"
	"tenantry/schemas"
)

var (
	once     sync.Once
	cluster  *devstack.Postgres
	stateDir string
	adminURL string
	startErr error
)

// Main runs a package's tests and stops the clusters afterwards. Use it
// from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
		_ = os.RemoveAll(stateDir)
	}
	if second.cluster != nil {
		second.cluster.Stop()
		_ = os.RemoveAll(second.dir)
	}
	os.Exit(code)
}

// second is another private cluster, for tests of a fleet of servers.
var second struct {
	once    sync.Once
	cluster *devstack.Postgres
	dir     string
	err     error
}

// SecondServerURL is a superuser URL to a second PostgreSQL server (its
// own private cluster, started once per test binary), a database server
// of the fleet beside ServerURL's.
func SecondServerURL(tb testing.TB) string {
	tb.Helper()
	second.once.Do(func() {
		if second.dir, second.err = devstack.ScratchDir("tenantry-pg2-"); second.err != nil {
			return
		}
		second.cluster, second.err = devstack.StartPostgres(context.Background(), devstack.PostgresOptions{StateDir: second.dir})
	})
	if second.err != nil {
		tb.Fatalf("start a second PostgreSQL: %v", second.err)
	}
	return second.cluster.AdminURL
}

// ServerURL is a superuser URL to a running PostgreSQL server.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	once.Do(func() {
		if url := os.Getenv("DATABASE_URL"); url != "" {
			adminURL = url
			return
		}
		stateDir, startErr = devstack.ScratchDir("tenantry-pg-")
		if startErr != nil {
			return
		}
		var log *os.File
		if log, startErr = os.Create(filepath.Join(stateDir, "postgres.log")); startErr != nil {
			return
		}
		cluster, startErr = devstack.StartPostgres(context.Background(), devstack.PostgresOptions{StateDir: stateDir, Log: log})
		if startErr == nil {
			adminURL = cluster.AdminURL
		}
	})
	if startErr != nil {
		tb.Fatalf("start PostgreSQL: %v", startErr)
	}
	return adminURL
}

// ServerLog is what the test binary's own PostgreSQL cluster has logged so
// far; the test is skipped on a server at DATABASE_URL, whose log it
// cannot read.
func ServerLog(tb testing.TB) string {
	tb.Helper()
	ServerURL(tb)
	if cluster == nil {
		tb.Skip("the server at DATABASE_URL: its log is not ours to read")
	}
	b, err := os.ReadFile(filepath.Join(stateDir, "postgres.log"))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// Control is a fresh control database with the catalog synced and the
// server registered for tenant databases.
type Control struct {
	URL     string
	DB      *pgxpool.Pool
	Catalog *catalog.Catalog
	Key     string // the base64 key Cipher seals with, for processes joining
	Cipher  *secret.Cipher
	Acts    *activities.Activities
}

// NewControl creates, migrates and wires a control database of its own for
// one test; it is dropped when the test ends.
func NewControl(tb testing.TB) *Control {
	tb.Helper()
	ctx := context.Background()
	server := ServerURL(tb)
	dbURL := NewDatabase(tb, "control_")
	if err := controldb.Migrate(ctx, dbURL); err != nil {
		tb.Fatal(err)
	}
	db, err := controldb.Open(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	cat, err := catalog.Load(schemas.Services())
	if err != nil {
		tb.Fatal(err)
	}
	if err := controldb.SyncCatalog(ctx, db, cat); err != nil {
		tb.Fatal(err)
	}
	key := secret.NewKey()
	cipher, err := secret.NewCipher(key)
	if err != nil {
		tb.Fatal(err)
	}
	c := &Control{URL: dbURL, DB: db, Catalog: cat, Key: key, Cipher: cipher, Acts: activities.New(db, cat, cipher)}
	if _, _, err := dbserver.Register(ctx, c.Acts.Servers, "local", server); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		c.Acts.Servers.Close()
		db.Close()
	})
	return c
}

// NewDatabase creates an empty database of its own for one test, named
// prefix and a random suffix, and returns its URL; it is dropped when the
// test ends.
func NewDatabase(tb testing.TB, prefix string) string {
	tb.Helper()
	ctx := context.Background()
	server := ServerURL(tb)
	name := prefix + randomHex(6)
	if err := devstack.EnsureDatabase(ctx, server, name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, server)
		if err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	return WithDatabase(tb, server, name)
}

// WithDatabase returns url pointed at another database.
func WithDatabase(tb testing.TB, serverURL, database string) string {
	tb.Helper()
	cfg, err := pgx.ParseConfig(serverURL)
	if err != nil {
		tb.Fatal(err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(cfg.User, cfg.Password),
		Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/" + database}
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
