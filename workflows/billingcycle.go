package workflows

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
)

// BillingCycle's contract: one cycle per account on TaskQueue, started by
// StartBillingCycle, continued as new each period; RetryClose sends the
// RetryCloseSignal; its progress query answers a BillingProgress, whose
// Status is StatusWaiting while it sleeps until the period's end. It has no
// steps: each period is one close.

// BillingCycleID is one cycle per account for the account's whole life.
func BillingCycleID(accountID string) string { return "billing/" + accountID }

// RetryCloseSignal asks a cycle whose close failed to try again now:
//
//	temporal workflow signal --workflow-id billing/<account> --name retry-close
const RetryCloseSignal = "retry-close"

// closeRetryEvery is how often a failed close is tried again on its own.
const closeRetryEvery = time.Hour

// RetryCloseAdvice tells an operator how to retry an account's failed
// close: the cycle's progress and the developers' billing page show it.
func RetryCloseAdvice(accountID string) string {
	return "fix the cause, then: go tool temporal workflow signal --workflow-id " + BillingCycleID(accountID) +
		" --name " + RetryCloseSignal + " (the cycle also retries every hour)"
}

// BillingCycleInput is one period of an account's cycle. Length zero means
// calendar months in UTC; the dev stack and tests shorten it.
type BillingCycleInput struct {
	AccountID string
	Period    billing.Period
	Length    time.Duration
	// Carried across continue-as-new so the progress query can answer.
	LastInvoice   *activities.InvoiceSummary
	PeriodsClosed int
}

// BillingProgress is what the progress query of a cycle returns.
type BillingProgress struct {
	AccountID     string                     `json:"account_id"`
	Period        billing.Period             `json:"period"`
	NextClose     time.Time                  `json:"next_close"`
	Status        Status                     `json:"status"` // waiting for the period end, running the close
	LastInvoice   *activities.InvoiceSummary `json:"last_invoice,omitempty"`
	PeriodsClosed int                        `json:"periods_closed"`
	// Error is why the last close attempt failed, and Retry how to retry it.
	Error string `json:"error,omitempty"`
	Retry string `json:"retry,omitempty"`
}

// StartBillingCycle starts the account's cycle at period p, or leaves the
// running one alone. Signup starts it at the period that holds now;
// start-up and the billing API start a missing one at the account's first
// unbilled period (controldb.UnbilledPeriods), so it catches up.
func StartBillingCycle(ctx context.Context, c client.Client, accountID string, p billing.Period, length time.Duration) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       BillingCycleID(accountID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    SearchAttributes(accountID, "", ""),
	}, BillingCycle, BillingCycleInput{AccountID: accountID, Period: p, Length: length})
	return err
}

// RetryClose asks an account's cycle to try its failed close again now, as
// the retry-close signal from the temporal CLI does; an account without a
// running cycle is apperr.NotFound.
func RetryClose(ctx context.Context, c client.Client, accountID string) error {
	err := c.SignalWorkflow(ctx, BillingCycleID(accountID), "", RetryCloseSignal, nil)
	var missing *serviceerror.NotFound
	if errors.As(err, &missing) {
		return apperr.NotFound("account %s has no running billing cycle", accountID)
	}
	return err
}

// BillingCycle sleeps until its period ends, closes it (the invoice is
// computed from the control database by an idempotent activity, never from
// this workflow's state), then continues as new into the next period. A
// close that keeps failing waits for the retry-close signal or an hour,
// then tries again; the period is never skipped.
func BillingCycle(ctx workflow.Context, in BillingCycleInput) error {
	c := &cycle{in: in, p: BillingProgress{AccountID: in.AccountID, Period: in.Period, NextClose: in.Period.End,
		Status: StatusWaiting, LastInvoice: in.LastInvoice, PeriodsClosed: in.PeriodsClosed}}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (BillingProgress, error) { return c.p, nil }); err != nil {
		return err
	}
	if err := c.waitForEnd(ctx); err != nil {
		return err
	}
	inv := c.close(ctx)
	return workflow.NewContinueAsNewError(ctx, BillingCycle, BillingCycleInput{
		AccountID: in.AccountID, Period: in.Period.Next(in.Length), Length: in.Length,
		LastInvoice: &inv, PeriodsClosed: in.PeriodsClosed + 1,
	})
}

type cycle struct {
	in BillingCycleInput
	p  BillingProgress
}

func (c *cycle) waitForEnd(ctx workflow.Context) error {
	if d := c.in.Period.End.Sub(workflow.Now(ctx)); d > 0 {
		return workflow.Sleep(ctx, d)
	}
	return nil
}

func (c *cycle) close(ctx workflow.Context) activities.InvoiceSummary {
	retry := workflow.GetSignalChannel(ctx, RetryCloseSignal)
	// A retry asked for while nothing had failed has nothing to retry; left
	// buffered it would skip the wait after a later failure.
	for retry.ReceiveAsync(nil) {
	}
	for {
		c.p.Status = StatusRunning
		var inv activities.InvoiceSummary
		err := call(withDBSteps(ctx), acts.CloseBillingPeriod,
			activities.ClosePeriodInput{AccountID: c.in.AccountID, Period: c.in.Period}, &inv)
		if err == nil {
			return inv
		}
		c.p.Status, c.p.Error = StatusFailed, apperr.Message(err)
		c.p.Retry = RetryCloseAdvice(c.in.AccountID)
		timerCtx, cancel := workflow.WithCancel(ctx)
		s := workflow.NewSelector(ctx)
		s.AddReceive(retry, func(ch workflow.ReceiveChannel, _ bool) { ch.Receive(ctx, nil) })
		s.AddFuture(workflow.NewTimer(timerCtx, closeRetryEvery), func(workflow.Future) {})
		s.Select(ctx)
		cancel()
		c.p.Error, c.p.Retry = "", ""
	}
}
