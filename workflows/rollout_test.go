package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// fleet is the control database and the instances as a rollout's mocked
// activities and UpgradeInstance children see them: the rollout's
// bookkeeping, the jobs, the live processes, and each instance's upgrade
// (how long it takes, whether it fails).
type fleet struct {
	mu    sync.Mutex
	ids   []string
	state map[string]string // pending, queued, done, failed, skipped
	batch map[string]int
	round map[string]int

	ready    bool
	notReady string
	jobs     int // jobs in flight; drained by drainAt
	drainAt  time.Duration
	held     []string
	released []string
	waiting  []controldb.HeldJob // jobs still held when the hold is released
	moving   map[string]bool     // a move holds their maintenance
	outcome  string

	takes       time.Duration
	failOnce    map[string]string // fails on its first upgrade only
	failAlways  map[string]string
	hang        map[string]bool // never finishes on its own
	started     []upgradeRun
	running     int
	maxRunning  int
	attempts    map[string]int
	maintenance map[string]bool
}

type upgradeRun struct {
	id string
	at time.Duration // since the test's start
}

func newFleet(n int) *fleet {
	f := &fleet{state: map[string]string{}, batch: map[string]int{}, round: map[string]int{}, ready: true,
		takes: time.Minute, failOnce: map[string]string{}, failAlways: map[string]string{}, hang: map[string]bool{},
		attempts: map[string]int{}, maintenance: map[string]bool{}, moving: map[string]bool{}}
	for i := range n {
		id := fmt.Sprintf("0195a1b2-0000-7000-8000-%012d", i)
		f.ids = append(f.ids, id)
	}
	return f
}

func (f *fleet) count(state string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.state {
		if s == state {
			n++
		}
	}
	return n
}

func (f *fleet) startedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.started {
		out = append(out, r.id)
	}
	return out
}

// stubRollout mocks every activity of a rollout and its children over f.
func (h *harness) stubRollout(f *fleet) {
	env := h.env
	env.OnActivity(acts.PlanRollout, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PlanRolloutInput) (activities.RolloutPlan, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.state) == 0 {
				for _, id := range f.ids {
					f.state[id] = "pending"
				}
			}
			return activities.RolloutPlan{Total: len(f.ids), TargetSchema: 3,
				From: []activities.RolloutFrom{{Version: "1.0.0", Schema: 1, Instances: len(f.ids), Dropped: []string{"attachments"}}}}, nil
		}).Maybe()
	env.OnActivity(acts.RolloutReadiness, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ReadinessInput) (controldb.Readiness, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			procs := []controldb.Process{{Kind: "web", Host: "h1", PID: 1, Build: "new", Versions: map[string][]string{"forum": {"1.0.0", "1.2.0"}}}}
			if !f.ready {
				procs = append(procs, controldb.Process{Kind: "worker", Host: "h2", PID: 2, Build: "old",
					Versions: map[string][]string{"forum": {"1.0.0"}}})
			}
			return controldb.ReadinessOf(procs, in.Service, in.Version), nil
		}).Maybe()
	env.OnActivity(acts.HoldServiceJobs, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.JobHoldInput) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.held = append(f.held, in.RolloutID)
		return nil
	}).Maybe()
	env.OnActivity(acts.ServiceJobsInFlight, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.JobHoldInput) (int, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.drainAt > 0 && !env.Now().Before(start.Add(f.drainAt)) {
			f.jobs = 0
		}
		return f.jobs, nil
	}).Maybe()
	env.OnActivity(acts.ReleaseServiceJobs, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.JobHoldInput) ([]controldb.HeldJob, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.released = append(f.released, in.RolloutID)
			return f.waiting, nil
		}).Maybe()
	env.OnActivity(acts.ClaimRolloutBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ClaimBatchInput) ([]activities.RolloutTarget, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			claimed := false
			for _, b := range f.batch {
				claimed = claimed || b == in.Batch
			}
			for _, id := range f.ids {
				if !claimed && f.state[id] == "pending" && !f.moving[id] && f.countBatch(in.Batch) < in.Size {
					f.state[id], f.batch[id] = "queued", in.Batch
				}
			}
			var out []activities.RolloutTarget
			for _, id := range f.ids {
				if b, ok := f.batch[id]; ok && b == in.Batch {
					out = append(out, activities.RolloutTarget{InstanceID: id, AccountID: accountID})
				}
			}
			return out, nil
		}).Maybe()
	env.OnActivity(acts.RolloutInstancesMoving, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ClaimBatchInput) ([]string, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			var out []string
			for _, id := range f.ids {
				if f.state[id] == "pending" && f.moving[id] {
					out = append(out, id)
				}
			}
			return out, nil
		}).Maybe()
	env.OnActivity(acts.RecordRolloutInstance, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RolloutInstanceResult) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.state[in.InstanceID] = "done"
			if in.Failed {
				f.state[in.InstanceID] = "failed"
			}
			return nil
		}).Maybe()
	env.OnActivity(acts.RequeueRolloutFailures, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RequeueInput) ([]string, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			var out []string
			for _, id := range f.ids {
				if f.state[id] == "failed" {
					f.state[id], f.round[id] = "pending", in.Round
					delete(f.batch, id)
				}
				if f.round[id] == in.Round {
					out = append(out, id)
				}
			}
			return out, nil
		}).Maybe()
	env.OnActivity(acts.FinishRollout, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FinishRolloutInput) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			for id, s := range f.state {
				if s == "pending" || s == "queued" {
					f.state[id] = "skipped"
				}
			}
			f.outcome = in.Outcome
			return nil
		}).Maybe()
}

