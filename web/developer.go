package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/web/console"
	"tenantry/workflows"
)

// stuckAfter is how long a workflow may run (not waiting for a person or a
// timer) before the problems page lists it as stuck.
const stuckAfter = 15 * time.Minute

// developerRoutes are the platform operators' pages: every account.
func (s *Server) developerRoutes(in *gin.RouterGroup) {
	dev := in.Group("/dev", s.need(access.ConsoleAdmin))
	dev.GET("", s.devInstancesPage)
	dev.GET("/instances/:id", s.devInstancePage)
	dev.GET("/problems", s.devProblemsPage)
	dev.GET("/catalog", s.devCatalogPage)
	s.devBillingRoutes(dev)
}

func (s *Server) devInstancesPage(c *gin.Context) {
	f := console.DevFilter{Service: c.Query("service"), Status: c.Query("status"), Host: strings.TrimSpace(c.Query("host"))}
	rows, err := s.DB.Query(c.Request.Context(), `
		SELECT i.id, a.name, i.service, i.version, i.status, i.host, i.modules, i.created_at
		FROM instances i JOIN accounts a ON a.id = i.account_id
		WHERE ($1 = '' OR i.service = $1) AND ($2 = '' OR i.status = $2) AND ($3 = '' OR strpos(i.host, lower($3)) > 0)
		ORDER BY i.created_at DESC LIMIT 500`, f.Service, f.Status, f.Host)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (console.DevInstance, error) {
		var d console.DevInstance
		var created time.Time
		err := r.Scan(&d.ID, &d.Account, &d.Service, &d.Version, &d.Status, &d.Host, &d.Modules, &created)
		d.Created = created.UTC().Format(time.DateTime)
		return d, err
	})
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	f.Services = s.Catalog.Names()
	f.Statuses = []string{"provisioning", "ready", "disabled", "deleted", "failed"}
	var accounts int
	_ = s.DB.QueryRow(c.Request.Context(), `SELECT count(*) FROM accounts`).Scan(&accounts)
	s.render(c, http.StatusOK, console.DevInstancesPage(s.page(c, "All instances"), f, list, accounts))
}

// devWorkflows lists the workflows matching a visibility query, each with
// its link into the Temporal Web UI and the commands to describe or reset it.
func (s *Server) devWorkflows(ctx context.Context, query string) ([]console.DevWorkflow, error) {
	resp, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 200})
	if err != nil {
		return nil, err
	}
	var out []console.DevWorkflow
	for _, e := range resp.Executions {
		id, run := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
		w := console.DevWorkflow{ID: id, RunID: run, Type: e.GetType().GetName(),
			Status:   strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WorkflowExecutionStatus")),
			Started:  e.GetStartTime().AsTime().UTC().Format(time.DateTime),
			Describe: fmt.Sprintf("go tool temporal workflow describe --workflow-id %s --run-id %s", id, run),
			Reset:    fmt.Sprintf("go tool temporal workflow reset --workflow-id %s --run-id %s --type FirstWorkflowTask --reason %q", id, run, "retry from the console"),
		}
		if s.TemporalUI != "" {
			w.UILink = strings.TrimRight(s.TemporalUI, "/") + "/namespaces/default/workflows/" + url.PathEscape(id) + "/" + url.PathEscape(run) + "/history"
		}
		if e.GetCloseTime() != nil {
			w.Closed = e.GetCloseTime().AsTime().UTC().Format(time.DateTime)
		}
		if e.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			if p, err := s.runProgress(ctx, id, run, e.GetCloseTime() != nil); err == nil {
				w.Progress, w.Reason = string(p.Status), p.Error
			}
		}
		out = append(out, w)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started < out[j].Started })
	return out, nil
}

