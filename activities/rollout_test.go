package activities_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/billingtest"
	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

// forums adds n ready forum instances on version with modules; it returns
// their IDs.
func forums(t *testing.T, c *testenv.Control, n int, version string, modules ...string) []string {
	t.Helper()
	acc, err := billingtest.Account(ctx, c.DB, "Acme")
	require.NoError(t, err)
	var ids []string
	for range n {
		id, err := billingtest.Instance(ctx, c.DB, acc, "forum", uuid.NewString()[:8]+".localhost", modules, t0)
		require.NoError(t, err)
		_, err = c.DB.Exec(ctx, `UPDATE instances SET version = $2 WHERE id = $1`, id, version)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

func TestPlanRolloutRecordsTheInstancesOnOlderVersions(t *testing.T) {
	c := testenv.NewControl(t)
	old := forums(t, c, 3, "1.0.0", "core", "attachments")
	mid := forums(t, c, 2, "1.1.0", "core")
	forums(t, c, 2, "1.2.0", "core") // on the target already
	disabled := forums(t, c, 2, "1.0.0", "core")
	_, err := c.DB.Exec(ctx, `UPDATE instances SET status = 'disabled', delete_after = now() + interval '1 day' WHERE id = $1`, disabled[0])
	require.NoError(t, err)
	_, err = c.DB.Exec(ctx, `UPDATE instances SET status = 'disabled', delete_after = now() - interval '1 minute' WHERE id = $1`, disabled[1])
	require.NoError(t, err)

	in := activities.PlanRolloutInput{RolloutID: uuid.NewString(), WorkflowID: "rollout/forum/1.2.0", Service: "forum", Version: "1.2.0",
		Options: map[string]int{"batch_size": 2}}
	plan, err := c.Acts.PlanRollout(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, activities.RolloutPlan{Total: 6, Disabled: 1, TargetSchema: 3, From: []activities.RolloutFrom{
		{Version: "1.0.0", Schema: 1, Instances: 4, Dropped: []string{"attachments"}, WithDropped: 3},
		{Version: "1.1.0", Schema: 2, Instances: 2, Dropped: []string{"attachments"}},
	}}, plan, "the past-grace one and those on 1.2.0 are left out")
	again, err := c.Acts.PlanRollout(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, plan, again, "a retry finds its plan")

	owner, owned, err := controldb.RolloutOwning(ctx, c.DB, mid[0])
	require.NoError(t, err)
	assert.True(t, owned)
	assert.Equal(t, "rollout/forum/1.2.0", owner)

	// Another rollout of the service while this one runs is refused.
	_, err = c.Acts.PlanRollout(ctx, activities.PlanRolloutInput{RolloutID: uuid.NewString(), WorkflowID: "rollout/forum/1.1.0",
		Service: "forum", Version: "1.1.0"})
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(err), "%v", err)

	// Batches: the canary, then the rest; a retried claim gets its batch.
	canary, err := c.Acts.ClaimRolloutBatch(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID, Batch: 0, Size: 1})
	require.NoError(t, err)
	require.Len(t, canary, 1)
	retried, err := c.Acts.ClaimRolloutBatch(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID, Batch: 0, Size: 1})
	require.NoError(t, err)
	assert.Equal(t, canary, retried)
	rest, err := c.Acts.ClaimRolloutBatch(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID, Batch: 1, Size: 10})
	require.NoError(t, err)
	assert.Len(t, rest, 5)
	none, err := c.Acts.ClaimRolloutBatch(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID, Batch: 2, Size: 10})
	require.NoError(t, err)
	assert.Empty(t, none)

	require.NoError(t, c.Acts.RecordRolloutInstance(ctx, activities.RolloutInstanceResult{RolloutID: in.RolloutID,
		InstanceID: canary[0].InstanceID}))
	require.NoError(t, c.Acts.RecordRolloutInstance(ctx, activities.RolloutInstanceResult{RolloutID: in.RolloutID,
		InstanceID: rest[0].InstanceID, Failed: true, Error: "migrate failed: boom"}))
	ids, err := c.Acts.RequeueRolloutFailures(ctx, activities.RequeueInput{RolloutID: in.RolloutID, Round: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{rest[0].InstanceID}, ids)
	ids, err = c.Acts.RequeueRolloutFailures(ctx, activities.RequeueInput{RolloutID: in.RolloutID, Round: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{rest[0].InstanceID}, ids, "a retried requeue returns the same")
	requeued, err := c.Acts.ClaimRolloutBatch(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID, Batch: 3, Size: 10})
	require.NoError(t, err)
	assert.Equal(t, rest[:1], requeued)

	require.NoError(t, c.Acts.FinishRollout(ctx, activities.FinishRolloutInput{RolloutID: in.RolloutID, Outcome: "aborted"}))
	row, ok, err := controldb.Rollout(ctx, c.DB, in.RolloutID)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "aborted", row.Outcome)
	assert.Equal(t, map[string]int{"done": 1, "skipped": 5}, row.Counts)
	_, owned, err = controldb.RolloutOwning(ctx, c.DB, old[0])
	require.NoError(t, err)
	assert.False(t, owned, "an ended rollout owns nothing")
	_, running, err := controldb.RunningRollout(ctx, c.DB, "forum")
	require.NoError(t, err)
	assert.False(t, running)
}

