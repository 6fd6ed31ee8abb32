package workflows

import (
	"context"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"tenantry/activities"
)

// StartEnable starts EnableService together with the ReservedUpdate
// (update-with-start): one call that returns once the request is validated
// and the host reserved, or with the reason it was refused.
func StartEnable(ctx context.Context, c client.Client, in EnableInput) (activities.ReserveInstanceResult, error) {
	start := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       EnableID(in.InstanceID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes:    SearchAttributes(in.AccountID, in.Service, in.InstanceID),
	}, EnableService, in)
	var reserved activities.ReserveInstanceResult
	handle, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: ReservedUpdate, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return reserved, err
	}
	return reserved, handle.Get(ctx, &reserved)
}