// upgrade stands in for UpgradeInstance: a real workflow (so a cancel
// reaches it) that takes f.takes and fails as the fleet says.
func (f *fleet) upgrade(ctx workflow.Context, in workflows.UpgradeInput) (workflows.UpgradeResult, error) {
	f.mu.Lock()
	f.started = append(f.started, upgradeRun{id: in.InstanceID, at: workflow.Now(ctx).Sub(start)})
	f.running++
	f.maxRunning = max(f.maxRunning, f.running)
	f.attempts[in.InstanceID]++
	f.maintenance[in.InstanceID] = true
	first := f.attempts[in.InstanceID] == 1
	reason := f.failAlways[in.InstanceID]
	if r, ok := f.failOnce[in.InstanceID]; ok && first {
		reason = r
	}
	d := f.takes
	if f.hang[in.InstanceID] {
		d = 1000 * time.Hour
	}
	f.mu.Unlock()
	err := workflow.Sleep(ctx, d)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running--
	f.maintenance[in.InstanceID] = false // the real child ends maintenance when cancelled too
	if err != nil {
		return workflows.UpgradeResult{}, err
	}
	if reason != "" {
		return workflows.UpgradeResult{}, temporal.NewNonRetryableApplicationError(reason, "Internal", nil)
	}
	return workflows.UpgradeResult{Service: "forum", FromVersion: "1.0.0", Version: in.Version}, nil
}

// newRolloutHarness runs Rollout over f, with f.upgrade as its children.
func newRolloutHarness(t *testing.T, f *fleet) *harness {
	h := newHarnessOf(t, func(r worker.WorkflowRegistry) {
		r.RegisterWorkflow(workflows.Rollout)
		r.RegisterWorkflowWithOptions(f.upgrade, workflow.RegisterOptions{Name: "UpgradeInstance"})
	})
	h.stubRollout(f)
	return h
}

func (f *fleet) countBatch(b int) int {
	n := 0
	for _, x := range f.batch {
		if x == b {
			n++
		}
	}
	return n
}

func rolloutInput(o workflows.RolloutOptions) workflows.RolloutInput {
	return workflows.RolloutInput{RolloutID: "0195a1b2-0000-7000-8000-0000000000f1", Service: "forum", Version: "1.2.0",
		ActorID: actorID, StartedBy: "ada@example.test", Options: o}
}

