package e2e_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"tenantry/activities"
	"tenantry/internal/config"
	"tenantry/internal/controldb"
	"tenantry/internal/stack"
	"tenantry/workflows"
)

// On the real stack an instance's log holds the events of its
// provisioning and a line per request its host served; the retention
// schedule exists, and a LogRetention run prunes.
func TestInstanceLogOnTheRealStack(t *testing.T) {
	s, _ := startStackWith(t, stack.Config{Config: config.Config{GracePeriod: time.Hour, RouterListen: "127.0.0.1:0"}})
	ctx := context.Background()
	a := signupAndLogin(t, s.URL, "ops@logs.test")
	var inst instance
	a.must(http.StatusCreated, "POST", "/instances", map[string]any{"service": "forum", "modules": []string{"search"},
		"host": "logs-forum.localhost", "setup": map[string]string{"admin_email": "admin@logs.test", "admin_name": "Admin",
			"admin_password": "a long admin secret", "language": "en"}}, &inst)
	waitStatus(t, a, "/instances/"+inst.ID, "ready")

	req, _ := http.NewRequest("GET", s.RouterURL+"/b/general?page=2", nil)
	req.Host = "logs-forum.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := s.Router.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var page struct {
		Lines []controldb.LogLine `json:"lines"`
	}
	a.must(http.StatusOK, "GET", "/instances/"+inst.ID+"/logs", nil, &page)
	var events []string
	var served *controldb.LogLine
	for i, l := range page.Lines {
		if l.Kind == controldb.LogEventKind {
			events = append(events, l.Event)
		} else if l.Path == "/b/general" {
			served = &page.Lines[i]
		}
	}
	for _, want := range []string{"instance.requested", "instance.database_created", "instance.migrated", "instance.seeded", "instance.ready"} {
		if !slices.Contains(events, want) {
			t.Errorf("the log lacks %s: %v", want, events)
		}
	}
	if served == nil || served.Status != http.StatusOK || served.Method != "GET" {
		t.Fatalf("the request is not in the log: %+v", page.Lines)
	}

	if _, err := s.Temporal.ScheduleClient().GetHandle(ctx, workflows.LogRetentionScheduleID).Describe(ctx); err != nil {
		t.Fatalf("the retention schedule: %v", err)
	}
	// Everything logged so far is older than a retention of a nanosecond.
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "logs/retention-e2e", TaskQueue: workflows.TaskQueue},
		workflows.LogRetention, workflows.LogRetentionInput{MaxAge: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.PruneLogsResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Deleted < int64(len(page.Lines)) {
		t.Fatalf("pruned %d lines, want at least %d", res.Deleted, len(page.Lines))
	}
	recordRun(t, s, "log_retention", "logs/retention-e2e", run.GetRunID())
}
