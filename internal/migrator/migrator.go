// Package migrator runs golang-migrate over an embedded folder of SQL files,
// for the control database and for every tenant database alike.
package migrator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
// simple protocol), so a database left dirty by a crashed or cancelled
// attempt still holds the previous version intact: it is forced back and
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
	source, err := iofs.New(src, ".")
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
