// Package migrator runs golang-migrate over an embedded folder of SQL files,
// for the control database and for every tenant database alike.
package migrator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Latest migrates to the newest version in the folder.
const Latest = 0

// Migrate brings the database at cfg to version (or Latest) using the
// up/down files in src. Each file runs as one implicit transaction (pgx's
// simple protocol) that also marks its version clean (atomicFiles), so a
// database left dirty by a crashed or cancelled attempt still holds the
// previous version intact: it is forced back and
// migrated again.
//
// Cancelling ctx stops the migration: no further file starts, and the
// statement running (or the wait for the migration lock another process
// holds) is cancelled on the server, so its file's transaction rolls back.
// golang-migrate runs its statements without a context, so the connections
// it opened are cancelled through PostgreSQL's cancel request.
func Migrate(ctx context.Context, cfg *pgx.ConnConfig, src fs.FS, version uint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var conns cancellers
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		conns.add(c.PgConn())
		return nil
	}))
	defer db.Close()
	driver, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cfg.Database, err)
	}
	source, err := iofs.New(atomicFiles{src}, ".")
	if err != nil {
		return err
	}
	m, err := migrate.NewWithInstance("iofs", source, "pgx5", driver)
	if err != nil {
		return err
	}
	defer m.Close()

	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			m.GracefulStop <- true
			conns.cancel()
		case <-done:
		}
	}()

	err = to(m, version)
	var dirty migrate.ErrDirty
	if errors.As(err, &dirty) && ctx.Err() == nil {
		previous := dirty.Version - 1
		if previous == 0 {
			previous = -1 // no migration applied yet
		}
		if err := m.Force(previous); err != nil {
			return err
		}
		err = to(m, version)
	}
	if ctx.Err() != nil {
		// Stopped: what ran is either applied whole or rolled back.
		return fmt.Errorf("migration of %s stopped: %w", cfg.Database, ctx.Err())
	}
	if errors.Is(err, migrate.ErrNoChange) {
		return nil
	}
	return err
}

func to(m *migrate.Migrate, version uint) error {
	if version == Latest {
		return m.Up()
	}
	return m.Migrate(version)
}

// atomicFiles ends every migration file with the statement golang-migrate
// runs after it, marking the version clean, so both commit together: a
// process killed between the file's commit and golang-migrate's own update
// no longer leaves a dirty version whose file did apply (its retry would
// run the file twice: "relation already exists").
type atomicFiles struct{ fs.FS }

const markClean = "\n;\nUPDATE schema_migrations SET dirty = false;\n"

func (a atomicFiles) Open(name string) (fs.File, error) {
	f, err := a.FS.Open(name)
	if err != nil || !strings.HasSuffix(name, ".sql") {
		return f, err
	}
	defer f.Close()
	body, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(append(body, markClean...)), info: st}, nil
}

// ReadDir keeps iofs's listing of the folder.
func (a atomicFiles) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(a.FS, name) }

type memFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.info, nil }
func (m *memFile) Close() error               { return nil }

// cancellers are the server connections a migration opened.
type cancellers struct {
	mu    sync.Mutex
	conns []*pgconn.PgConn
}

func (c *cancellers) add(pc *pgconn.PgConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns = append(c.conns, pc)
}

// cancel asks the server to cancel whatever each connection runs; a
// connection that runs nothing ignores it.
func (c *cancellers) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pc := range c.conns {
		_ = pc.CancelRequest(context.Background())
	}
}
