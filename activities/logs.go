package activities

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"

	"tenantry/internal/controldb"
)

// logEvent adds a step's event to the instance's own log, once for all
// the retries of one activity (its key is the run, activity ID and event:
// one activity may log several, as MigrateTenant with its seed does). An
// event the log cannot take is not worth failing the step for.
func (a *Activities) logEvent(ctx context.Context, instanceID, event string, detail map[string]any) {
	key := "local/" + uuid.NewString()
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		key = "activity/" + info.WorkflowExecution.RunID + "/" + info.ActivityID + "/" + event
	}
	if err := controldb.LogEvent(ctx, a.DB, instanceID, key, event, detail); err != nil {
		slog.Warn("instance log event", "instance", instanceID, "event", event, "err", err)
	}
}

// PruneLogsInput says until when lines are kept.
type PruneLogsInput struct {
	// Before: lines older than this go (and every instance keeps at most
	// controldb.LogMaxLines of its newest).
	Before time.Time
}

// PruneLogsResult says how many lines went.
type PruneLogsResult struct {
	Deleted int64
}

// PruneInstanceLogs deletes old log lines in small batches, heartbeating
// after each, so a large backlog neither holds long locks nor outlives its
// deadline unseen; a retry carries on where it stopped.
func (a *Activities) PruneInstanceLogs(ctx context.Context, in PruneLogsInput) (PruneLogsResult, error) {
	var res PruneLogsResult
	for {
		n, err := controldb.PruneLogs(ctx, a.DB, in.Before, 5000)
		if err != nil {
			return res, err
		}
		res.Deleted += n
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, res.Deleted)
		}
		if n == 0 || ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
}