// rolloutProgress asks the rollout for its progress.
func (h *harness) rolloutProgress() workflows.RolloutProgress {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(h.t, err)
	var p workflows.RolloutProgress
	require.NoError(h.t, v.Get(&p))
	return p
}

func (h *harness) rolloutResult() workflows.RolloutResult {
	h.t.Helper()
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
	var res workflows.RolloutResult
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return res
}

var by = workflows.RolloutControl{By: "ada@example.test"}

func TestRolloutCanaryThenBatches(t *testing.T) {
	f := newFleet(7)
	h := newRolloutHarness(t, f)

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 3, MaxInFlight: 3, AutoApprove: true}))

	res := h.rolloutResult()
	assert.Equal(t, workflows.RolloutCompleted, res.Outcome)
	assert.Equal(t, workflows.RolloutCounts{Total: 7, Done: 7}, res.Counts)
	assert.Equal(t, 7, f.count("done"))
	// The canary alone first; then each batch of three starts together,
	// after the one before has ended.
	var at []time.Duration
	for _, r := range f.started {
		at = append(at, r.at)
	}
	assert.Equal(t, []time.Duration{0, time.Minute, time.Minute, time.Minute, 2 * time.Minute, 2 * time.Minute, 2 * time.Minute}, at)
	started := f.startedIDs()
	assert.Equal(t, f.ids[0], started[0], "the first claimed is the canary")
	slices.Sort(started)
	assert.Equal(t, f.ids, started, "each instance once")
	assert.Equal(t, []string{"rollout/forum/1.2.0"}, f.held, "jobs held during the rollout")
	assert.Equal(t, []string{"rollout/forum/1.2.0"}, f.released, "and released at its end")
	assert.Equal(t, workflows.RolloutCompleted, f.outcome)

	p := h.rolloutProgress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, workflows.RolloutStageDone, p.Stage)
	assert.True(t, p.Approval.Auto)
	assert.True(t, p.Jobs.Drained)
	assert.True(t, p.Jobs.Released)
	assert.Equal(t, map[string]workflows.StepState{
		"plan": workflows.StepDone, "readiness": workflows.StepDone, "approve": workflows.StepDone, "drain": workflows.StepDone,
		"canary": workflows.StepDone, "batches": workflows.StepDone, "release": workflows.StepDone,
	}, states(p.Progress))
}

func TestRolloutCapsTheUpgradesInFlight(t *testing.T) {
	f := newFleet(21)
	h := newRolloutHarness(t, f)

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 20, MaxInFlight: 4, AutoApprove: true}))

	assert.Equal(t, 21, h.rolloutResult().Counts.Done)
	assert.Equal(t, 4, f.maxRunning, "never more than max_in_flight at once")
	// 1 canary minute, then 20 upgrades four at a time: 5 more minutes.
	assert.Equal(t, 5*time.Minute, f.started[len(f.started)-1].at)
}

