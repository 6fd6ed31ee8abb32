package migrator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/golang-migrate/migrate/v4/database"
)

// The ledger is a table in every migrated database listing the versions
// whose up file applied. Each file records itself in it in the file's own
// transaction (bookkeeping), so unlike golang-migrate's dirty flag, which
// it sets before a file and clears in a statement of its own after, the
// ledger cannot disagree with what the database holds. A dirty version is
// settled from it (resolve): the database holds exactly the versions the
// ledger lists.
const ledgerTable = "schema_migrations_applied"

const nilVersion = database.NilVersion

// bookkeeping ends every file: an up file records its version in the
// ledger, a down file removes it, and either marks golang-migrate's
// version clean, all in one statement, so that the file's transaction
// commits all of it or none, and a NoTransaction file's last statement is
// its record. An up file whose version is already recorded fails here and
// rolls back: no file applies twice.
//
// The first version's up file also creates the ledger, so a new database
// gets it with its first file and nothing to settle before (settled).
func bookkeeping(version uint, up, first bool) string {
	change := fmt.Sprintf("DELETE FROM %s WHERE version = %d", ledgerTable, version)
	if up {
		change = fmt.Sprintf("INSERT INTO %s (version) VALUES (%d)", ledgerTable, version)
	}
	create := ""
	if up && first {
		create = createLedger + ";\n"
	}
	return fmt.Sprintf("%sWITH recorded AS (%s) UPDATE schema_migrations SET dirty = false;\n", create, change)
}

const createLedger = `CREATE TABLE IF NOT EXISTS ` + ledgerTable + ` (
	version bigint PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now())`

// state is what a database says of its migrations: golang-migrate's
// version mark and, when it has a ledger, the newest version it lists.
type state struct {
	ledger  bool // the ledger exists
	version int  // golang-migrate's version, nilVersion for none
	dirty   bool
	logged  int // the newest version the ledger lists, nilVersion for none
}

// settled says there is nothing to settle: a clean version that the
// ledger agrees with, or a new database (no version, no ledger yet).
func (s state) settled() bool {
	switch {
	case s.dirty:
		return false
	case !s.ledger:
		return s.version == nilVersion
	}
	return s.version == s.logged
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readState reads a database's state, also one that golang-migrate's
// table or the ledger do not exist in yet.
func readState(ctx context.Context, q rowQuerier) (state, error) {
	s := state{version: nilVersion, logged: nilVersion}
	var versions bool
	if err := q.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL, to_regclass('schema_migrations') IS NOT NULL`, ledgerTable).
		Scan(&s.ledger, &versions); err != nil {
		return s, err
	}
	if versions {
		err := q.QueryRowContext(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&s.version, &s.dirty)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return s, err
		}
	}
	if s.ledger {
		var logged sql.NullInt64
		if err := q.QueryRowContext(ctx, `SELECT max(version) FROM `+ledgerTable).Scan(&logged); err != nil {
			return s, err
		}
		if logged.Valid {
			s.logged = int(logged.Int64)
		}
	}
	return s, nil
}

// settled reads, without the migration lock, whether the database needs
// settling (resolve) before golang-migrate runs: a dirty version, a
// migrated database without a ledger, or a ledger that disagrees. Most
// runs need none (a new database, or one left clean), and skipping the
// lock and a transaction spares a new tenant's provisioning their round
// trips. What it reads may change as it reads (another process migrating):
// a clean answer is then at worst stale, and golang-migrate, which takes the
// lock, finds a dirty version and Migrate settles it then.
func settled(ctx context.Context, db *sql.DB) (bool, error) {
	s, err := readState(ctx, db)
	return s.settled(), err
}

// resolve settles the database before golang-migrate runs, under its
// migration lock (so no other process is part-way through a file):
//   - A database without a ledger (migrated before there was one) gets it,
//     listing every version up to its current one. If it is dirty, the
//     file of that version did not commit: since files have marked
//     themselves clean in their own transaction, a committed file never
//     left its version dirty. (Only a down migration could leave that
//     doubt, and Tenantry's own steps never migrated down before the
//     ledger.)
//   - A dirty version is forced to the newest version the ledger lists
//     (none: no version), whatever golang-migrate was doing (up or down)
//     and wherever the process stopped.
//   - A clean version the ledger disagrees with was forced by a person: it
//     is refused, with both versions named, rather than guessed.
func resolve(ctx context.Context, db *sql.DB, lock database.Driver, f folder) error {
	if err := lock.Lock(); err != nil {
		return err
	}
	defer func() { _ = lock.Unlock() }()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	s, err := readState(ctx, tx)
	if err != nil || s.settled() {
		return err // settled meanwhile by another process, or nothing to do
	}
	truth := s.logged
	switch {
	case !s.ledger: // migrated before the ledger
		if _, err := tx.ExecContext(ctx, createLedger); err != nil {
			return err
		}
		truth = s.version
		switch {
		case s.dirty && s.version == nilVersion && len(f.versions) > 0:
			truth = int(f.versions[0]) // only a down file of the first version aims at no version
		case s.dirty && s.version != nilVersion:
			truth = f.before(uint(s.version))
		}
		if err := backfill(ctx, tx, f, truth); err != nil {
			return err
		}
	case !s.dirty:
		return &RuleError{Problems: []string{fmt.Sprintf(
			"schema_migrations says version %d, but %s lists up to %d: the version was forced by hand; make both say what the database holds",
			s.version, ledgerTable, truth)}}
	}
	if err := force(ctx, tx, truth); err != nil {
		return err
	}
	return tx.Commit()
}

// backfill lists every version of the folder up to v (and v itself) in the
// new ledger of a database migrated before it existed.
func backfill(ctx context.Context, tx *sql.Tx, f folder, v int) error {
	if v == nilVersion {
		return nil
	}
	for _, have := range f.versions {
		if int(have) > v {
			break
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+ledgerTable+` (version) VALUES ($1) ON CONFLICT DO NOTHING`, have); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO `+ledgerTable+` (version) VALUES ($1) ON CONFLICT DO NOTHING`, v)
	return err
}

// force sets golang-migrate's version, clean, as its driver does.
func force(ctx context.Context, tx *sql.Tx, v int) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_migrations`); err != nil {
		return err
	}
	if v == nilVersion {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)`, v)
	return err
}
