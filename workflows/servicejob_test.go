package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/servicejobs"
	"tenantry/workflows"
)

const jobID = "7d3c1c52-8a0b-4d0e-9a53-3f1a8c1c0b11"

func jobInput() workflows.ServiceJobInput {
	return workflows.ServiceJobInput{JobID: jobID, InstanceID: instanceID, AccountID: accountID, Service: "forum",
		Job: "refresh_board_stats", Version: "1.0.0", SchemaVersion: 1}
}

var jobResult = servicejobs.Result{Summary: "counted 1 boards", Counts: map[string]int64{"boards": 1}}

// claims makes ClaimJob answer held heldFor times, then running.
func (h *harness) claims(heldFor int) {
	n := 0
	h.env.OnActivity(acts.ClaimJob, mock.Anything, mock.Anything).Return(
		func(_ context.Context, ref activities.JobRef) (controldb.JobStart, error) {
			h.record("ClaimJob", ref)
			if n++; n <= heldFor {
				return controldb.JobStart{Status: controldb.JobHeld, HeldBy: "rollout/forum/1.2.0"}, nil
			}
			return controldb.JobStart{Status: controldb.JobRunning}, nil
		}).Maybe()
}

func jobProgress(t *testing.T, h *harness) workflows.JobProgress {
	t.Helper()
	v, err := h.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(t, err)
	var p workflows.JobProgress
	require.NoError(t, v.Get(&p))
	return p
}

func jobStates(p workflows.JobProgress) map[string]workflows.StepState { return states(p.Progress) }

func TestServiceJobRunsItsVersionsCode(t *testing.T) {
	h := newHarness(t)
	h.claims(0)
	h.stub(acts.RunJob, jobResult, nil)
	h.stub(acts.FinishJob, nil)
	h.env.ExecuteWorkflow(workflows.ServiceJob, jobInput())
	require.NoError(t, h.env.GetWorkflowError())
	var res servicejobs.Result
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, jobResult, res)
	assert.Equal(t, names(acts.ClaimJob, acts.RunJob, acts.FinishJob), h.called())
	assert.Equal(t, activities.FinishJobInput{JobID: jobID, Status: controldb.JobCompleted, Result: &jobResult},
		input[activities.FinishJobInput](h, acts.FinishJob))
	p := jobProgress(t, h)
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, uint(1), p.SchemaVersion)
	assert.Equal(t, &jobResult, p.Result)
	assert.Equal(t, map[string]workflows.StepState{"wait": workflows.StepSkipped, "run": workflows.StepDone, "record": workflows.StepDone}, jobStates(p))
}

func TestHeldServiceJobWaitsThenRuns(t *testing.T) {
	h := newHarness(t)
	h.claims(4)
	h.stub(acts.RunJob, jobResult, nil)
	h.stub(acts.FinishJob, nil)
	var held workflows.JobProgress
	h.at(2*time.Second, func() { held = jobProgress(t, h) })
	h.env.ExecuteWorkflow(workflows.ServiceJob, jobInput())
	require.NoError(t, h.env.GetWorkflowError())

	assert.Equal(t, workflows.StatusWaiting, held.Status, "held: waiting")
	assert.Equal(t, "rollout/forum/1.2.0", held.HeldBy)
	assert.Equal(t, workflows.StepWaiting, jobStates(held)["wait"])
	assert.Contains(t, step(t, held.Progress, "wait").Title, "Held by rollout rollout/forum/1.2.0")
	assert.Equal(t, names(acts.ClaimJob, acts.ClaimJob, acts.ClaimJob, acts.ClaimJob, acts.ClaimJob, acts.RunJob, acts.FinishJob), h.called())
	// 1 + 2 + 4 + 8 s of checks on the durable timer.
	assert.Equal(t, start.Add(15*time.Second), h.env.Now().UTC())
	p := jobProgress(t, h)
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Empty(t, p.HeldBy)
	assert.Equal(t, workflows.StepDone, jobStates(p)["wait"])
}

func TestHeldServiceJobRechecksOnSignal(t *testing.T) {
	h := newHarness(t)
	h.claims(1)
	h.stub(acts.RunJob, jobResult, nil)
	h.stub(acts.FinishJob, nil)
	h.at(100*time.Millisecond, func() { h.env.SignalWorkflow(workflows.RecheckJobSignal, nil) })
	h.env.ExecuteWorkflow(workflows.ServiceJob, jobInput())
	require.NoError(t, h.env.GetWorkflowError())
	assert.Less(t, h.env.Now().Sub(start), time.Second, "the recheck came before the timer")
}

func TestServiceJobCancelledWhileHeld(t *testing.T) {
	h := newHarness(t)
	h.claims(100)
	h.stub(acts.FinishJob, nil)
	h.at(30*time.Second, func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(workflows.ServiceJob, jobInput())
	require.Error(t, h.env.GetWorkflowError())
	assert.Equal(t, activities.FinishJobInput{JobID: jobID, Status: controldb.JobCancelled, Error: "cancelled"},
		input[activities.FinishJobInput](h, acts.FinishJob))
	assert.NotContains(t, h.called(), "RunJob")
	assert.Equal(t, workflows.StatusCancelled, jobProgress(t, h).Status)
}

func TestServiceJobFailureIsRecorded(t *testing.T) {
	h := newHarness(t)
	h.claims(0)
	h.failAt(acts.RunJob, domainErr(apperr.Conflict("the instance is disabled: its jobs cannot run")))
	h.stub(acts.RunJob, jobResult, nil)
	h.stub(acts.FinishJob, nil)
	h.env.ExecuteWorkflow(workflows.ServiceJob, jobInput())
	require.Error(t, h.env.GetWorkflowError())
	fin := input[activities.FinishJobInput](h, acts.FinishJob)
	assert.Equal(t, controldb.JobFailed, fin.Status)
	assert.Contains(t, fin.Error, "the instance is disabled")
	p := jobProgress(t, h)
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Contains(t, step(t, p.Progress, "run").Error, "disabled")
}

func TestServiceJobAlreadyFinishedDoesNothing(t *testing.T) {
	h := newHarness(t)
	h.env.OnActivity(acts.ClaimJob, mock.Anything, mock.Anything).Return(controldb.JobStart{Status: controldb.JobCompleted}, nil)
	h.env.ExecuteWorkflow(workflows.ServiceJob, jobInput())
	require.NoError(t, h.env.GetWorkflowError())
	assert.Equal(t, workflows.StatusCompleted, jobProgress(t, h).Status)
}

func TestServiceJobCancelledWhileRunning(t *testing.T) {
	h := newHarness(t)
	h.claims(0)
	h.takes(acts.RunJob, time.Hour)
	h.stub(acts.RunJob, jobResult, nil)
	h.stub(acts.FinishJob, nil)
	h.at(time.Minute, func() { h.env.CancelWorkflow() })
	h.env.ExecuteWorkflow(workflows.ServiceJob, jobInput())
	require.Error(t, h.env.GetWorkflowError())
	assert.Equal(t, activities.FinishJobInput{JobID: jobID, Status: controldb.JobCancelled, Error: "cancelled"},
		input[activities.FinishJobInput](h, acts.FinishJob))
	assert.Equal(t, workflows.StatusCancelled, jobProgress(t, h).Status)
}