func TestRolloutPausesAtTheFailureThreshold(t *testing.T) {
	f := newFleet(12)
	f.failAlways[f.ids[2]] = `migrate failed: ERROR: relation "threads" does not exist; the instance stays on 1.0.0`
	f.failAlways[f.ids[3]] = "swap failed: the instance's database is dirty"
	h := newRolloutHarness(t, f)
	var paused workflows.RolloutProgress
	var resumeRefused *updateOutcome
	// Batch 1 (ids 1-4, all at once) ends at 2 min with two failures.
	h.at(2*time.Minute+time.Second, func() {
		paused = h.rolloutProgress()
		resumeRefused = h.update(workflows.RolloutDrain, workflows.RolloutControl{By: "ada", Decision: "wait"})
	})
	h.at(30*time.Minute, func() { h.update(workflows.RolloutAbort, by) })

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 4, MaxInFlight: 4,
		FailureThreshold: 2, AutoApprove: true}))

	require.NotNil(t, paused.Paused)
	assert.Equal(t, workflows.PauseThreshold, paused.Paused.Kind)
	assert.Contains(t, paused.Paused.Reason, "2 instances failed (the failure threshold is 2)")
	assert.Equal(t, workflows.StatusWaiting, paused.Status)
	// Both failures land at the same instant; the test environment completes
	// simultaneous children in either order, so compare them as a set.
	failed := map[string]string{}
	for _, fl := range paused.Failures {
		failed[fl.InstanceID] = fl.Reason
	}
	assert.Equal(t, map[string]string{
		f.ids[2]: `migrate failed: ERROR: relation "threads" does not exist; the instance stays on 1.0.0`,
		f.ids[3]: "swap failed: the instance's database is dirty",
	}, failed)
	resumeRefused.assertRejected(t, apperr.KindConflict, "not waiting at the drain deadline")

	res := h.rolloutResult()
	assert.Equal(t, workflows.RolloutAborted, res.Outcome)
	assert.Equal(t, 5, len(f.started), "nothing new started while paused")
	assert.Equal(t, workflows.RolloutCounts{Total: 12, Done: 3, Failed: 2, Skipped: 7}, res.Counts)
	assert.Equal(t, 7, f.count("skipped"))
	assert.Equal(t, []string{"rollout/forum/1.2.0"}, f.released)
	assert.Equal(t, workflows.StatusCancelled, h.rolloutProgress().Status)
}

func TestRolloutThresholdInPercent(t *testing.T) {
	f := newFleet(40)
	for _, i := range []int{5, 9, 13} {
		f.failAlways[f.ids[i]] = "boom"
	}
	h := newRolloutHarness(t, f)

	// 10 % of 40 is 4: three failures do not pause.
	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 10, MaxInFlight: 5,
		FailureThresholdPercent: 10, AutoApprove: true}))

	res := h.rolloutResult()
	assert.Equal(t, workflows.RolloutWithFailures, res.Outcome)
	assert.Equal(t, workflows.RolloutCounts{Total: 40, Done: 37, Failed: 3}, res.Counts)
	assert.Len(t, res.Failures, 3)
}

// The jobs the rollout held are told to start as soon as it releases them,
// on success and on abort; a job that finished meanwhile (its signal
// fails) does not stop the rollout.
func TestRolloutTellsItsHeldJobsToStart(t *testing.T) {
	for _, abort := range []bool{false, true} {
		t.Run(fmt.Sprintf("abort=%t", abort), func(t *testing.T) {
			f := newFleet(3)
			f.waiting = []controldb.HeldJob{{InstanceID: f.ids[0], JobID: "job-a"}, {InstanceID: f.ids[1], JobID: "job-b"}}
			h := newRolloutHarness(t, f)
			var mu sync.Mutex
			signalled := map[string]time.Duration{}
			for _, j := range f.waiting {
				id := workflows.ServiceJobID(j.InstanceID, j.JobID)
				var err error
				if j.JobID == "job-b" {
					err = errors.New("workflow execution already completed")
				}
				h.env.OnSignalExternalWorkflow(mock.Anything, id, "", workflows.RecheckJobSignal, nil).Return(
					func(_, _, _, _ string, _ any) error {
						mu.Lock()
						defer mu.Unlock()
						signalled[id] = h.env.Now().Sub(start)
						return err
					}).Once()
			}
			if abort {
				h.at(30*time.Second, func() { h.update(workflows.RolloutAbort, by) })
			}

			h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{AutoApprove: true}))

			res := h.rolloutResult()
			want := workflows.RolloutCompleted
			if abort {
				want = workflows.RolloutAborted
			}
			assert.Equal(t, want, res.Outcome)
			assert.Equal(t, []string{"rollout/forum/1.2.0"}, f.released)
			require.Len(t, signalled, 2, "each held job told to recheck")
			for id, at := range signalled {
				assert.Equal(t, h.env.Now().Sub(start), at, "%s told at the release, not later", id)
			}
			assert.True(t, h.rolloutProgress().Jobs.Released)
		})
	}
}

