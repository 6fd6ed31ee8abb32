package e2e_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"tenantry/activities"
	"tenantry/internal/billing"
	"tenantry/internal/config"
	"tenantry/internal/stack"
	"tenantry/workflows"
)

type invoiceResponse struct {
	Invoice activities.InvoiceSummary `json:"invoice"`
	Lines   []billing.Line            `json:"lines"`
}

// TestBillingOneMinutePeriods: with one-minute periods on the real dev
// server, a client enables a forum, changes its modules, and reads the
// invoice of the period with the change, explained line by line and as
// CSV; another client cannot; the cycle reset to before a close leaves
// that period's single invoice as it was.
func TestBillingOneMinutePeriods(t *testing.T) {
	s, _ := startStackWith(t, stack.Config{Config: config.Config{GracePeriod: time.Hour, BillingPeriod: time.Minute}})
	ctx := context.Background()
	ada := signupAndLogin(t, s.URL, "ada@acme.test")
	if _, err := s.Platform.BootstrapPlatformRole(ctx, "ada@acme.test", "billing-operator"); err != nil {
		t.Fatal(err)
	}
	bob := signupAndLogin(t, s.URL, "bob@bobs.test")
	// Bob's cycle is terminated by hand; the billing API restarts it from
	// his first unbilled period, so the periods it missed get invoices too.
	var bobID string
	var bobSince time.Time
	if err := s.DB.QueryRow(ctx, `SELECT a.id::text, a.created_at FROM accounts a JOIN grants g ON g.account_id = a.id
		JOIN users u ON u.id = g.user_id WHERE u.email = 'bob@bobs.test'`).Scan(&bobID, &bobSince); err != nil {
		t.Fatal(err)
	}
	if err := s.Temporal.TerminateWorkflow(ctx, workflows.BillingCycleID(bobID), "", "test: a lost cycle"); err != nil {
		t.Fatal(err)
	}

	var inst instance
	ada.must(http.StatusCreated, "POST", "/instances", map[string]any{
		"service": "forum", "modules": []string{"search"}, "host": "acme-billing.localhost",
		"setup": map[string]string{"admin_email": "admin@acme.test", "admin_name": "Admin",
			"admin_password": "a long admin secret", "language": "en"}}, &inst)
	path := "/instances/" + inst.ID
	waitStatus(t, ada, path, "ready")

	var current struct {
		Period billing.Period `json:"period"`
		Usage  []struct {
			Module  string `json:"module"`
			Running bool   `json:"running"`
		} `json:"usage"`
		Cycle *workflows.BillingProgress `json:"cycle"`
	}
	ada.must(http.StatusOK, "GET", "/billing/current", nil, &current)
	if current.Cycle == nil || current.Period.End.Sub(current.Period.Start) != time.Minute || len(current.Usage) != 2 {
		t.Fatalf("period so far: %+v", current)
	}

	ada.must(http.StatusAccepted, "PUT", path+"/modules", map[string]any{"modules": []string{"attachments"}}, nil)
	eventually(t, 20*time.Second, "modules to change", func() bool {
		ada.must(http.StatusOK, "GET", path, nil, &inst)
		return len(inst.Modules) == 2 && inst.Modules[1] == "attachments"
	})
	changed := time.Now()

	// Wait for the invoice of the period that holds the change.
	var inv invoiceResponse
	eventually(t, 150*time.Second, "the period with the change to close", func() bool {
		var list struct{ Invoices []activities.InvoiceSummary }
		ada.must(http.StatusOK, "GET", "/billing/invoices", nil, &list)
		for _, i := range list.Invoices {
			if i.Period.End.After(changed) {
				ada.must(http.StatusOK, "GET", "/billing/invoices/"+i.ID, nil, &inv)
				return true
			}
		}
		return false
	})
	sum, modules := int64(0), map[string]bool{}
	for _, l := range inv.Lines {
		sum += l.AmountMinor
		modules[l.Module] = true
		if !strings.HasPrefix(l.Explanation, "forum · "+l.Module+" module · acme-billing.localhost · ") {
			t.Errorf("explanation %q", l.Explanation)
		}
	}
	if sum != inv.Invoice.TotalMinor || !modules["core"] || !modules["attachments"] || len(inv.Lines) != inv.Invoice.Lines {
		t.Fatalf("invoice %+v", inv)
	}

	// CSV: a header, one row per line, subtotal, discount and total.
	resp := get(t, s.URL+"/api/billing/invoices/"+inv.Invoice.ID+"/csv", ada.token)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rows := strings.Split(strings.TrimSpace(string(body)), "\n")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		len(rows) != 1+len(inv.Lines)+3 || !strings.HasPrefix(rows[0], "position,kind,") {
		t.Fatalf("csv %d %q", resp.StatusCode, body)
	}

	// Another account sees nothing of it, nor the operators' pages.
	bob.must(http.StatusNotFound, "GET", "/billing/invoices/"+inv.Invoice.ID, nil, nil)
	bob.must(http.StatusNotFound, "GET", "/billing/invoices/"+inv.Invoice.ID+"/csv", nil, nil)
	bob.must(http.StatusForbidden, "GET", "/ops/billing/revenue", nil, nil)
	var revenue struct {
		Rows []struct {
			Service, Module string
			AmountMinor     int64 `json:"amount_minor"`
		}
	}
	ada.must(http.StatusOK, "GET", "/ops/billing/revenue?from="+inv.Invoice.Period.Start.Format(time.RFC3339)+
		"&to="+inv.Invoice.Period.End.Format(time.RFC3339), nil, &revenue)
	if len(revenue.Rows) == 0 {
		t.Fatalf("revenue %+v", revenue)
	}
	ada.must(http.StatusUnprocessableEntity, "GET", "/ops/billing/revenue?month=November", nil, nil)
	ada.must(http.StatusOK, "GET", "/ops/billing/failures", nil, nil)
	grant := map[string]any{"account_id": inv.Invoice.AccountID, "name": "goodwill", "reason": "sorry for the outage", "amount_minor": 500}
	bob.must(http.StatusForbidden, "POST", "/ops/billing/discounts", grant, nil)
	ada.must(http.StatusCreated, "POST", "/ops/billing/discounts", grant, nil)
	ada.must(http.StatusUnprocessableEntity, "POST", "/ops/billing/discounts", map[string]any{
		"account_id": inv.Invoice.AccountID, "name": "half", "percent_bp": 20000}, nil)

	// Retrying a close signals the account's running cycle; bob's was
	// terminated, so there is none until the billing API restarts it.
	retry := "/ops/billing/failures/" + bobID + "/retry"
	bob.must(http.StatusForbidden, "POST", retry, nil, nil)
	ada.must(http.StatusNotFound, "POST", retry, nil, nil)
	ada.must(http.StatusAccepted, "POST", "/ops/billing/failures/"+inv.Invoice.AccountID+"/retry", nil, nil)

	resetBeforeClose(t, s, ctx, inv.Invoice)
	catchUp(t, bob, billing.PeriodOf(bobSince, time.Minute), time.Now())
	ada.must(http.StatusAccepted, "POST", retry, nil, nil)
}

