package migrator

import (
	"errors"
	"fmt"
	"strings"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5/pgconn"
)

// Error is a migration file that failed: which, where, and the database's
// answer, for operators. Its file rolled back (or, marked NoTransaction,
// runs again whole next time).
type Error struct {
	Database string
	File     string
	// Line is where in the file the failing statement is, 0 if unknown.
	Line int
	Err  error
}

func (e *Error) Error() string {
	where := e.File
	if e.Line > 0 {
		where += fmt.Sprintf(" line %d", e.Line)
	}
	return fmt.Sprintf("migration %s of database %s failed: %s", where, e.Database, describe(e.Err))
}

func (e *Error) Unwrap() error { return e.Err }

// RuleError is a migration folder or ledger that cannot be migrated as it
// is: a person must fix it, so it is permanent.
type RuleError struct {
	Problems []string
}

func (e *RuleError) Error() string { return strings.Join(e.Problems, "; ") }

// Permanent reports whether running the same migration again would fail
// the same way: the file's own mistake, rows of the tenant that break a
// rule it adds, a folder or ledger a person must fix. A lost connection, a
// server shutting down or starting up, a lock or serialization conflict,
// exhausted resources, or anything not from the database, may pass: those
// are not permanent.
func Permanent(err error) bool {
	var rule *RuleError
	if errors.As(err, &rule) {
		return true
	}
	pg := pgError(err)
	if pg == nil || len(pg.Code) != 5 {
		return false
	}
	switch pg.Code[:2] {
	case "08", // connection exception
		"40", // serialization failure, deadlock
		"53", // insufficient resources
		"57", // operator intervention: shutdown, cancel, crash recovery
		"58", // system error
		"XX": // internal error
		return false
	}
	switch pg.Code {
	case "55P03", "55006": // lock not available, object in use
		return false
	}
	return true
}

// pgError finds the PostgreSQL error in err, also inside golang-migrate's
// database.Error, which does not unwrap.
func pgError(err error) *pgconn.PgError {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg
	}
	var dbErr database.Error
	if errors.As(err, &dbErr) && errors.As(dbErr.OrigErr, &pg) {
		return pg
	}
	return nil
}

// describe is the database's answer without the whole file golang-migrate
// puts in its errors.
func describe(err error) string {
	pg := pgError(err)
	if pg == nil {
		var dbErr database.Error
		if errors.As(err, &dbErr) && dbErr.OrigErr != nil {
			return dbErr.OrigErr.Error()
		}
		return err.Error()
	}
	s := pg.Error()
	if pg.Detail != "" {
		s += ": " + pg.Detail
	}
	return s
}