func (s *Server) devInstancePage(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	var accountID string
	_ = s.DB.QueryRow(ctx, `SELECT account_id FROM instances WHERE id::text = $1`, id).Scan(&accountID)
	if accountID == "" {
		s.consoleFail(c, apperr.NotFound("no instance %s", id))
		return
	}
	v, err := s.findInstance(ctx, accountID, id)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	flows, err := s.devWorkflows(ctx, fmt.Sprintf("InstanceId = '%s'", v.ID))
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	d := console.DevInstanceDetail{ID: v.ID, Service: v.Service, Version: v.Version, Status: v.Status, Host: v.Host,
		Database: v.Database, FailureReason: v.FailureReason, Modules: v.Modules, Workflows: flows,
		ListCommand: fmt.Sprintf("go tool temporal workflow list --query \"InstanceId='%s'\"", v.ID)}
	s.render(c, http.StatusOK, console.DevInstancePage(s.page(c, v.Service+" · "+v.Host), d))
}

func (s *Server) devProblemsPage(c *gin.Context) {
	ctx := c.Request.Context()
	failed, err := s.devWorkflows(ctx, "ExecutionStatus = 'Failed' OR ExecutionStatus = 'TimedOut' OR ExecutionStatus = 'Terminated'")
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	since := s.Clock().Add(-stuckAfter).UTC().Format(time.RFC3339)
	running, err := s.devWorkflows(ctx, fmt.Sprintf("ExecutionStatus = 'Running' AND StartTime < '%s'", since))
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	var stuck []console.DevWorkflow
	for _, w := range running {
		// Waiting for a person (setup) or a timer (grace) is not stuck.
		if w.Progress != string(workflows.StatusWaiting) {
			if w.Reason == "" {
				w.Reason = "running for more than " + stuckAfter.String() + " without waiting for anyone: see its pending activities"
			}
			stuck = append(stuck, w)
		}
	}
	s.render(c, http.StatusOK, console.DevProblemsPage(s.page(c, "Failed and stuck workflows"), failed, stuck))
}

func (s *Server) devCatalogPage(c *gin.Context) {
	schedule, err := controldb.PriceSchedule(c.Request.Context(), s.DB, false)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	var out []console.DevService
	for _, name := range s.Catalog.Names() {
		svc, _ := s.Catalog.Service(name)
		d := console.DevService{Name: svc.Name, Description: svc.Description, Current: svc.CurrentVersion,
			Modules: moduleChoices(svc, "", nil, s.Clock())}
		for _, v := range svc.Versions {
			line := fmt.Sprintf("%s (schema %d)", v.Version, v.SchemaVersion)
			if v.Modules != nil {
				line += " offers only " + strings.Join(v.Modules, " + ")
			}
			d.Versions = append(d.Versions, line)
		}
		for _, p := range svc.Permissions {
			d.Permissions = append(d.Permissions, p.Name+": "+p.Description)
		}
		for _, p := range schedule {
			if p.Service == svc.Name {
				d.Prices = append(d.Prices, devPrice(p))
			}
		}
		out = append(out, d)
	}
	s.render(c, http.StatusOK, console.DevCatalogPage(s.page(c, "Service catalog"), out))
}

// devPrice shows one scheduled price change with its workflow.
func devPrice(p controldb.ScheduledPrice) console.DevPrice {
	id := workflows.PriceChangeID(p.Service, p.Module, p.EffectiveAt)
	d := console.DevPrice{Module: p.Module, From: p.EffectiveAt.Format("2 Jan 2006 15:04 UTC"),
		Price: console.Money(p.HourlyPriceMinor, p.Currency) + "/h", Status: p.Status, Shown: p.Status, WorkflowID: id,
		Describe: "go tool temporal workflow describe --workflow-id " + id}
	switch {
	case p.AppliedAt != nil:
		d.Shown = "applied at " + p.AppliedAt.Format(time.DateTime) + " UTC"
	case p.CancelledAt != nil:
		d.Shown = "cancelled at " + p.CancelledAt.Format(time.DateTime) + " UTC"
	}
	return d
}
