package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/workflows"
)

var movePlan = activities.MovePlan{InstanceID: instanceID, AccountID: accountID, Service: "forum",
	Database: "tenant_x", Role: "tenant_x", FromServerID: "s1", FromServer: "local", ToServerID: "s2", ToServer: "second"}

func moveInput() workflows.MoveInput {
	return workflows.MoveInput{InstanceID: instanceID, AccountID: accountID, Service: "forum", ActorID: actorID,
		ToServer: "second", Grace: time.Hour}
}

func (h *harness) stubMove() {
	h.stub(acts.CheckMove, movePlan, nil)
	h.stub(acts.SetMaintenance, nil)
	h.stub(acts.CopyTenantDatabase, nil)
	h.stub(acts.VerifyTenantCopy, activities.CopyCounts{Tables: 7, Rows: 42}, nil)
	h.stub(acts.SwitchServer, nil)
	h.stub(acts.AbandonTenantCopy, nil)
	h.stub(acts.DropTenantCopy, nil)
}

func TestMoveInstance(t *testing.T) {
	h := newHarness(t)
	h.stubMove()
	var during workflows.Progress
	h.at(30*time.Minute, func() { during = h.progress() })

	h.env.ExecuteWorkflow(workflows.MoveInstance, moveInput())

	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res workflows.MoveResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, workflows.MoveResult{FromServer: "local", ToServer: "second", Tables: 7, Rows: 42}, res)
	assert.Equal(t, names(acts.CheckMove, acts.SetMaintenance, acts.CopyTenantDatabase, acts.VerifyTenantCopy,
		acts.SwitchServer, acts.SetMaintenance, acts.DropTenantCopy), h.called())
	assert.Equal(t, []bool{true, false}, h.maintenance())
	assert.Equal(t, activities.DropCopyInput{InstanceID: instanceID, ServerID: "s1", Database: "tenant_x", Role: "tenant_x"},
		input[activities.DropCopyInput](h, acts.DropTenantCopy), "the old copy, on the old server")

	assert.Equal(t, workflows.StatusWaiting, during.Status, "the grace period is a wait")
	assert.Equal(t, workflows.StepWaiting, step(t, during, workflows.MoveStepGrace).State)
	assert.Equal(t, workflows.StepDone, step(t, during, workflows.MoveStepSwitch).State, "switched before the grace")
	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	for _, s := range p.Steps {
		assert.Equal(t, workflows.StepDone, s.State, s.Name)
	}
}

func TestMoveFailingBeforeTheSwitchStaysWhereItWas(t *testing.T) {
	for _, failing := range []any{acts.CopyTenantDatabase, acts.VerifyTenantCopy, acts.SwitchServer} {
		t.Run(activityName(failing), func(t *testing.T) {
			h := newHarness(t)
			h.failAt(failing, domainErr(apperr.Invalid("the copy on second differs from local: public.posts has 1 rows instead of 2")))
			h.stubMove()

			h.env.ExecuteWorkflow(workflows.MoveInstance, moveInput())

			require.True(t, h.env.IsWorkflowCompleted())
			require.Error(t, h.env.GetWorkflowError())
			called := h.called()
			assert.Contains(t, called, activityName(acts.AbandonTenantCopy), "the partial copy goes")
			assert.NotContains(t, called, activityName(acts.DropTenantCopy), "the source is never dropped")
			assert.Equal(t, []bool{true, false}, h.maintenance(), "out of maintenance")
			p := h.progress()
			assert.Equal(t, workflows.StatusFailed, p.Status)
			assert.Contains(t, p.Error, "public.posts has 1 rows instead of 2")
			assert.Contains(t, p.Error, "the instance stays on local")
			assert.Equal(t, workflows.StepSkipped, step(t, p, workflows.MoveStepGrace).State)
		})
	}
}

func TestMoveRefusedMakesNothing(t *testing.T) {
	h := newHarness(t)
	h.failAt(acts.CheckMove, domainErr(apperr.Conflict("second is draining: it takes no instances")))
	h.stubMove()

	h.env.ExecuteWorkflow(workflows.MoveInstance, moveInput())

	require.Error(t, h.env.GetWorkflowError())
	assert.Equal(t, names(acts.CheckMove), h.called())
	assert.Contains(t, h.progress().Error, "second is draining")
}

// TestCreateDatabaseWaitsForRoom: a full fleet is a wait on a durable
// timer, shown in the progress, until a server has room.
func TestCreateDatabaseWaitsForRoom(t *testing.T) {
	h := newHarness(t)
	full := activities.DatabaseInfo{InstanceID: instanceID, NoRoom: true}
	placed := activities.DatabaseInfo{InstanceID: instanceID, ServerID: "s1", Database: "tenant_x", Role: "tenant_x"}
	asked := 0
	h.env.OnActivity(acts.AllocateDatabase, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.InstanceRef) (activities.DatabaseInfo, error) {
			if asked++; asked <= 3 {
				return full, nil
			}
			return placed, nil
		})
	h.stub(acts.CreateRole, nil)
	h.stub(acts.CreateDatabase, nil)
	var waiting workflows.Progress
	h.at(3*time.Second, func() { waiting = h.progress() })

	h.env.ExecuteWorkflow(workflows.CreateDatabase, activities.InstanceRef{InstanceID: instanceID})

	require.NoError(t, h.env.GetWorkflowError())
	var res activities.DatabaseInfo
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, placed, res)
	assert.Equal(t, workflows.StatusWaiting, waiting.Status)
	s := step(t, waiting, workflows.CreateDatabaseStepAllocate)
	assert.Equal(t, workflows.StepWaiting, s.State)
	assert.Equal(t, workflows.WaitingForRoom, s.Note)
	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Empty(t, step(t, p, workflows.CreateDatabaseStepAllocate).Note)
}

func TestDrainServerMovesEveryInstanceAFewAtATime(t *testing.T) {
	h := newHarness(t)
	list := []activities.ServerInstanceRef{{InstanceID: "i1", AccountID: accountID, Service: "forum"},
		{InstanceID: "i2", AccountID: accountID, Service: "store"}, {InstanceID: "i3", AccountID: accountID, Service: "forum"}}
	h.stub(acts.ServerInstances, list, nil)
	h.stub(acts.PickMoveTarget, activities.MoveTarget{Server: "second"}, nil)
	var started []string
	h.env.OnWorkflow(workflows.MoveInstance, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in workflows.MoveInput) (workflows.MoveResult, error) {
			started = append(started, in.InstanceID)
			if in.InstanceID == "i2" {
				return workflows.MoveResult{}, domainErr(apperr.Conflict("the instance is in maintenance"))
			}
			return workflows.MoveResult{FromServer: "local", ToServer: in.ToServer}, nil
		})

	h.env.ExecuteWorkflow(workflows.DrainServer, workflows.DrainInput{ServerID: "s1", Server: "local", Parallel: 2})

	require.True(t, h.env.IsWorkflowCompleted())
	require.Error(t, h.env.GetWorkflowError(), "a move failed")
	assert.ElementsMatch(t, []string{"i1", "i2", "i3"}, started)
	v, err := h.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(t, err)
	var p workflows.DrainProgress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Equal(t, 3, p.Total)
	require.Len(t, p.Moved, 2)
	require.Len(t, p.Failed, 1)
	assert.Equal(t, "i2", p.Failed[0].InstanceID)
	assert.Contains(t, p.Failed[0].Error, "maintenance")
	assert.Equal(t, workflows.MoveInstanceID("i1", "second"), p.Moved[0].WorkflowID)
}
