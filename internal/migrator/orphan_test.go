package migrator_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"tenantry/internal/migrator"
)

// childEnv makes the test binary migrate the database at its URL to the
// latest of ledgered() and exit, as a process of its own for a test to
// kill.
const childEnv = "TENANTRY_MIGRATOR_TEST_CHILD"

func migrateAsChild(url string) int {
	cfg, err := pgx.ParseConfig(url)
	if err == nil {
		err = migrator.Migrate(context.Background(), cfg, ledgered(), migrator.Latest)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// A process killed while its migration waits on the server (here on a
// lock the test holds, as a long file would run on) leaves no session
// behind: the server notices its client is gone within its check interval
// and rolls the file back, where it would otherwise carry on, holding the
// migration lock, for as long as the file takes. The next run migrates.
func TestAMigrationWhoseProcessIsKilledStopsOnTheServer(t *testing.T) {
	d := newCrashDB(t, ledgered())
	require.NoError(t, d.migrate(2))
	lock := d.hold(`LOCK TABLE second IN SHARE MODE`)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+d.cfg.ConnString())
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	pid := d.migrationBlocked("%INSERT INTO second VALUES (5)%")
	require.NoError(t, child.Process.Kill())
	_ = child.Wait()
	killed := time.Now()

	deadline := killed.Add(10 * time.Second)
	for {
		var alive bool
		require.NoError(t, d.conn.QueryRow(context.Background(), `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE pid = $1)`, pid).Scan(&alive))
		if !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed process's migration session %d still runs %s later", pid, time.Since(killed).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the session ended %s after its process was killed, the lock still held", time.Since(killed).Round(10*time.Millisecond))
	require.NoError(t, lock.Rollback(context.Background()))
	require.Equal(t, state{Version: 5, Dirty: true, Ledger: []int{1, 2}, Runs: []string{"1 up", "2 up"}, Second: []int{1, 2}}, d.state())
	require.NoError(t, d.migrate(migrator.Latest))
	require.Equal(t, atFive, d.state())
}
