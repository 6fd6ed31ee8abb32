// Package migrator runs golang-migrate over an embedded folder of SQL files,
// for the control database and for every tenant database alike, so that a
// migration interrupted anywhere (the process killed, the connection lost,
// the step cancelled) is carried on by the next run with each file applied
// exactly once: see the ledger (ledger.go) and NoTransaction (folder.go).
package migrator

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Latest migrates to the newest version in the folder.
const Latest = 0

// orphanCheck is how often the server checks that a migration's client is
// still there (client_connection_check_interval): a file still running
// after its process died would otherwise go on for as long as it takes,
// holding the migration lock the step's retry waits for.
const orphanCheck = "1000" // ms

// Migrate brings the database at cfg to version (or Latest) using the
// up/down files in src, after checking them (Check). Each file runs as one
// transaction that also records it in the ledger; a dirty version left by
// an earlier run is settled from the ledger first (resolve).
//
// Cancelling ctx stops the migration: no further file starts, and the
// statement running (or the wait for the migration lock another process
// holds) is cancelled on the server, so its file's transaction rolls back.
// golang-migrate runs its statements without a context, so the connections
// it opened are cancelled through PostgreSQL's cancel request.
//
// A file that fails returns an *Error naming it; Permanent tells whether
// running it again can help.
func Migrate(ctx context.Context, cfg *pgx.ConnConfig, src fs.FS, version uint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := readFolder(src)
	if err != nil {
		return fmt.Errorf("migrations for %s: %w", cfg.Database, err)
	}
	cfg = cfg.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["client_connection_check_interval"] = orphanCheck
	var conns cancellers
	db := stdlib.OpenDB(*cfg, stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		conns.add(c.PgConn())
		return nil
	}))
	defer db.Close()

	done := make(chan struct{})
	defer close(done)
	stop := make(chan bool, 1)
	go func() {
		select {
		case <-ctx.Done():
			stop <- true
			conns.cancel()
		case <-done:
		}
	}()

	// Read before the driver takes its connection, so that both use one.
	clean, err := settled(ctx, db)
	if err != nil {
		return stopped(ctx, cfg, fmt.Errorf("read the migration state of %s: %w", cfg.Database, err))
	}
	driver, err := migratepgx.WithInstance(db, &migratepgx.Config{})
	if err != nil {
		return stopped(ctx, cfg, fmt.Errorf("connect to %s: %w", cfg.Database, err))
	}
	run := &runner{Driver: driver, database: cfg.Database, noTx: f.noTx}
	first := uint(0)
	if len(f.versions) > 0 {
		first = f.versions[0]
	}
	source, err := iofs.New(bookkept{FS: src, first: first}, ".")
	if err != nil {
		return err
	}
	m, err := migrate.NewWithInstance("iofs", source, "pgx5", run)
	if err != nil {
		return err
	}
	defer m.Close()
	go func() {
		select {
		case <-stop:
			m.GracefulStop <- true
		case <-done:
		}
	}()

	settle := func() error {
		if err := resolve(ctx, db, driver, f); err != nil {
			return fmt.Errorf("settle the migration state of %s: %w", cfg.Database, err)
		}
		return nil
	}
	if !clean {
		if err := settle(); err != nil {
			return stopped(ctx, cfg, err)
		}
	}
	err = to(m, version)
	var dirty migrate.ErrDirty
	if errors.As(err, &dirty) && ctx.Err() == nil {
		// Left dirty since settled read it clean: a process crashed.
		if err := settle(); err != nil {
			return stopped(ctx, cfg, err)
		}
		err = to(m, version)
	}
	if errors.Is(err, migrate.ErrNoChange) {
		err = nil
	}
	return stopped(ctx, cfg, err)
}

// stopped puts a cancelled migration's error in words: what ran is either
// applied whole or rolled back.
func stopped(ctx context.Context, cfg *pgx.ConnConfig, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("migration of %s stopped: %w", cfg.Database, ctx.Err())
	}
	return err
}

func to(m *migrate.Migrate, version uint) error {
	if version == Latest {
		return m.Up()
	}
	return m.Migrate(version)
}