// An instance a move holds in maintenance is left for last: the rollout
// upgrades the others, waits (showing it) until the move has ended its
// maintenance, then upgrades it; it neither fails nor skips it.
func TestRolloutWaitsForAnInstanceBeingMoved(t *testing.T) {
	f := newFleet(4)
	f.moving[f.ids[0]] = true // would have been the canary
	h := newRolloutHarness(t, f)
	var waiting workflows.RolloutProgress
	h.at(20*time.Minute, func() {
		waiting = h.rolloutProgress()
		f.mu.Lock()
		delete(f.moving, f.ids[0]) // the move switched it and ended its maintenance
		f.mu.Unlock()
	})

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 3, AutoApprove: true}))

	assert.Equal(t, []string{f.ids[0]}, waiting.Moving, "shown waiting for its move")
	assert.Equal(t, 3, waiting.Counts.Done)
	assert.Equal(t, 1, waiting.Counts.Pending)
	assert.Equal(t, workflows.StatusRunning, waiting.Status)
	res := h.rolloutResult()
	assert.Equal(t, workflows.RolloutCompleted, res.Outcome)
	assert.Equal(t, workflows.RolloutCounts{Total: 4, Done: 4}, res.Counts)
	started := f.startedIDs()
	assert.Equal(t, f.ids[1], started[0], "the canary is one not being moved")
	assert.Equal(t, f.ids[0], started[3], "the moved one last")
	assert.GreaterOrEqual(t, f.started[3].at, 20*time.Minute, "after its move")
	assert.Less(t, f.started[3].at, 20*time.Minute+15*time.Second)
	assert.Empty(t, h.rolloutProgress().Moving)
}

func TestRolloutPauseAndResume(t *testing.T) {
	f := newFleet(9)
	h := newRolloutHarness(t, f)
	var early, pausedTwice, resumed *updateOutcome
	var during workflows.RolloutProgress
	h.at(90*time.Second, func() { early = h.update(workflows.RolloutPause, by) }) // during batch 1 (1-4, two at a time)
	h.at(time.Hour, func() {
		during = h.rolloutProgress()
		pausedTwice = h.update(workflows.RolloutPause, by)
		resumed = h.update(workflows.RolloutResume, by)
	})

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 4, MaxInFlight: 2, AutoApprove: true}))

	early.assertAccepted(t)
	pausedTwice.assertRejected(t, apperr.KindConflict, "paused already")
	resumed.assertAccepted(t)
	assert.Equal(t, workflows.PauseByDeveloper, during.Paused.Kind)
	assert.Equal(t, workflows.StatusWaiting, during.Status)
	assert.Equal(t, 3, during.Counts.Done, "the two in flight at the pause finished, nothing new started")
	assert.Empty(t, during.InFlight)
	assert.Equal(t, 9, h.rolloutResult().Counts.Done)
	// After the resume at 1 h the rest went on.
	assert.Equal(t, time.Hour, f.started[3].at)
}

func TestRolloutAbortMidBatch(t *testing.T) {
	f := newFleet(20)
	h := newRolloutHarness(t, f)
	var aborted, again, approveLate *updateOutcome
	var inFlight []string
	h.at(90*time.Second, func() { // batch 1 (8 of them, four at a time) runs its first four
		inFlight = h.rolloutProgress().InFlight
		aborted = h.update(workflows.RolloutAbort, by)
		again = h.update(workflows.RolloutAbort, by)
		approveLate = h.update(workflows.RolloutApprove, by)
	})

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 8, MaxInFlight: 4, AutoApprove: true}))

	aborted.assertAccepted(t)
	again.assertRejected(t, apperr.KindConflict, "being aborted")
	approveLate.assertRejected(t, apperr.KindConflict, "being aborted")
	assert.Len(t, inFlight, 4)
	res := h.rolloutResult()
	assert.Equal(t, workflows.RolloutAborted, res.Outcome)
	assert.Equal(t, workflows.RolloutCounts{Total: 20, Done: 5, Skipped: 15}, res.Counts, "in flight finished, finished stay upgraded")
	assert.Equal(t, 5, f.count("done"))
	assert.Len(t, f.started, 5)
	assert.Equal(t, workflows.RolloutAborted, f.outcome)
	assert.Equal(t, []string{"rollout/forum/1.2.0"}, f.released, "held jobs released on abort")
	p := h.rolloutProgress()
	assert.Equal(t, workflows.StatusCancelled, p.Status)
	assert.Equal(t, "aborted by ada@example.test", p.Error)
}

