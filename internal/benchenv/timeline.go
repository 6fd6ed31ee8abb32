package benchenv

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
)

// PrintTimeline prints a workflow's history as one line per event with its
// time after origin (the first event when origin is zero): where a run's
// time goes between server round trips and steps.
func PrintTimeline(ctx context.Context, c client.Client, workflowID string, origin time.Time) error {
	fmt.Println("==", workflowID)
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, 0)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return err
		}
		at := e.GetEventTime().AsTime()
		if origin.IsZero() {
			origin = at
		}
		fmt.Printf("  %8.1f ms %s\n", float64(at.Sub(origin).Microseconds())/1000, e.GetEventType())
	}
	return nil
}
