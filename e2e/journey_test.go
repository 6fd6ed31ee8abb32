package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/workflowservice/v1"

	"tenantry/internal/config"
	"tenantry/internal/controldb"
	"tenantry/internal/stack"
	"tenantry/workflows"
)

type instance struct {
	ID            string   `json:"id"`
	Status        string   `json:"status"`
	Modules       []string `json:"modules"`
	Host          string   `json:"host"`
	Routed        bool     `json:"routed"`
	FailureReason string   `json:"failure_reason"`
	Workflows     []struct {
		Kind     string `json:"kind"`
		Progress *struct {
			Status string `json:"status"`
			Steps  []struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"steps"`
		} `json:"progress"`
	} `json:"workflows"`
}

// TestClientJourney drives the whole spine through the JSON API against the
// real dev server, PostgreSQL and worker: signup → enable → setup → ready →
// connect with the tenant's own credentials → change modules → disable →
// enable again within the grace → disable → grace ends → database dropped.
func TestClientJourney(t *testing.T) {
	s := startStack(t, 3*time.Second)
	id := clientJourney(t, s)
	recordHistories(t, s, map[string]string{
		"signup":          workflows.SignupID("ada@acme.test"),
		"enable_service":  workflows.EnableID(id),
		"create_database": workflows.CreateDatabaseID(id),
		"change_modules":  workflows.ChangeModulesID(id),
		"disable_service": workflows.DisableID(id),
	})
}

// TestClientJourneyOnCluster runs the same journey on the Temporal server
// persisted in PostgreSQL (4 history shards, SQL visibility), and checks
// its workflows are listed by the search attributes there.
func TestClientJourneyOnCluster(t *testing.T) {
	cluster := clusterServer(t)
	s, _ := startStackOn(t, cluster.HostPort, stack.Config{Config: config.Config{GracePeriod: 3 * time.Second}})
	id := clientJourney(t, s)
	var instanceWorkflows []string
	eventually(t, 20*time.Second, "the instance's workflows in SQL visibility", func() bool {
		resp, err := s.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("InstanceId = '%s'", id)})
		if err != nil {
			t.Fatal(err)
		}
		instanceWorkflows = instanceWorkflows[:0]
		for _, e := range resp.Executions {
			instanceWorkflows = append(instanceWorkflows, e.Execution.WorkflowId)
		}
		return slices.Contains(instanceWorkflows, workflows.EnableID(id)) && slices.Contains(instanceWorkflows, workflows.DisableID(id))
	})
}

// clientJourney is the journey of TestClientJourney on s; it returns the
// instance's ID.
func clientJourney(t *testing.T, s *stack.Stack) string {
	t.Helper()
	ctx := context.Background()
	a := &api{t: t, base: s.URL + "/api"}

	a.must(http.StatusCreated, "POST", "/signup", map[string]string{
		"email": "Ada@Acme.test", "name": "Ada", "account_name": "Acme", "password": "correct horse battery"}, nil)
	a.must(http.StatusConflict, "POST", "/signup", map[string]string{
		"email": "ada@acme.test", "name": "Ada", "password": "correct horse battery"}, nil)
	a.must(http.StatusUnauthorized, "POST", "/login", map[string]string{"email": "ada@acme.test", "password": "wrong password!"}, nil)
	var login struct{ Token string }
	a.must(http.StatusOK, "POST", "/login", map[string]string{"email": "ada@acme.test", "password": "correct horse battery"}, &login)
	a.token = login.Token

	// Bad input answers at once and creates nothing.
	a.must(http.StatusUnprocessableEntity, "POST", "/instances", map[string]any{"service": "wiki", "host": "a.localhost"}, nil)
	a.must(http.StatusUnprocessableEntity, "POST", "/instances", map[string]any{"service": "forum", "host": "bad host"}, nil)
	a.must(http.StatusUnprocessableEntity, "POST", "/instances", map[string]any{"service": "forum", "host": "a.localhost", "modules": []string{"chat"}}, nil)

	var inst instance
	a.must(http.StatusCreated, "POST", "/instances", map[string]any{
		"service": "forum", "modules": []string{"search", "moderation"}, "host": "Acme-Forum.localhost"}, &inst)
	if inst.Host != "acme-forum.localhost" || inst.Status != "provisioning" {
		t.Fatalf("enable answered %+v", inst)
	}
	a.must(http.StatusConflict, "POST", "/instances", map[string]any{"service": "store", "host": "acme-forum.localhost"}, nil)

	path := "/instances/" + inst.ID
	eventually(t, 20*time.Second, "provisioning to wait for setup", func() bool {
		a.must(http.StatusOK, "GET", path, nil, &inst)
		return stepState(inst, "enable", "setup") == "waiting"
	})
	a.must(http.StatusUnprocessableEntity, "POST", path+"/setup", map[string]string{
		"admin_email": "admin@acme.test", "admin_name": "Admin", "admin_password": "short", "language": "en"}, nil)
	a.must(http.StatusAccepted, "POST", path+"/setup", map[string]string{
		"admin_email": "admin@acme.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "de"}, nil)
	a.must(http.StatusConflict, "POST", path+"/setup", map[string]string{
		"admin_email": "admin@acme.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "de"}, nil)
	inst = waitStatus(t, a, path, "ready")
	if !inst.Routed || !slices.Equal(inst.Modules, []string{"core", "search", "moderation"}) {
		t.Fatalf("ready instance %+v", inst)
	}

	// The admin listener's metrics: the Temporal SDK's, HTTP per route and
	// status, the enable's time to ready.
	resp, err := http.Get(s.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"temporal_workflow_task_execution_latency", "temporal_request",
		`tenantry_http_requests_total{method="POST",route="/api/instances",status="201"}`, "tenantry_enable_to_ready_seconds_count"} {
		if !strings.Contains(string(exposition), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The tenant database answers its own role, seeded from the setup page.
	cfg, _, err := controldb.TenantConfig(ctx, s.Acts.DB, s.Acts.Cipher, s.Acts.Catalog, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect with the tenant's credentials: %v", err)
	}
	var lang string
	if err := conn.QueryRow(ctx, `SELECT value #>> '{}' FROM tenant_settings WHERE key = 'language'`).Scan(&lang); err != nil || lang != "de" {
		t.Fatalf("language %q, %v", lang, err)
	}
	var admins int
	_ = conn.QueryRow(ctx, `SELECT count(*) FROM members WHERE is_admin AND email = 'admin@acme.test'`).Scan(&admins)
	conn.Close(ctx)
	if admins != 1 {
		t.Fatalf("%d admin members seeded", admins)
	}

	// Change modules: the tenant's settings and billing follow.
	a.must(http.StatusAccepted, "PUT", path+"/modules", map[string]any{"modules": []string{"search", "attachments"}}, nil)
	eventually(t, 20*time.Second, "the module change", func() bool {
		a.must(http.StatusOK, "GET", path, nil, &inst)
		return slices.Equal(inst.Modules, []string{"core", "search", "attachments"})
	})
	var open []string
	rows, _ := s.DB.Query(ctx, `SELECT module FROM usage_spans WHERE instance_id = $1 AND ended_at IS NULL ORDER BY module`, inst.ID)
	open, _ = pgx.CollectRows(rows, pgx.RowTo[string])
	if !slices.Equal(open, []string{"attachments", "core", "search"}) {
		t.Fatalf("open usage spans %v", open)
	}

	// Disable, enable again within the grace: the data is kept.
	a.must(http.StatusAccepted, "DELETE", path, nil, nil)
	waitStatus(t, a, path, "disabled")
	a.must(http.StatusAccepted, "POST", path+"/enable", nil, nil)
	waitStatus(t, a, path, "ready")

	// Disable for good: after the grace the database and role are gone.
	a.must(http.StatusAccepted, "DELETE", path, nil, nil)
	waitStatus(t, a, path, "disabled")
	eventually(t, 30*time.Second, "the grace period to end", func() bool {
		a.must(http.StatusOK, "GET", path, nil, &inst)
		return inst.Status == "deleted"
	})
	var dbLeft int
	_ = s.DB.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, cfg.Database).Scan(&dbLeft)
	if dbLeft != 0 {
		t.Fatalf("tenant database %s still exists after the grace period", cfg.Database)
	}

	return inst.ID
}

