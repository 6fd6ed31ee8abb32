package migrator_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"tenantry/internal/migrator"
	"tenantry/internal/testenv"
)

// ledgered is a folder with a gap in its versions (1, 2, 5), as the control
// folder has. Every file notes its run in the table runs, in its own
// transaction: a file that rolled back leaves no note, so the notes are
// the files applied.
func ledgered() fstest.MapFS {
	return fstest.MapFS{
		"1_first.up.sql":    {Data: []byte("CREATE TABLE runs (file text NOT NULL);\nCREATE TABLE first (id int);\nINSERT INTO runs VALUES ('1 up');")},
		"1_first.down.sql":  {Data: []byte("DROP TABLE first;\nDROP TABLE runs;")},
		"2_second.up.sql":   {Data: []byte("CREATE TABLE second (id int PRIMARY KEY);\nINSERT INTO second VALUES (1), (2);\nINSERT INTO runs VALUES ('2 up');")},
		"2_second.down.sql": {Data: []byte("DROP TABLE second;\nINSERT INTO runs VALUES ('2 down');")},
		"5_fifth.up.sql":    {Data: []byte("CREATE TABLE fifth (id int);\nINSERT INTO second VALUES (5);\nINSERT INTO runs VALUES ('5 up');")},
		"5_fifth.down.sql":  {Data: []byte("DROP TABLE fifth;\nDELETE FROM second WHERE id = 5;\nINSERT INTO runs VALUES ('5 down');")},
	}
}

// crashDB is a fresh database and a connection of the test's to it.
type crashDB struct {
	t    *testing.T
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
	src  fstest.MapFS
}

func newCrashDB(t *testing.T, src fstest.MapFS) *crashDB {
	t.Helper()
	url := testenv.NewDatabase(t, "migrator_")
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	return &crashDB{t: t, cfg: cfg, conn: connect(t, cfg), src: src}
}

