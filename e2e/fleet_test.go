package e2e_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/config"
	"tenantry/internal/controldb"
	"tenantry/internal/platform"
	"tenantry/internal/stack"
	"tenantry/internal/testenv"
	"tenantry/workflows"
)

// TestFleetOfTwoServers runs the stack with two database servers (two
// private clusters): tenants land on both; each server closes its tenants
// off everything but their own database; a moved instance keeps its data
// and serves through the router as soon as the move switches it; a full
// fleet makes provisioning wait (shown to operators) until there is room;
// and draining a server moves every instance off it, from the API and from
// the shell (`tenantry servers drain --move`).
func TestFleetOfTwoServers(t *testing.T) {
	ctx := context.Background()
	second := testenv.SecondServerURL(t)
	bin := buildTenantry(t)
	s, cfg := startStackWith(t, stack.Config{
		Config:        config.Config{GracePeriod: time.Hour, MoveGrace: 2 * time.Second, RouterListen: "127.0.0.1:0"},
		TenantServers: []stack.TenantServer{{Name: "second", AdminURL: second}},
	})
	a := signupAndLogin(t, s.URL, "ops@fleet.test")
	if _, err := s.Platform.BootstrapPlatformRole(ctx, "ops@fleet.test", "developer"); err != nil {
		t.Fatal(err)
	}
	enable := func(host string) string {
		var inst instance
		a.must(http.StatusCreated, "POST", "/instances", map[string]any{"service": "forum", "host": host,
			"setup": map[string]string{"admin_email": "admin@" + host, "admin_name": "Admin",
				"admin_password": "a long admin secret", "language": "en"}}, &inst)
		return inst.ID
	}
	alpha, beta := enable("alpha.localhost"), enable("beta.localhost")
	waitStatus(t, a, "/instances/"+alpha, "ready")
	waitStatus(t, a, "/instances/"+beta, "ready")

	// Tenants land on both servers, the least loaded first.
	serverOf := func(id string) string {
		var name string
		if err := s.DB.QueryRow(ctx, `SELECT s.name FROM instances i JOIN database_servers s ON s.id = i.database_server_id
			WHERE i.id = $1`, id).Scan(&name); err != nil {
			t.Fatal(err)
		}
		return name
	}
	if got := []string{serverOf(alpha), serverOf(beta)}; !slices.Equal(got, []string{"local", "second"}) {
		t.Fatalf("alpha and beta are on %v, want local and second", got)
	}

	// Each server closes its tenants off every other database.
	tenant := func(id string) *pgx.ConnConfig {
		cfg, _, err := controldb.TenantConfig(ctx, s.Acts.DB, s.Acts.Cipher, s.Acts.Catalog, id)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	refused := func(what string, cfg *pgx.ConnConfig) {
		t.Helper()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			conn.Close(ctx)
			t.Errorf("%s: connected", what)
		}
	}
	for _, id := range []string{alpha, beta} {
		for _, db := range []string{"postgres", "template1", "tenantry"} {
			cfg := tenant(id)
			cfg.Database = db
			refused(serverOf(id)+": a tenant's role to "+db, cfg)
		}
	}
	cross := tenant(alpha)
	cross.Database = tenant(beta).Database
	refused("alpha's role to beta's database", cross)
	cross.Host, cross.Port = tenant(beta).Host, tenant(beta).Port
	refused("alpha's role on beta's server", cross)

	// Alpha has data; an operator moves it to the second server.
	router := &testenv.Browser{T: t, Base: s.RouterURL, Host: "alpha.localhost"}
	if r := router.Post("/register", url.Values{"email": {"eve@example.com"}, "name": {"Eve"}, "password": {"a long enough password"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	if r := router.Post("/b/general/threads", url.Values{"title": {"Written before the move"}, "body": {"kept"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("new thread: %d %s", r.Status, r.Body)
	}
	router.MustSee("/b/general", "Written before the move")
	a.must(http.StatusNotFound, "POST", "/ops/servers/nowhere/moves", map[string]string{"instance_id": alpha}, nil)
	a.must(http.StatusUnprocessableEntity, "POST", "/ops/servers/local/moves", map[string]string{"instance_id": alpha}, nil)
	var move platform.Move
	a.must(http.StatusAccepted, "POST", "/ops/servers/second/moves", map[string]string{"instance_id": alpha}, &move)
	if move.WorkflowID != workflows.MoveInstanceID(alpha, "second") || move.FromServer != "local" {
		t.Fatalf("move answered %+v", move)
	}
	// As soon as the switch is done, the router serves alpha from its new
	// server, with its data, and the session made before the move.
	eventually(t, 60*time.Second, "alpha switched", func() bool { return serverOf(alpha) == "second" })
	eventually(t, 10*time.Second, "alpha served after the switch", func() bool {
		return router.Get("/b/general").Status == http.StatusOK
	})
	router.MustSee("/b/general", "Written before the move")
	if r := router.Post("/b/general/threads", url.Values{"title": {"Written after the move"}, "body": {"new"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("new thread after the move: %d %s", r.Status, r.Body)
	}
	if tenant(alpha).Port != tenant(beta).Port {
		t.Fatal("alpha's credentials do not point at the second server")
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var moved workflows.MoveResult
	if err := s.Temporal.GetWorkflow(wctx, move.WorkflowID, "").Get(wctx, &moved); err != nil {
		t.Fatalf("move: %v", err)
	}
	if moved.Rows == 0 || moved.Tables == 0 {
		t.Fatalf("move copied %+v", moved)
	}
	local, err := pgx.Connect(ctx, testenv.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close(ctx)
	var left bool
	if err := local.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tenant(alpha).Database).Scan(&left); err != nil || left {
		t.Fatalf("the old copy is still on local after the grace (%v)", err)
	}
	recordHistories(t, s, map[string]string{"move_instance": move.WorkflowID})

	// A full fleet: provisioning waits, operators see it, room ends it.
	if _, err := s.DB.Exec(ctx, `UPDATE database_servers SET max_instances = CASE name WHEN 'second' THEN 2 ELSE 0 END`); err != nil {
		t.Fatal(err)
	}
	gamma := enable("gamma.localhost")
	operator := platform.ShellOperator()
	eventually(t, 30*time.Second, "gamma waiting for room", func() bool {
		waiting, err := s.Platform.WaitingForRoom(ctx, operator)
		return err == nil && len(waiting) == 1 && waiting[0].ID == workflows.EnableID(gamma) &&
			waiting[0].Note == workflows.WaitingForRoom
	})
	var inst instance
	a.must(http.StatusOK, "GET", "/instances/"+gamma, nil, &inst)
	if inst.Status != "provisioning" || stepState(inst, platform.KindEnable, workflows.EnableStepDatabase) != "waiting" ||
		inst.Workflows[0].Progress.Status != "waiting" {
		t.Fatalf("gamma while the fleet is full: %+v", inst)
	}
	page := consoleGet(t, s.URL, "ops@fleet.test", "correct horse battery", "/dev/problems")
	if !containsAll(page, "Waiting for room on a database server", workflows.EnableID(gamma)) {
		t.Error("the problems page does not show gamma waiting for room")
	}
	if _, err := s.DB.Exec(ctx, `UPDATE database_servers SET max_instances = 10 WHERE name = 'local'`); err != nil {
		t.Fatal(err)
	}
	waitStatusWithin(t, a, "/instances/"+gamma, "ready", 90*time.Second)
	if serverOf(gamma) != "local" {
		t.Fatalf("gamma is on %s", serverOf(gamma))
	}
	recordHistories(t, s, map[string]string{"enable_service_waiting_for_room": workflows.EnableID(gamma),
		"create_database_waiting_for_room": workflows.CreateDatabaseID(gamma)})

	// Draining the second server moves alpha and beta back to local.
	var drain struct {
		WorkflowID string `json:"workflow_id"`
	}
	a.must(http.StatusAccepted, "POST", "/ops/servers/second/drain", nil, &drain)
	dctx, cancelDrain := context.WithTimeout(ctx, 90*time.Second)
	defer cancelDrain()
	var progress workflows.DrainProgress
	if err := s.Temporal.GetWorkflow(dctx, drain.WorkflowID, "").Get(dctx, &progress); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if len(progress.Moved) != 2 || len(progress.Failed) != 0 || serverOf(alpha) != "local" || serverOf(beta) != "local" {
		t.Fatalf("after the drain: %+v, alpha on %s, beta on %s", progress, serverOf(alpha), serverOf(beta))
	}
	router.MustSee("/b/general", "Written before the move", "Written after the move")
	(&testenv.Browser{T: t, Base: s.RouterURL, Host: "beta.localhost"}).MustSee("/b/general")
	var servers struct{ Servers []platform.Server }
	a.must(http.StatusOK, "GET", "/ops/servers", nil, &servers)
	if len(servers.Servers) != 2 || servers.Servers[1].State != "draining" || servers.Servers[1].Instances != 0 {
		t.Fatalf("servers after the drain: %+v", servers.Servers)
	}
	recordHistories(t, s, map[string]string{"drain_server": drain.WorkflowID})

	// From the shell: the second server takes instances again, and
	// `servers drain local --move` moves all three to it.
	shell := func(args ...string) string {
		t.Helper()
		out, err := tenantryCommand(bin, cfg, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tenantry %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := shell("servers", "activate", "second"); !strings.Contains(out, "second is active") {
		t.Fatalf("activate: %s", out)
	}
	if _, err := s.DB.Exec(ctx, `UPDATE database_servers SET max_instances = 10 WHERE name = 'second'`); err != nil {
		t.Fatal(err)
	}
	out := shell("servers", "drain", "local", "--move")
	if !strings.Contains(out, "local is draining; its instances move off it (workflow "+workflows.DrainServerID("local")+")") {
		t.Fatalf("drain --move: %s", out)
	}
	sctx, cancelShellDrain := context.WithTimeout(ctx, 90*time.Second)
	defer cancelShellDrain()
	progress = workflows.DrainProgress{}
	if err := s.Temporal.GetWorkflow(sctx, workflows.DrainServerID("local"), "").Get(sctx, &progress); err != nil {
		t.Fatalf("drain from the shell: %v", err)
	}
	for _, id := range []string{alpha, beta, gamma} {
		if serverOf(id) != "second" {
			t.Errorf("after the shell's drain %s is on %s (%+v)", id, serverOf(id), progress)
		}
	}
	if len(progress.Moved) != 3 || len(progress.Failed) != 0 {
		t.Errorf("the shell's drain: %+v", progress)
	}
	router.MustSee("/b/general", "Written before the move", "Written after the move")
	if out := shell("servers", "list"); !strings.Contains(out, "draining") {
		t.Errorf("servers list after the drain:\n%s", out)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// waitStatusWithin is waitStatus with a deadline of its own.
func waitStatusWithin(t *testing.T, a *api, path, status string, within time.Duration) {
	t.Helper()
	eventually(t, within, "status "+status, func() bool {
		var inst instance
		a.must(http.StatusOK, "GET", path, nil, &inst)
		if inst.Status == "failed" {
			t.Fatalf("instance failed: %s", inst.FailureReason)
		}
		return inst.Status == status
	})
}