func TestRolloutRetriesTheFailed(t *testing.T) {
	f := newFleet(6)
	f.failOnce[f.ids[1]] = "migrate failed: the database is busy"
	h := newRolloutHarness(t, f)
	var retried *updateOutcome
	var paused workflows.RolloutProgress
	h.at(10*time.Minute, func() {
		paused = h.rolloutProgress()
		retried = h.update(workflows.RolloutRetry, by)
	})

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 5, MaxInFlight: 5, AutoApprove: true}))

	require.NotNil(t, paused.Paused)
	assert.Equal(t, workflows.PauseThreshold, paused.Paused.Kind)
	assert.Equal(t, 5, paused.Counts.Done, "the batch finished around the failure")
	retried.assertAccepted(t)
	res := h.rolloutResult()
	assert.Equal(t, workflows.RolloutCompleted, res.Outcome)
	assert.Equal(t, workflows.RolloutCounts{Total: 6, Done: 6}, res.Counts)
	assert.Empty(t, res.Failures)
	assert.Equal(t, 2, f.attempts[f.ids[1]], "the failed one ran again")
}

func TestRolloutCanaryFailurePauses(t *testing.T) {
	f := newFleet(5)
	f.failAlways[f.ids[0]] = "migrate failed: boom; the instance stays on 1.0.0"
	h := newRolloutHarness(t, f)
	var paused workflows.RolloutProgress
	var resumed *updateOutcome
	h.at(5*time.Minute, func() {
		paused = h.rolloutProgress()
		resumed = h.update(workflows.RolloutResume, by)
	})

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 4, FailureThreshold: 3, AutoApprove: true}))

	require.NotNil(t, paused.Paused)
	assert.Equal(t, workflows.PauseCanary, paused.Paused.Kind)
	assert.Contains(t, paused.Paused.Reason, "the canary "+f.ids[0]+" failed: migrate failed: boom")
	assert.Len(t, paused.InFlight, 0)
	assert.Equal(t, workflows.StepFailed, states(paused.Progress)["canary"])
	resumed.assertAccepted(t)
	res := h.rolloutResult()
	assert.Equal(t, workflows.RolloutWithFailures, res.Outcome)
	assert.Equal(t, workflows.RolloutCounts{Total: 5, Done: 4, Failed: 1}, res.Counts)
}

func TestRolloutCancelsAnUpgradePastItsDeadline(t *testing.T) {
	f := newFleet(3)
	f.hang[f.ids[1]] = true
	h := newRolloutHarness(t, f)

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{BatchSize: 2, FailureThreshold: 5,
		InstanceDeadline: 20 * time.Minute, AutoApprove: true}))

	res := h.rolloutResult()
	assert.Equal(t, workflows.RolloutCounts{Total: 3, Done: 2, Failed: 1}, res.Counts)
	require.Len(t, res.Failures, 1)
	assert.Contains(t, res.Failures[0].Reason, "did not finish within the instance deadline (20m0s), so it was cancelled")
	assert.False(t, f.maintenance[f.ids[1]], "the cancelled upgrade ended its maintenance")
}