func connect(t *testing.T, cfg *pgx.ConnConfig) *pgx.Conn {
	t.Helper()
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (d *crashDB) migrate(version uint) error {
	return migrator.Migrate(context.Background(), d.cfg, d.src, version)
}

func (d *crashDB) exec(sql string) {
	d.t.Helper()
	_, err := d.conn.Exec(context.Background(), sql)
	require.NoError(d.t, err, sql)
}

// state is what the database holds: golang-migrate's version, the ledger,
// the files applied (runs) and the rows of second.
type state struct {
	Version int
	Dirty   bool
	Ledger  []int
	Runs    []string
	Second  []int
}

func (d *crashDB) state() state {
	d.t.Helper()
	ctx := context.Background()
	var s state
	err := d.conn.QueryRow(ctx, `SELECT version, dirty FROM schema_migrations`).Scan(&s.Version, &s.Dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		s.Version = -1
	} else {
		require.NoError(d.t, err)
	}
	if d.exists("schema_migrations_applied") {
		s.Ledger = d.ints(`SELECT version FROM schema_migrations_applied ORDER BY version`)
	}
	if d.exists("runs") {
		rows, err := d.conn.Query(ctx, `SELECT file FROM runs ORDER BY ctid`)
		require.NoError(d.t, err)
		s.Runs, err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(d.t, err)
	}
	if d.exists("second") {
		s.Second = d.ints(`SELECT id FROM second ORDER BY id`)
	}
	return s
}

func (d *crashDB) ints(sql string) []int {
	d.t.Helper()
	rows, err := d.conn.Query(context.Background(), sql)
	require.NoError(d.t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(d.t, err)
	return out
}

func (d *crashDB) exists(table string) bool {
	d.t.Helper()
	var ok bool
	require.NoError(d.t, d.conn.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok))
	return ok
}

var atFive = state{Version: 5, Ledger: []int{1, 2, 5}, Runs: []string{"1 up", "2 up", "5 up"}, Second: []int{1, 2, 5}}

// migrationBlocked waits until the migration's session waits for a lock,
// running a statement like query, and returns its process ID.
func (d *crashDB) migrationBlocked(query string) int {
	d.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var pid int
		err := d.conn.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query LIKE $1`, query).Scan(&pid)
		if err == nil {
			return pid
		}
		require.ErrorIs(d.t, err, pgx.ErrNoRows)
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("no migration waits on a lock running %q", query)
	return 0
}

// kill ends a migration's session as a crash of its process does: the
// server rolls back whatever it had not committed.
func (d *crashDB) kill(pid int) {
	d.t.Helper()
	var ok bool
	require.NoError(d.t, d.conn.QueryRow(context.Background(), `SELECT pg_terminate_backend($1, 5000)`, pid).Scan(&ok))
	require.True(d.t, ok, "session %d ended", pid)
}

// hold runs sql in a transaction of its own session, left open for the
// test to end, and so holds the locks sql took.
func (d *crashDB) hold(sql string) pgx.Tx {
	d.t.Helper()
	tx, err := connect(d.t, d.cfg).Begin(context.Background())
	require.NoError(d.t, err)
	_, err = tx.Exec(context.Background(), sql)
	require.NoError(d.t, err, sql)
	return tx
}

// background runs a migration that the test will crash; its error is the
// crash's.
func (d *crashDB) background(version uint) <-chan error {
	done := make(chan error, 1)
	go func() { done <- d.migrate(version) }()
	return done
}

func crashed(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		require.Error(t, err, "the crashed migration")
		require.False(t, migrator.Permanent(err), "a lost session is worth a retry: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("the crashed migration did not return")
	}
}

// Crash points of an up migration from 2 to 5, each left as a crash
// leaves it, then the next run: it reaches 5 with each file applied once.
func TestEveryCrashPointOfAnUpMigrationConverges(t *testing.T) {
	ctx := context.Background()
	t.Run("before the file", func(t *testing.T) {
		d := newCrashDB(t, ledgered())
		require.NoError(t, d.migrate(2))
		// What golang-migrate's SetVersion(5, dirty) leaves before it runs the file.
		d.exec(`UPDATE schema_migrations SET version = 5, dirty = true`)
		require.NoError(t, d.migrate(migrator.Latest))
		require.Equal(t, atFive, d.state())
	})
	t.Run("inside the file", func(t *testing.T) {
		d := newCrashDB(t, ledgered())
		require.NoError(t, d.migrate(2))
		lock := d.hold(`LOCK TABLE second IN SHARE MODE`) // file 5's INSERT waits, fifth made
		done := d.background(migrator.Latest)
		d.kill(d.migrationBlocked("%INSERT INTO second VALUES (5)%"))
		crashed(t, done)
		require.NoError(t, lock.Rollback(ctx))
		s := d.state()
		require.Equal(t, state{Version: 5, Dirty: true, Ledger: []int{1, 2}, Runs: []string{"1 up", "2 up"}, Second: []int{1, 2}}, s, "rolled back")
		require.False(t, d.exists("fifth"))
		require.NoError(t, d.migrate(migrator.Latest))
		require.Equal(t, atFive, d.state())
	})
	t.Run("after the file committed, before golang-migrate marked it clean", func(t *testing.T) {
		d := newCrashDB(t, ledgered())
		require.NoError(t, d.migrate(2))
		lock := d.hold(`LOCK TABLE second IN SHARE MODE`)
		done := d.background(migrator.Latest)
		d.migrationBlocked("%INSERT INTO second VALUES (5)%")
		// golang-migrate's own clean mark (TRUNCATE) waits on this reader.
		reader := d.hold(`SELECT FROM schema_migrations`)
		require.NoError(t, lock.Rollback(ctx))
		d.kill(d.migrationBlocked("TRUNCATE%"))
		crashed(t, done)
		require.NoError(t, reader.Rollback(ctx))
		require.Equal(t, atFive, d.state(), "the file committed with its record and clean mark")
		require.NoError(t, d.migrate(migrator.Latest))
		require.Equal(t, atFive, d.state())
	})
	t.Run("after the file committed, its version still dirty", func(t *testing.T) {
		// The state the issue found (a crash before golang-migrate cleared
		// its flag, from a runner without the clean mark): the ledger says
		// 5 applied, so 5 is not run again.
		d := newCrashDB(t, ledgered())
		require.NoError(t, d.migrate(migrator.Latest))
		d.exec(`UPDATE schema_migrations SET dirty = true`)
		require.NoError(t, d.migrate(migrator.Latest))
		require.Equal(t, atFive, d.state())
	})
	t.Run("after the flag", func(t *testing.T) {
		d := newCrashDB(t, ledgered())
		require.NoError(t, d.migrate(2))
		require.Equal(t, state{Version: 2, Ledger: []int{1, 2}, Runs: []string{"1 up", "2 up"}, Second: []int{1, 2}}, d.state())
		require.NoError(t, d.migrate(migrator.Latest))
		require.Equal(t, atFive, d.state())
	})
	t.Run("the first file, inside it", func(t *testing.T) {
		d := newCrashDB(t, ledgered())
		// The first file's CREATE TABLE first waits for this one's name.
		lock := d.hold(`CREATE TABLE first (id int)`)
		done := d.background(migrator.Latest)
		d.kill(d.migrationBlocked("%CREATE TABLE first%"))
		crashed(t, done)
		require.NoError(t, lock.Rollback(ctx))
		require.Equal(t, state{Version: 1, Dirty: true}, d.state(), "the ledger the first file makes rolled back with it")
		require.NoError(t, d.migrate(migrator.Latest))
		require.Equal(t, atFive, d.state())
	})
}

// Crash points of a down migration from 5 to 2.
func TestEveryCrashPointOfADownMigrationConverges(t *testing.T) {
	ctx := context.Background()
	atTwo := func(runs ...string) state {
		return state{Version: 2, Ledger: []int{1, 2}, Runs: append([]string{"1 up", "2 up", "5 up"}, runs...), Second: []int{1, 2}}
	}
	t.Run("inside the file", func(t *testing.T) {
		d := newCrashDB(t, ledgered())
		require.NoError(t, d.migrate(migrator.Latest))
		lock := d.hold(`LOCK TABLE second IN SHARE MODE`)
		done := d.background(2)
		d.kill(d.migrationBlocked("%DELETE FROM second WHERE id = 5%"))
		crashed(t, done)
		require.NoError(t, lock.Rollback(ctx))
		// golang-migrate marks the target (2) dirty while 5's down file runs.
		s := d.state()
		require.Equal(t, state{Version: 2, Dirty: true, Ledger: []int{1, 2, 5}, Runs: atFive.Runs, Second: []int{1, 2, 5}}, s)
		require.NoError(t, d.migrate(2))
		require.Equal(t, atTwo("5 down"), d.state())
		require.False(t, d.exists("fifth"))
	})
	t.Run("after the file committed, its version still dirty", func(t *testing.T) {
		d := newCrashDB(t, ledgered())
		require.NoError(t, d.migrate(migrator.Latest))
		require.NoError(t, d.migrate(2))
		d.exec(`UPDATE schema_migrations SET dirty = true`)
		require.NoError(t, d.migrate(2))
		require.Equal(t, atTwo("5 down"), d.state())
		// And up again: 5 applies once more, its second time after its down.
		require.NoError(t, d.migrate(migrator.Latest))
		require.Equal(t, state{Version: 5, Ledger: []int{1, 2, 5}, Runs: []string{"1 up", "2 up", "5 up", "5 down", "5 up"}, Second: []int{1, 2, 5}}, d.state())
	})
}

// A database migrated before the ledger existed gets one, clean or dirty.
func TestADatabaseFromBeforeTheLedger(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		d := newCrashDB(t, ledgered())
		require.NoError(t, d.migrate(2))
		d.exec(`DROP TABLE schema_migrations_applied`)
		require.NoError(t, d.migrate(migrator.Latest))
		require.Equal(t, atFive, d.state())
	})
	t.Run("dirty: its file did not commit", func(t *testing.T) {
		d := newCrashDB(t, ledgered())
		require.NoError(t, d.migrate(2))
		d.exec(`DROP TABLE schema_migrations_applied`)
		d.exec(`UPDATE schema_migrations SET version = 5, dirty = true`)
		require.NoError(t, d.migrate(migrator.Latest))
		require.Equal(t, atFive, d.state())
	})
}

// A version forced by hand that the ledger contradicts is refused, naming
// both, rather than guessed; the refusal is not worth a retry.
func TestAVersionForcedByHandIsRefused(t *testing.T) {
	d := newCrashDB(t, ledgered())
	require.NoError(t, d.migrate(migrator.Latest))
	d.exec(`DELETE FROM schema_migrations_applied WHERE version = 5`)
	err := d.migrate(migrator.Latest)
	require.ErrorContains(t, err, "schema_migrations says version 5, but schema_migrations_applied lists up to 2")
	require.True(t, migrator.Permanent(err))
}

// A NoTransaction file builds an index concurrently; a build crashed half
// way (an invalid index left behind) is dropped and built again.
func TestAConcurrentIndexBuildCrashedHalfWay(t *testing.T) {
	ctx := context.Background()
	src := ledgered()
	src["6_index.up.sql"] = &fstest.MapFile{Data: []byte(migrator.NoTransaction + "\nDROP INDEX CONCURRENTLY IF EXISTS second_by_id;\n-- a comment\nCREATE UNIQUE INDEX CONCURRENTLY second_by_id\n  ON second (id);\n")}
	src["6_index.down.sql"] = &fstest.MapFile{Data: []byte(migrator.NoTransaction + "\nDROP INDEX CONCURRENTLY IF EXISTS second_by_id;\n")}
	d := newCrashDB(t, src)
	require.NoError(t, d.migrate(5))
	// A transaction writing second holds the build up after it made its
	// (still invalid) index.
	writer := d.hold(`INSERT INTO second VALUES (7)`)
	done := d.background(migrator.Latest)
	d.kill(d.migrationBlocked("CREATE UNIQUE INDEX CONCURRENTLY%"))
	crashed(t, done)
	require.NoError(t, writer.Rollback(ctx))
	var valid bool
	require.NoError(t, d.conn.QueryRow(ctx, `SELECT indisvalid FROM pg_index WHERE indexrelid = 'second_by_id'::regclass`).Scan(&valid))
	require.False(t, valid, "the crashed build left an invalid index")
	require.Equal(t, state{Version: 6, Dirty: true, Ledger: []int{1, 2, 5}, Runs: atFive.Runs, Second: []int{1, 2, 5}}, d.state())

	require.NoError(t, d.migrate(migrator.Latest))
	require.NoError(t, d.conn.QueryRow(ctx, `SELECT indisvalid FROM pg_index WHERE indexrelid = 'second_by_id'::regclass`).Scan(&valid))
	require.True(t, valid)
	s := d.state()
	require.Equal(t, []int{1, 2, 5, 6}, s.Ledger)
	require.False(t, s.Dirty)
	require.NoError(t, d.migrate(5))
	require.False(t, d.exists("second_by_id"))
	require.Equal(t, []int{1, 2, 5}, d.state().Ledger)
}

// A file's own mistake names the file and line, not the whole file, and
// is permanent; the next file never ran.
func TestAFailingFileIsNamedAndPermanent(t *testing.T) {
	src := ledgered()
	src["5_fifth.up.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE fifth (id int);\n\nINSERT INTO nowhere VALUES (5);\n")}
	d := newCrashDB(t, src)
	err := d.migrate(migrator.Latest)
	var failed *migrator.Error
	require.ErrorAs(t, err, &failed)
	require.Equal(t, "5_fifth.up.sql", failed.File)
	require.Equal(t, 3, failed.Line)
	require.True(t, migrator.Permanent(err))
	require.Contains(t, err.Error(), `migration 5_fifth.up.sql line 3 of database `+d.cfg.Database+` failed: ERROR: relation "nowhere" does not exist (SQLSTATE 42P01)`)
	require.NotContains(t, err.Error(), "CREATE TABLE fifth")
	s := d.state()
	require.Equal(t, []int{1, 2}, s.Ledger)
	require.True(t, slices.Equal(s.Runs, []string{"1 up", "2 up"}))
	require.False(t, d.exists("fifth"))
}
