package dbserver

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// ExecPrivileges runs a GRANT or REVOKE, again when PostgreSQL answers
// "tuple concurrently updated". Two sessions changing one database's
// privileges at once collide on its catalog row, and the one that loses
// gets that error rather than waiting: a server check closing PUBLIC on a
// database that a tenant's CreateDatabase has just made, while that
// activity revokes PUBLIC itself, is such a pair. The statement is
// idempotent, so trying again is safe.
func ExecPrivileges(ctx context.Context, q Admin, sql string) error {
	const attempts = 6
	for attempt := 1; ; attempt++ {
		_, err := q.Exec(ctx, sql)
		if err == nil || attempt == attempts || !concurrentlyUpdated(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
		}
	}
}

// concurrentlyUpdated says err is PostgreSQL's internal "tuple
// concurrently updated", which a catalog change that lost a race answers.
func concurrentlyUpdated(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "XX000" && strings.Contains(pgErr.Message, "tuple concurrently updated")
}