func TestRolloutDrainDeadlineAsks(t *testing.T) {
	f := newFleet(3)
	f.jobs = 2
	h := newRolloutHarness(t, f)
	var resume, wait, pauseAtDeadline, proceed *updateOutcome
	var first, second workflows.RolloutProgress
	var startedAtDeadline int
	h.at(10*time.Minute+5*time.Second, func() { // the default deadline is 10 minutes
		first = h.rolloutProgress()
		startedAtDeadline = len(f.startedIDs())
		resume = h.update(workflows.RolloutResume, by)
		pauseAtDeadline = h.update(workflows.RolloutPause, by)
		wait = h.update(workflows.RolloutDrain, workflows.RolloutControl{By: "ada", Decision: workflows.DrainWait})
	})
	h.at(25*time.Minute, func() {
		second = h.rolloutProgress()
		proceed = h.update(workflows.RolloutDrain, workflows.RolloutControl{By: "ada", Decision: workflows.DrainProceed})
	})

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{AutoApprove: true}))

	require.NotNil(t, first.Paused)
	assert.Equal(t, workflows.PauseDrain, first.Paused.Kind)
	assert.Contains(t, first.Paused.Reason, "the drain deadline (10m0s) passed with 2 jobs of forum still running")
	assert.Equal(t, 2, first.Jobs.InFlight)
	assert.True(t, first.Jobs.Held)
	assert.Zero(t, startedAtDeadline, "no upgrade before the drain")
	resume.assertRejected(t, apperr.KindConflict, "send drain with decision wait or proceed")
	pauseAtDeadline.assertRejected(t, apperr.KindConflict, "paused already")
	wait.assertAccepted(t)
	require.NotNil(t, second.Paused, "waited another 10 minutes, then asked again")
	assert.Equal(t, start.Add(20*time.Minute+5*time.Second), second.Paused.At)
	proceed.assertAccepted(t)

	res := h.rolloutResult()
	assert.Equal(t, 3, res.Counts.Done)
	assert.Equal(t, 25*time.Minute, f.started[0].at)
	assert.True(t, h.rolloutProgress().Jobs.Proceeded)
}

func TestRolloutDrainWaitsForJobsInFlight(t *testing.T) {
	f := newFleet(2)
	f.jobs, f.drainAt = 1, 3*time.Minute
	h := newRolloutHarness(t, f)

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{AutoApprove: true}))

	assert.Equal(t, 2, h.rolloutResult().Counts.Done)
	require.NotEmpty(t, f.started)
	assert.GreaterOrEqual(t, f.started[0].at, 3*time.Minute, "the first upgrade waits for the job in flight")
	assert.Less(t, f.started[0].at, 3*time.Minute+5*time.Second)
}

func TestRolloutApproveRefusedWhileNotReady(t *testing.T) {
	f := newFleet(2)
	f.ready = false
	h := newRolloutHarness(t, f)
	var refused, approved, twice *updateOutcome
	var waiting workflows.RolloutProgress
	var heldBefore int
	h.at(time.Minute, func() {
		waiting = h.rolloutProgress()
		f.mu.Lock()
		heldBefore = len(f.held)
		f.mu.Unlock()
		refused = h.update(workflows.RolloutApprove, by)
		f.mu.Lock()
		f.ready = true // the old worker was replaced
		f.mu.Unlock()
	})
	h.at(2*time.Minute, func() {
		approved = h.update(workflows.RolloutApprove, by)
		twice = h.update(workflows.RolloutApprove, by)
	})

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{}))

	refused.assertRejected(t, apperr.KindConflict, "not ready: 1 of 2 live processes cannot serve forum 1.2.0 yet: worker on h2 (pid 2, build old) serves 1.0.0")
	assert.Equal(t, workflows.StatusWaiting, waiting.Status)
	assert.Equal(t, workflows.RolloutStageReadiness, waiting.Stage)
	assert.False(t, waiting.Readiness.Ready)
	assert.Len(t, waiting.Readiness.Processes, 2)
	assert.Zero(t, heldBefore, "nothing held before the go signal")
	approved.assertAccepted(t)
	twice.assertRejected(t, apperr.KindConflict, "approved already, by ada@example.test")
	assert.Equal(t, 2, h.rolloutResult().Counts.Done)
	assert.Equal(t, 2*time.Minute, f.started[0].at)
	assert.Equal(t, "ada@example.test", h.rolloutProgress().Approval.By)
}