// catchUp restarts a's terminated cycle through the billing API and
// waits until its invoices run without a gap from first to past until.
func catchUp(t *testing.T, a *api, first billing.Period, until time.Time) {
	t.Helper()
	a.must(http.StatusOK, "GET", "/billing/current", nil, nil)
	var periods []billing.Period
	eventually(t, 30*time.Second, "the restarted cycle to close the periods it missed", func() bool {
		var list struct{ Invoices []activities.InvoiceSummary }
		a.must(http.StatusOK, "GET", "/billing/invoices", nil, &list)
		periods = periods[:0]
		for _, i := range list.Invoices {
			periods = append(periods, i.Period)
		}
		slices.SortFunc(periods, func(x, y billing.Period) int { return x.Start.Compare(y.Start) })
		return len(periods) > 0 && !periods[len(periods)-1].End.Before(until.Truncate(time.Minute))
	})
	if !periods[0].Start.Equal(first.Start) {
		t.Fatalf("first invoice for %s, want %s", periods[0].Start, first.Start)
	}
	for i := 1; i < len(periods); i++ {
		if !periods[i].Start.Equal(periods[i-1].End) {
			t.Fatalf("no invoice between %s and %s", periods[i-1].End, periods[i].Start)
		}
	}
}

// resetBeforeClose resets the run that closed inv's period to its first
// workflow task, as `temporal workflow reset --type FirstWorkflowTask`
// does: the close runs again, finds the invoice and the cycle goes on.
func resetBeforeClose(t *testing.T, s *stack.Stack, ctx context.Context, inv activities.InvoiceSummary) {
	t.Helper()
	id := workflows.BillingCycleID(inv.AccountID)
	var runID string
	list, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: "WorkflowId = '" + id + "' AND ExecutionStatus = 'ContinuedAsNew'"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Executions {
		var in workflows.BillingCycleInput
		run := s.Temporal.GetWorkflowHistory(ctx, id, e.Execution.RunId, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		first, err := run.Next()
		if err != nil {
			t.Fatal(err)
		}
		if err := converter.GetDefaultDataConverter().FromPayloads(first.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in); err != nil {
			t.Fatal(err)
		}
		if in.Period.Start.Equal(inv.Period.Start) {
			runID = e.Execution.RunId
		}
	}
	if runID == "" {
		t.Fatalf("no closed run of %s for period %s", id, inv.Period.Start)
	}
	recordRun(t, s, "billing_cycle", id, runID)
	var finish int64
	hist := s.Temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for hist.HasNext() && finish == 0 {
		e, err := hist.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.EventType == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			finish = e.EventId
		}
	}
	res, err := s.Temporal.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID},
		Reason: "test: reset to before the close", WorkflowTaskFinishEventId: finish, RequestId: runID,
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the reset run to close again and continue", func() bool {
		d, err := s.Temporal.DescribeWorkflowExecution(ctx, id, res.RunId)
		return err == nil && d.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
	})
	var n int
	var same string
	if err := s.DB.QueryRow(ctx, `SELECT count(*), min(id::text) FROM invoices WHERE account_id = $1 AND period_start = $2`,
		inv.AccountID, inv.Period.Start).Scan(&n, &same); err != nil {
		t.Fatal(err)
	}
	if n != 1 || same != inv.ID {
		t.Fatalf("after the reset: %d invoices for the period, id %s (was %s)", n, same, inv.ID)
	}
}

func get(t *testing.T, url, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