func TestJobHolds(t *testing.T) {
	c := testenv.NewControl(t)
	hold := activities.JobHoldInput{Service: "forum", RolloutID: "rollout/forum/1.2.0"}
	require.NoError(t, c.Acts.HoldServiceJobs(ctx, hold))
	require.NoError(t, c.Acts.HoldServiceJobs(ctx, hold), "idempotent")
	err := controldb.HoldJobs(ctx, c.DB, "forum", "rollout/forum/1.3.0")
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(err))
	by, held, err := controldb.JobHold(ctx, c.DB, "forum")
	require.NoError(t, err)
	assert.True(t, held)
	assert.Equal(t, hold.RolloutID, by)
	n, err := c.Acts.ServiceJobsInFlight(ctx, hold)
	require.NoError(t, err)
	assert.Zero(t, n)
	require.NoError(t, controldb.ReleaseJobs(ctx, c.DB, "forum", "rollout/forum/1.3.0"))
	_, held, _ = controldb.JobHold(ctx, c.DB, "forum")
	assert.True(t, held, "another rollout's release leaves the hold")
	// Two jobs queued while held: one claims (held), one ran and finished.
	inst := forums(t, c, 1, "1.0.0", "core")[0]
	var jobs []string
	for range 2 {
		id := uuid.NewString()
		_, err := c.DB.Exec(ctx, `INSERT INTO service_jobs (id, instance_id, service, job, version, schema_version)
			VALUES ($1, $2, 'forum', 'refresh_board_stats', '1.0.0', 1)`, id, inst)
		require.NoError(t, err)
		st, err := c.Acts.ClaimJob(ctx, activities.JobRef{JobID: id})
		require.NoError(t, err)
		require.Equal(t, controldb.JobHeld, st.Status)
		jobs = append(jobs, id)
	}
	_, err = c.DB.Exec(ctx, `UPDATE service_jobs SET status = 'completed', held_by = NULL WHERE id = $1`, jobs[1])
	require.NoError(t, err)
	waiting, err := c.Acts.ReleaseServiceJobs(ctx, hold)
	require.NoError(t, err)
	assert.Equal(t, []controldb.HeldJob{{InstanceID: inst, JobID: jobs[0]}}, waiting, "the job still waiting, to tell")
	again, err := c.Acts.ReleaseServiceJobs(ctx, hold)
	require.NoError(t, err, "idempotent")
	assert.Equal(t, waiting, again)
	_, held, _ = controldb.JobHold(ctx, c.DB, "forum")
	assert.False(t, held)
	st, err := c.Acts.ClaimJob(ctx, activities.JobRef{JobID: jobs[0]})
	require.NoError(t, err)
	assert.Equal(t, controldb.JobRunning, st.Status, "released: it starts")
	waiting, err = c.Acts.ReleaseServiceJobs(ctx, hold)
	require.NoError(t, err)
	assert.Empty(t, waiting, "a started job needs no telling")
}

