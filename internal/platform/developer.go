package platform

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"tenantry/internal/access"
	"tenantry/workflows"
)

// What developers see of every account: instances, workflows, problems.

// StuckAfter is how long a workflow may run (not waiting for a person or a
// timer) before the problems page lists it as stuck.
const StuckAfter = 15 * time.Minute

// InstanceFilter narrows the list of every account's instances.
type InstanceFilter struct {
	Service, Status, Host string
}

// InstanceStatuses are the statuses an instance can have, for filters.
var InstanceStatuses = []string{"provisioning", "ready", "disabled", "deleted", "failed"}

// AnyInstance is an instance of any account.
type AnyInstance struct {
	ID        string    `json:"id"`
	Account   string    `json:"account"`
	Service   string    `json:"service"`
	Version   string    `json:"version"`
	Status    string    `json:"status"`
	Host      string    `json:"host"`
	Modules   []string  `json:"modules"`
	CreatedAt time.Time `json:"created_at"`
}

// AllInstances lists every account's instances matching the filter (the
// latest 500) and how many accounts there are.
func (p *Platform) AllInstances(ctx context.Context, who Principal, f InstanceFilter) ([]AnyInstance, int, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return nil, 0, err
	}
	rows, err := p.DB.Query(ctx, `
		SELECT i.id::text, a.name, i.service, i.version, i.status, i.host, i.modules, i.created_at
		FROM instances i JOIN accounts a ON a.id = i.account_id
		WHERE ($1 = '' OR i.service = $1) AND ($2 = '' OR i.status = $2) AND ($3 = '' OR strpos(i.host, lower($3)) > 0)
		ORDER BY i.created_at DESC LIMIT 500`, f.Service, f.Status, strings.TrimSpace(f.Host))
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AnyInstance])
	if err != nil {
		return nil, 0, err
	}
	var accounts int
	err = p.DB.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&accounts)
	return list, accounts, err
}

// WorkflowRun is one workflow execution with the ways to look into it.
type WorkflowRun struct {
	ID, RunID, Type, Status string
	Started                 time.Time
	Closed                  *time.Time
	// Progress is the run's own status (from its progress query), Reason
	// its error and Cause what operators need beyond it (a migration's SQL
	// error), for runs that did not complete.
	Progress, Reason, Cause string
	// Note is what a waiting step of the run waits for (room on a
	// database server), when not a person.
	Note            string
	UILink          string
	Describe, Reset string
}

// AnyInstanceDetail is any account's instance with every workflow that
// touched it.
type AnyInstanceDetail struct {
	Instance
	Runs        []WorkflowRun
	ListCommand string
}

// AnyInstance loads any account's instance with its workflows.
func (p *Platform) AnyInstance(ctx context.Context, who Principal, id string) (AnyInstanceDetail, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return AnyInstanceDetail{}, err
	}
	v, err := p.loadInstance(ctx, id)
	if err != nil {
		return AnyInstanceDetail{}, err
	}
	runs, err := p.workflowRuns(ctx, fmt.Sprintf("InstanceId = '%s'", v.ID))
	return AnyInstanceDetail{Instance: v, Runs: runs,
		ListCommand: fmt.Sprintf("go tool temporal workflow list --query \"InstanceId='%s'\"", v.ID)}, err
}

// Problems lists the workflows that failed, timed out or were terminated,
// and those running for more than StuckAfter without waiting for a person
// or a timer.
func (p *Platform) Problems(ctx context.Context, who Principal) (failed, stuck []WorkflowRun, err error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return nil, nil, err
	}
	failed, err = p.workflowRuns(ctx, "ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut' OR ExecutionStatus = 'Terminated'")
	if err != nil {
		return nil, nil, err
	}
	since := p.Clock().Add(-StuckAfter).UTC().Format(time.RFC3339)
	running, err := p.workflowRuns(ctx, fmt.Sprintf("ExecutionStatus = 'Running' AND StartTime < '%s'", since))
	if err != nil {
		return nil, nil, err
	}
	for _, w := range running {
		// Waiting for a person (setup) or a timer (grace) is not stuck.
		if w.Progress != string(workflows.StatusWaiting) {
			if w.Reason == "" {
				w.Reason = "running for more than " + StuckAfter.String() + " without waiting for anyone: see its pending activities"
			}
			stuck = append(stuck, w)
		}
	}
	return failed, stuck, nil
}

// workflowRuns lists the workflows matching a visibility query, each with
// its link into the Temporal Web UI and the commands to describe or reset
// it, the earliest started first.
func (p *Platform) workflowRuns(ctx context.Context, query string) ([]WorkflowRun, error) {
	resp, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 200})
	if err != nil {
		return nil, err
	}
	var out []WorkflowRun
	for _, e := range resp.Executions {
		id, run := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
		w := WorkflowRun{ID: id, RunID: run, Type: e.GetType().GetName(),
			Status:   strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WorkflowExecutionStatus")),
			Started:  e.GetStartTime().AsTime().UTC(),
			Describe: fmt.Sprintf("go tool temporal workflow describe --workflow-id %s --run-id %s", id, run),
			Reset:    fmt.Sprintf("go tool temporal workflow reset --workflow-id %s --run-id %s --type FirstWorkflowTask --reason %q", id, run, "retry from the console"),
		}
		if p.TemporalUI != "" {
			w.UILink = strings.TrimRight(p.TemporalUI, "/") + "/namespaces/" + url.PathEscape(p.Namespace) + "/workflows/" +
				url.PathEscape(id) + "/" + url.PathEscape(run) + "/history"
		}
		if e.GetCloseTime() != nil {
			closed := e.GetCloseTime().AsTime().UTC()
			w.Closed = &closed
		}
		if e.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			if pr, err := p.runProgress(ctx, id, run, e.GetCloseTime() != nil); err == nil {
				w.Progress, w.Reason, w.Cause = string(pr.Status), pr.Error, pr.Cause
				for _, st := range pr.Steps {
					if st.State == workflows.StepWaiting && st.Note != "" {
						w.Note = st.Note
					}
				}
			}
		}
		out = append(out, w)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}
