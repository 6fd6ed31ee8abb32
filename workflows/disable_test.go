package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/workflows"
)

func disableInput() workflows.DisableInput {
	return workflows.DisableInput{InstanceID: instanceID, AccountID: accountID, ActorID: actorID}
}

func (h *harness) stubDisable() {
	h.stub(acts.DisableInstance, nil)
	h.stub(acts.ReenableInstance, nil)
	h.stub(acts.DropDatabase, nil)
	h.stub(acts.DeleteInstance, nil)
}

// disableResult is the finished DisableService's result.
func (h *harness) disableResult(t *testing.T) workflows.DisableResult {
	t.Helper()
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res workflows.DisableResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	return res
}

func TestDisableServiceDeletesAfterGrace(t *testing.T) {
	h := newHarness(t)
	h.stubDisable()
	grace := workflows.DefaultGracePeriod
	h.at(grace-time.Minute, func() {
		p := h.progress()
		assert.Equal(t, workflows.StatusWaiting, p.Status)
		assert.Equal(t, map[string]workflows.StepState{
			"disable": workflows.StepDone, "grace": workflows.StepWaiting,
			"drop_database": workflows.StepPending, "delete": workflows.StepPending,
		}, states(p))
		assert.Equal(t, names(acts.DisableInstance), h.called(), "the data is kept during the grace period")
	})

	h.env.ExecuteWorkflow(workflows.DisableService, disableInput())

	res := h.disableResult(t)
	assert.Equal(t, workflows.DisableResult{Outcome: workflows.OutcomeDeleted, At: start.Add(grace)}, res)
	assert.Equal(t, names(acts.DisableInstance, acts.DropDatabase, acts.DeleteInstance), h.called())
	assert.Equal(t, activities.DisableInput{InstanceID: instanceID, ActorID: actorID, At: start, DeleteAfter: start.Add(grace)},
		input[activities.DisableInput](h, acts.DisableInstance))
	assert.Equal(t, ref, input[activities.InstanceRef](h, acts.DropDatabase))
	assert.Equal(t, ref, input[activities.InstanceRef](h, acts.DeleteInstance))

	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, map[string]workflows.StepState{
		"disable": workflows.StepDone, "grace": workflows.StepDone,
		"drop_database": workflows.StepDone, "delete": workflows.StepDone,
	}, states(p))
}

func TestDisableServiceCustomGrace(t *testing.T) {
	h := newHarness(t)
	h.stubDisable()
	in := disableInput()
	in.GracePeriod = 36 * time.Hour

	h.env.ExecuteWorkflow(workflows.DisableService, in)

	res := h.disableResult(t)
	assert.Equal(t, workflows.DisableResult{Outcome: workflows.OutcomeDeleted, At: start.Add(in.GracePeriod)}, res)
	assert.Equal(t, start.Add(in.GracePeriod), input[activities.DisableInput](h, acts.DisableInstance).DeleteAfter)
}

func TestDisableServiceReenabledWithinGrace(t *testing.T) {
	h := newHarness(t)
	h.stubDisable()
	const after = 2 * 24 * time.Hour
	const reenabler = "0195a1b2-0000-7000-8000-0000000000e2"
	var reenable, again *updateOutcome
	h.at(after, func() {
		reenable = h.update(workflows.ReenableUpdate, workflows.ReenableRequest{ActorID: reenabler})
		again = h.update(workflows.ReenableUpdate, workflows.ReenableRequest{ActorID: actorID})
	})

	h.env.ExecuteWorkflow(workflows.DisableService, disableInput())

	res := h.disableResult(t)
	assert.Equal(t, workflows.DisableResult{Outcome: workflows.OutcomeReenabled, At: start.Add(after)}, res)
	reenable.assertAccepted(t)
	again.assertRejected(t, apperr.KindConflict, "already being enabled again")
	assert.Equal(t, names(acts.DisableInstance, acts.ReenableInstance), h.called(), "the data is not dropped")
	assert.Equal(t, activities.ReenableInput{InstanceID: instanceID, ActorID: reenabler, At: start.Add(after)},
		input[activities.ReenableInput](h, acts.ReenableInstance))

	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, map[string]workflows.StepState{
		"disable": workflows.StepDone, "grace": workflows.StepDone,
		"drop_database": workflows.StepSkipped, "delete": workflows.StepSkipped, "reenable": workflows.StepDone,
	}, states(p))
	assert.Equal(t, "Enable again: route the host, restart billing", step(t, p, "reenable").Title)
}

func TestDisableServiceRefusesReenableOnceDeleting(t *testing.T) {
	h := newHarness(t)
	h.takes(acts.DropDatabase, time.Minute)
	h.stubDisable()
	var late *updateOutcome
	h.at(workflows.DefaultGracePeriod+30*time.Second, func() {
		late = h.update(workflows.ReenableUpdate, workflows.ReenableRequest{ActorID: actorID})
	})

	h.env.ExecuteWorkflow(workflows.DisableService, disableInput())

	assert.Equal(t, workflows.OutcomeDeleted, h.disableResult(t).Outcome)
	require.NotNil(t, late, "the update was sent while the database was being dropped")
	late.assertRejected(t, apperr.KindConflict, "the grace period is over")
	assert.Equal(t, names(acts.DisableInstance, acts.DropDatabase, acts.DeleteInstance), h.called())
}

func TestDisableServiceConflict(t *testing.T) {
	h := newHarness(t)
	const msg = "only a ready instance can be disabled (it is provisioning)"
	h.failAt(acts.DisableInstance, domainErr(apperr.Conflict(msg)))
	h.stubDisable()

	h.env.ExecuteWorkflow(workflows.DisableService, disableInput())

	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(err))
	assert.Equal(t, msg, apperr.Message(err))
	assert.Equal(t, names(acts.DisableInstance), h.called())

	p := h.progress()
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Equal(t, msg, p.Error)
	assert.Equal(t, map[string]workflows.StepState{
		"disable": workflows.StepFailed, "grace": workflows.StepSkipped,
		"drop_database": workflows.StepSkipped, "delete": workflows.StepSkipped,
	}, states(p))
}
