package controldb_test

import (
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

// queueJob adds a queued forum job of the instance; it returns its id.
func queueJob(t *testing.T, c *testenv.Control, instanceID string) string {
	t.Helper()
	id := uuid.NewString()
	_, err := c.DB.Exec(ctx, `INSERT INTO service_jobs (id, instance_id, service, job, version, schema_version)
		VALUES ($1, $2, 'forum', 'refresh_board_stats', '1.0.0', 1)`, id, instanceID)
	require.NoError(t, err)
	return id
}

func TestHeldJobStartsWhenReleased(t *testing.T) {
	c := testenv.NewControl(t)
	_, inst := billedInstance(t, c, "core")

	running := queueJob(t, c, inst)
	st, err := controldb.ClaimJobStart(ctx, c.DB, running)
	require.NoError(t, err)
	assert.Equal(t, controldb.JobStart{Status: controldb.JobRunning}, st)

	require.NoError(t, controldb.HoldJobs(ctx, c.DB, "forum", "rollout/forum/1.2.0"))
	require.NoError(t, controldb.HoldJobs(ctx, c.DB, "forum", "rollout/forum/1.2.0"), "holding again is a no-op")
	assertKind(t, apperr.KindConflict, controldb.HoldJobs(ctx, c.DB, "forum", "rollout/forum/1.3.0"))
	holder, held, err := controldb.JobHold(ctx, c.DB, "forum")
	require.NoError(t, err)
	assert.True(t, held)
	assert.Equal(t, "rollout/forum/1.2.0", holder)
	_, held, err = controldb.JobHold(ctx, c.DB, "store")
	require.NoError(t, err)
	assert.False(t, held, "another service is not held")

	waiting := queueJob(t, c, inst)
	for range 2 { // a retried claim finds it held still
		st, err = controldb.ClaimJobStart(ctx, c.DB, waiting)
		require.NoError(t, err)
		assert.Equal(t, controldb.JobStart{Status: controldb.JobHeld, HeldBy: "rollout/forum/1.2.0"}, st)
	}
	n, err := controldb.JobsInFlight(ctx, c.DB, "forum")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "only the job that started before the hold runs")
	counts, err := controldb.CountJobs(ctx, c.DB, "forum")
	require.NoError(t, err)
	assert.Equal(t, controldb.JobCounts{Held: 1, Running: 1}, counts)

	require.NoError(t, controldb.ReleaseJobs(ctx, c.DB, "forum", "rollout/forum/1.3.0"), "another rollout's release")
	_, held, _ = controldb.JobHold(ctx, c.DB, "forum")
	assert.True(t, held, "another rollout cannot release the hold")
	require.NoError(t, controldb.ReleaseJobs(ctx, c.DB, "forum", "rollout/forum/1.2.0"))
	require.NoError(t, controldb.ReleaseJobs(ctx, c.DB, "forum", "rollout/forum/1.2.0"), "releasing again is a no-op")

	st, err = controldb.ClaimJobStart(ctx, c.DB, waiting)
	require.NoError(t, err)
	assert.Equal(t, controldb.JobStart{Status: controldb.JobRunning}, st)
	st, err = controldb.ClaimJobStart(ctx, c.DB, waiting)
	require.NoError(t, err)
	assert.Equal(t, controldb.JobRunning, st.Status, "a retried claim changes nothing")
	n, err = controldb.JobsInFlight(ctx, c.DB, "forum")
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	_, err = c.DB.Exec(ctx, `UPDATE service_jobs SET status = 'completed' WHERE id = $1`, running)
	require.NoError(t, err)
	n, err = controldb.JobsInFlight(ctx, c.DB, "forum")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "a finished job is not in flight")
	assertKind(t, apperr.KindNotFound, func() error { _, err := controldb.ClaimJobStart(ctx, c.DB, uuid.NewString()); return err }())
}

// TestNoJobStartsUnseenByAHold races claims against a hold taken in a
// transaction: every job either counts in flight once the hold is taken,
// or is held.
func TestNoJobStartsUnseenByAHold(t *testing.T) {
	c := testenv.NewControl(t)
	_, inst := billedInstance(t, c, "core")
	var ids []string
	for range 20 {
		ids = append(ids, queueJob(t, c, inst))
	}
	var wg sync.WaitGroup
	var inFlight int
	wg.Go(func() {
		require.NoError(t, pgx.BeginFunc(ctx, c.DB, func(tx pgx.Tx) error {
			if err := controldb.HoldJobs(ctx, tx, "forum", "rollout/forum/9.9.9"); err != nil {
				return err
			}
			return nil
		}))
		n, err := controldb.JobsInFlight(ctx, c.DB, "forum")
		require.NoError(t, err)
		inFlight = n
	})
	for _, id := range ids {
		wg.Go(func() {
			_, err := controldb.ClaimJobStart(ctx, c.DB, id)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, inFlight, count(t, c, "service_jobs WHERE status = 'running'"),
		"every job that started was counted when the hold was taken")
	assert.Equal(t, 20-inFlight, count(t, c, "service_jobs WHERE status = 'held'"))
}