// TestOtherAccountsInstancesAreNotFound checks that one client cannot see
// or touch another's instance by guessing its ID.
func TestOtherAccountsInstancesAreNotFound(t *testing.T) {
	s := startStack(t, time.Hour)
	owner := signupAndLogin(t, s.URL, "owner@one.test")
	other := signupAndLogin(t, s.URL, "other@two.test")
	var inst instance
	owner.must(http.StatusCreated, "POST", "/instances", map[string]any{"service": "store", "host": "one-store.localhost"}, &inst)
	path := "/instances/" + inst.ID
	other.must(http.StatusNotFound, "GET", path, nil, nil)
	other.must(http.StatusNotFound, "POST", path+"/setup", map[string]string{
		"admin_email": "x@two.test", "admin_name": "X", "admin_password": "a long admin secret", "language": "en"}, nil)
	other.must(http.StatusNotFound, "PUT", path+"/modules", map[string]any{"modules": []string{}}, nil)
	other.must(http.StatusNotFound, "DELETE", path, nil, nil)
	var list struct{ Instances []instance }
	other.must(http.StatusOK, "GET", "/instances", nil, &list)
	if len(list.Instances) != 0 {
		t.Fatalf("other account sees %d instances", len(list.Instances))
	}
	anonymous := &api{t: t, base: s.URL + "/api"}
	anonymous.must(http.StatusUnauthorized, "GET", path, nil, nil)
}

func signupAndLogin(t *testing.T, base, email string) *api {
	a := &api{t: t, base: base + "/api"}
	a.must(http.StatusCreated, "POST", "/signup", map[string]string{"email": email, "name": "Someone", "password": "correct horse battery"}, nil)
	var login struct{ Token string }
	a.must(http.StatusOK, "POST", "/login", map[string]string{"email": email, "password": "correct horse battery"}, &login)
	a.token = login.Token
	return a
}

func waitStatus(t *testing.T, a *api, path, status string) instance {
	t.Helper()
	var inst instance
	eventually(t, 30*time.Second, "status "+status, func() bool {
		a.must(http.StatusOK, "GET", path, nil, &inst)
		if inst.Status == "failed" {
			t.Fatalf("instance failed: %s", inst.FailureReason)
		}
		return inst.Status == status
	})
	return inst
}

func stepState(inst instance, kind, step string) string {
	for _, w := range inst.Workflows {
		if w.Kind != kind || w.Progress == nil {
			continue
		}
		for _, s := range w.Progress.Steps {
			if s.Name == step {
				return s.State
			}
		}
	}
	return ""
}
