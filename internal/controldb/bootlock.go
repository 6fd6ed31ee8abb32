package controldb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// bootLockKey is the advisory lock every process holds while it prepares
// the control database; it is its own number, apart from golang-migrate's.
const bootLockKey int64 = 0x74656e616e747279 // "tenantry"

// WithBootLock runs fn while holding the control database's boot lock, a
// session advisory lock on one connection of pool: processes started
// together on an empty control database migrate it, sync the catalog and
// the price schedule and register their server one after the other, each
// finding the work of the one before done. The lock goes with the
// connection, so a process that dies holding it releases it.
func WithBootLock(ctx context.Context, pool *pgxpool.Pool, fn func() error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect to control database: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, bootLockKey); err != nil {
		return fmt.Errorf("control database boot lock: %w", err)
	}
	ferr := fn()
	// Unlock on a context of its own: the caller's may be done.
	if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, bootLockKey); err != nil {
		// The session keeps the lock: drop the connection so it goes.
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
	}
	return ferr
}