func TestRolloutReadinessNamesWhatCannotServe(t *testing.T) {
	c := testenv.NewControl(t)
	for _, p := range []controldb.Process{
		{ID: uuid.NewString(), Kind: "web", Host: "h1", PID: 1, Build: "new", Versions: map[string][]string{"forum": {"1.0.0", "1.2.0"}}},
		{ID: uuid.NewString(), Kind: "worker", Host: "h2", PID: 2, Build: "old", Versions: map[string][]string{"forum": {"1.0.0"}}},
	} {
		require.NoError(t, controldb.Beat(ctx, c.DB, p))
	}
	r, err := c.Acts.RolloutReadiness(ctx, activities.ReadinessInput{Service: "forum", Version: "1.2.0"})
	require.NoError(t, err)
	assert.False(t, r.Ready)
	assert.Equal(t, "1 of 2 live processes cannot serve forum 1.2.0 yet: worker on h2 (pid 2, build old) serves 1.0.0", r.Reason)
	r, err = c.Acts.RolloutReadiness(ctx, activities.ReadinessInput{Service: "forum", Version: "1.0.0"})
	require.NoError(t, err)
	assert.True(t, r.Ready)
	assert.Empty(t, r.Reason)
}

func TestDisableWaitsOutAnUpgrade(t *testing.T) {
	c := testenv.NewControl(t)
	id := forums(t, c, 1, "1.0.0", "core")[0]
	require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: true}))
	err := c.Acts.DisableInstance(ctx, activities.DisableInput{InstanceID: id, At: time.Now(), DeleteAfter: time.Now().Add(time.Hour)})
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(err))
	assert.Contains(t, apperr.Message(err), "being upgraded")
	e, err := c.Acts.InstanceExpiry(ctx, activities.InstanceRef{InstanceID: id})
	require.NoError(t, err)
	assert.True(t, e.Maintenance, "the expiry watch sees it and waits")

	// The other way round: an instance past its end is being disabled,
	// so an upgrade does not begin (ending maintenance still works).
	_, err = c.DB.Exec(ctx, `UPDATE instances SET maintenance = false, expires_at = now() - interval '1 second' WHERE id = $1`, id)
	require.NoError(t, err)
	err = c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: true})
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(err))
	assert.Contains(t, apperr.Message(err), "reached its end")
	require.NoError(t, c.Acts.SetMaintenance(ctx, activities.MaintenanceInput{InstanceID: id, On: false}))
}

// A new instance is created on the version a rollout completed, not on the
// manifest's current_version; an aborted rollout promotes nothing, and a
// retried reservation keeps the version it recorded.
func TestInstancesEnabledAfterARolloutRunItsVersion(t *testing.T) {
	c := testenv.NewControl(t)
	rolled := func(version, outcome string) {
		t.Helper()
		require.NoError(t, pgx.BeginFunc(ctx, c.DB, func(tx pgx.Tx) error {
			id := uuid.NewString()
			if err := controldb.NewRollout(ctx, tx, id, "rollout/forum/"+version, "forum", version, "", nil); err != nil {
				return err
			}
			return controldb.EndRollout(ctx, tx, id, outcome)
		}))
	}
	assert.Equal(t, "1.0.0", reserve(t, c, "forum", "a.localhost").Version, "the manifest's current_version")
	rolled("1.2.0", "aborted")
	rolled("1.1.0", "failed")
	assert.Equal(t, "1.0.0", reserve(t, c, "forum", "b.localhost", "attachments").Version, "no rollout completed")

	rolled("1.1.0", "completed")
	acc := newAccount(t, c)
	in := activities.ReserveInstanceInput{InstanceID: uuid.NewString(), AccountID: acc.ID, ActorID: acc.UserID,
		Service: "forum", Modules: []string{"attachments"}, Host: "c.localhost"}
	res, err := c.Acts.ReserveInstance(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "1.1.0", res.Version)
	assert.Equal(t, uint(2), res.SchemaVersion)

	rolled("1.2.0", "completed_with_failures")
	inst := reserve(t, c, "forum", "d.localhost", "search")
	assert.Equal(t, "1.2.0", inst.Version, "rolled out to 1.2.0 (some instances failed, the rest run it)")
	var recorded string
	require.NoError(t, c.DB.QueryRow(ctx, `SELECT version FROM instances WHERE id = $1`, inst.ID).Scan(&recorded))
	assert.Equal(t, "1.2.0", recorded)
	_, err = c.Acts.ReserveInstance(ctx, activities.ReserveInstanceInput{InstanceID: uuid.NewString(), AccountID: acc.ID,
		Service: "forum", Modules: []string{"attachments"}, Host: "e.localhost"})
	assertKind(t, apperr.KindInvalid, err) // 1.2.0 retired attachments

	again, err := c.Acts.ReserveInstance(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, res, again, "a retried reservation keeps what it recorded")
	rolled("1.1.0", "completed")
	assert.Equal(t, "1.2.0", reserve(t, c, "forum", "f.localhost").Version, "the newest rolled-out version")
}