func TestRolloutWithNothingToDo(t *testing.T) {
	f := newFleet(0)
	h := newRolloutHarness(t, f)

	h.env.ExecuteWorkflow(workflows.Rollout, rolloutInput(workflows.RolloutOptions{}))

	res := h.rolloutResult()
	assert.Equal(t, workflows.RolloutCompleted, res.Outcome)
	assert.Empty(t, f.held)
	assert.Equal(t, workflows.RolloutCompleted, f.outcome)
}

// Two thousand instances: the rollout continues as new between batches,
// carrying its progress, never its instances, and upgrades each once.
func TestRolloutOverTwoThousandInstances(t *testing.T) {
	f := newFleet(2000)
	for i := 0; i < 2000; i += 250 {
		f.failAlways[f.ids[i+7]] = "boom"
	}
	f.takes = 10 * time.Second
	in := rolloutInput(workflows.RolloutOptions{BatchSize: 200, MaxInFlight: 50, FailureThreshold: 20, AutoApprove: true})
	runs := 0
	var res workflows.RolloutResult
	for {
		runs++
		require.Less(t, runs, 20)
		h := newRolloutHarness(t, f)
		h.env.ExecuteWorkflow(workflows.Rollout, in)
		require.True(t, h.env.IsWorkflowCompleted())
		var cont *workflow.ContinueAsNewError
		if err := h.env.GetWorkflowError(); errors.As(err, &cont) {
			require.Equal(t, "Rollout", cont.WorkflowType.Name)
			in = workflows.RolloutInput{}
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(cont.Input, &in))
			require.NotNil(t, in.Resume)
			assert.Empty(t, in.Resume.InFlight, "continued between batches")
			assert.Equal(t, runs-1, in.Resume.Continued)
			continue
		}
		res = h.rolloutResult()
		break
	}
	assert.GreaterOrEqual(t, runs, 4, "continued as new every 500 upgrades or so")
	assert.Equal(t, workflows.RolloutWithFailures, res.Outcome)
	assert.Equal(t, workflows.RolloutCounts{Total: 2000, Done: 1992, Failed: 8}, res.Counts)
	assert.Len(t, res.Failures, 8)
	started := f.startedIDs()
	assert.Len(t, started, 2000)
	slices.Sort(started)
	assert.Equal(t, f.ids, slices.Compact(started), "every instance upgraded once")
	assert.Equal(t, 1992, f.count("done"))
	assert.LessOrEqual(t, f.maxRunning, 50)
	assert.Len(t, f.held, 1, "jobs held once, across runs")
	assert.Len(t, f.released, 1)
}

func TestRolloutOptions(t *testing.T) {
	assert.Equal(t, workflows.RolloutOptions{BatchSize: 10, MaxInFlight: 4, InstanceDeadline: 30 * time.Minute,
		DrainDeadline: 10 * time.Minute}, workflows.RolloutOptions{}.WithDefaults())
	assert.Equal(t, 2, workflows.RolloutOptions{BatchSize: 2}.WithDefaults().MaxInFlight)
	assert.Equal(t, 1, workflows.RolloutOptions{}.Threshold(1000))
	assert.Equal(t, 3, workflows.RolloutOptions{FailureThreshold: 3}.Threshold(1000))
	assert.Equal(t, 5, workflows.RolloutOptions{FailureThresholdPercent: 5}.Threshold(81))
	for _, bad := range []workflows.RolloutOptions{{BatchSize: 201}, {MaxInFlight: -1}, {FailureThreshold: 1, FailureThresholdPercent: 5},
		{FailureThresholdPercent: 101}, {InstanceDeadline: time.Millisecond}} {
		assert.Equal(t, apperr.KindInvalid, apperr.KindOf(bad.Check()), "%+v", bad)
	}
	assert.NoError(t, workflows.RolloutOptions{BatchSize: 5, FailureThresholdPercent: 10}.Check())
}
