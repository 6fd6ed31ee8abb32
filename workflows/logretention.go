package workflows

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/controldb"
)

// LogRetention's contract: one run per tick of the schedule
// LogRetentionScheduleID on TaskQueue (its runs are named
// logs/retention-<time>), made by EnsureLogRetention at start-up; its
// progress query answers a Progress.
//
//	go tool temporal schedule describe --schedule-id logs/retention

// LogRetentionScheduleID names the schedule that prunes instance logs.
const LogRetentionScheduleID = "logs/retention"

// LogRetentionEvery is how often the schedule prunes.
const LogRetentionEvery = time.Hour

// LogRetentionInput overrides how long lines are kept (zero:
// controldb.LogMaxAge), for tests and the dev stack.
type LogRetentionInput struct {
	MaxAge time.Duration
}

// LogRetention's step.
const LogRetentionStepPrune = "prune"

// EnsureLogRetention creates the hourly schedule of LogRetention, or
// leaves an existing one alone (every worker process calls it at start).
func EnsureLogRetention(ctx context.Context, c client.Client) error {
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      LogRetentionScheduleID,
		Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: LogRetentionEvery}}},
		Overlap: 0, // skip a tick while the previous run still prunes
		Action: &client.ScheduleWorkflowAction{
			ID: "logs/retention", TaskQueue: TaskQueue, Workflow: LogRetention, Args: []any{LogRetentionInput{}},
		},
	})
	var exists *serviceerror.AlreadyExists
	if errors.Is(err, temporal.ErrScheduleAlreadyRunning) || errors.As(err, &exists) {
		return nil
	}
	return err
}

// LogRetention deletes instance log lines older than the retention and
// beyond each instance's line cap, as one regular activity that heartbeats
// between batches (a backlog can take a while).
func LogRetention(ctx workflow.Context, in LogRetentionInput) (activities.PruneLogsResult, error) {
	t, err := newTracker(ctx, stepDef{LogRetentionStepPrune, "Delete old instance log lines"})
	if err != nil {
		return activities.PruneLogsResult{}, err
	}
	age := in.MaxAge
	if age <= 0 {
		age = controldb.LogMaxAge
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         retryDB,
	})
	var res activities.PruneLogsResult
	err = t.run(ctx, LogRetentionStepPrune, func() error {
		in := activities.PruneLogsInput{Before: workflow.Now(ctx).Add(-age)}
		return workflow.ExecuteActivity(ctx, acts.PruneInstanceLogs, in).Get(ctx, &res)
	})
	if err != nil {
		t.fail(ctx, err)
		return res, err
	}
	t.finish(StatusCompleted)
	return res, nil
}
