// Package activities holds every side effect Tenantry's workflows perform.
// Each activity is a method on Activities, takes one input and returns one
// result, is idempotent under retry, and reports bad input as a
// non-retryable domain error. Every exported method is an activity that
// Register lists; queries and checks that front ends share live in
// internal/controldb, and the activities call them for the same rules.
package activities

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/dbserver"
	"tenantry/internal/secret"
)

// Activities holds what the activities depend on.
type Activities struct {
	DB      *pgxpool.Pool // the control database
	Catalog *catalog.Catalog
	Cipher  *secret.Cipher
	Servers *dbserver.Pools // admin pools of the database servers
	Clock   func() time.Time
}

// New wires the activities with the real clock.
func New(db *pgxpool.Pool, cat *catalog.Catalog, cipher *secret.Cipher) *Activities {
	return &Activities{DB: db, Catalog: cat, Cipher: cipher, Servers: dbserver.NewPools(db, cipher), Clock: time.Now}
}

// InstanceRef names one service instance; most activities need no more,
// because everything else (and every secret) is read from the control
// database instead of travelling in workflow payloads.
type InstanceRef struct {
	InstanceID string
}

// finish maps domain errors to non-retryable Temporal errors at the edge of
// every activity.
func finish[T any](v T, err error) (T, error) {
	return v, apperr.ForTemporal(err)
}

// inTx runs fn in one control-database transaction.
func (a *Activities) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, a.DB, fn)
}
