// Package servicejobs owns the code of the services' background jobs. A
// service declares its jobs in its manifest (catalog.Job); here each job
// has one implementation per range of schema versions, and a run uses the
// implementation of the schema version its instance had when the job was
// queued, so a job queued before a migration runs the code it was queued
// for. Every implementation runs on the tenant's own database, as the
// tenant's role.
package servicejobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
)

// Result is what a job did: a sentence for people and its counts.
type Result struct {
	Summary string           `json:"summary"`
	Counts  map[string]int64 `json:"counts,omitempty"`
}

// Run does a job's work on the tenant database. It must stop when ctx is
// cancelled (pgx statements do) and be safe to run again after a failure.
type Run func(ctx context.Context, db *pgx.Conn) (Result, error)

// Impl is one job's code for the schema versions From to To (0: every
// later one).
type Impl struct {
	Service, Job string
	From, To     uint
	Run          Run
}

func (i Impl) covers(schema uint) bool {
	return schema >= i.From && (i.To == 0 || schema <= i.To)
}

// registry is every implementation of every service, from the services'
// files (forum.go, store.go).
var registry = concat(forum, store)

func concat(lists ...[]Impl) []Impl {
	var out []Impl
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// All lists every implementation.
func All() []Impl { return append([]Impl(nil), registry...) }

// For finds the code of a service's job for a schema version; a job with
// none is apperr.Invalid (the catalog and this registry disagree: the test
// of this package keeps them in step).
func For(service, job string, schema uint) (Impl, error) {
	for _, i := range registry {
		if i.Service == service && i.Job == job && i.covers(schema) {
			return i, nil
		}
	}
	return Impl{}, apperr.Invalid("%s has no code for the job %q at schema version %d", service, job, schema)
}

// count reads one integer.
func count(ctx context.Context, db *pgx.Conn, sql string, args ...any) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, sql, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", sql, err)
	}
	return n, nil
}