// Maintenance has one holder: an upgrade cannot take a move's (nor end
// it), and the reverse; a rollout leaves an instance a move holds pending,
// names it, and claims it once the move has ended its maintenance.
func TestMaintenanceHolderAndRolloutsWaitingForMoves(t *testing.T) {
	c := testenv.NewControl(t)
	ids := forums(t, c, 2, "1.0.0", "core")
	moving, other := ids[0], ids[1]
	move, upgrade := "move/"+moving+"/second", "upgrade/"+moving+"/1.2.0"
	on := func(by string) activities.MaintenanceInput {
		return activities.MaintenanceInput{InstanceID: moving, On: true, By: by}
	}
	off := func(by string) activities.MaintenanceInput {
		return activities.MaintenanceInput{InstanceID: moving, By: by}
	}
	state := func() (bool, string) {
		var m bool
		var by *string
		require.NoError(t, c.DB.QueryRow(ctx, `SELECT maintenance, maintenance_by FROM instances WHERE id = $1`, moving).Scan(&m, &by))
		if by == nil {
			return m, ""
		}
		return m, *by
	}

	require.NoError(t, c.Acts.SetMaintenance(ctx, on(move)))
	require.NoError(t, c.Acts.SetMaintenance(ctx, on(move)), "idempotent for its holder")
	err := c.Acts.SetMaintenance(ctx, on(upgrade))
	assertKind(t, apperr.KindConflict, err)
	assert.Contains(t, apperr.Message(err), "in maintenance for "+move)
	require.NoError(t, c.Acts.SetMaintenance(ctx, off(upgrade)), "a failed upgrade ending its maintenance")
	m, by := state()
	assert.True(t, m, "the move's maintenance stays on")
	assert.Equal(t, move, by)

	in := activities.PlanRolloutInput{RolloutID: uuid.NewString(), WorkflowID: "rollout/forum/1.2.0", Service: "forum", Version: "1.2.0"}
	_, err = c.Acts.PlanRollout(ctx, in)
	require.NoError(t, err)
	batch, err := c.Acts.ClaimRolloutBatch(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID, Batch: 0, Size: 10})
	require.NoError(t, err)
	assert.Equal(t, []activities.RolloutTarget{{InstanceID: other, AccountID: batch[0].AccountID}}, batch, "the one being moved is left")
	waiting, err := c.Acts.RolloutInstancesMoving(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID})
	require.NoError(t, err)
	assert.Equal(t, []string{moving}, waiting)
	none, err := c.Acts.ClaimRolloutBatch(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID, Batch: 1, Size: 10})
	require.NoError(t, err)
	assert.Empty(t, none)

	require.NoError(t, c.Acts.SetMaintenance(ctx, off(move)), "the move switched it")
	m, by = state()
	assert.False(t, m)
	assert.Empty(t, by)
	waiting, err = c.Acts.RolloutInstancesMoving(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID})
	require.NoError(t, err)
	assert.Empty(t, waiting)
	batch, err = c.Acts.ClaimRolloutBatch(ctx, activities.ClaimBatchInput{RolloutID: in.RolloutID, Batch: 2, Size: 10})
	require.NoError(t, err)
	require.Len(t, batch, 1)
	assert.Equal(t, moving, batch[0].InstanceID, "claimed once its move is done")

	// The upgrade holds it now: a move can take it neither at its check
	// (the rollout owns it) nor at its maintenance step.
	require.NoError(t, c.Acts.SetMaintenance(ctx, on(upgrade)))
	assertKind(t, apperr.KindConflict, c.Acts.SetMaintenance(ctx, on(move)))
	_, err = controldb.CheckMove(ctx, c.DB, moving, "local")
	assertKind(t, apperr.KindConflict, err)
	require.NoError(t, c.Acts.SetMaintenance(ctx, off(upgrade)))
	_, err = controldb.CheckMove(ctx, c.DB, moving, "local")
	assert.Contains(t, apperr.Message(err), "belongs to the running rollout rollout/forum/1.2.0")
}
