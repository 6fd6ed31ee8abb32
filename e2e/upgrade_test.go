package e2e_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/activities"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// TestOperatorUpgradesAnInstance: a client runs forum 1.0.0 with
// attachments; an operator upgrades it through the API to 1.2.0, which
// retires attachments. The instance ends ready on 1.2.0, its database on
// schema 3, attachments no longer billed and the other modules still are.
func TestOperatorUpgradesAnInstance(t *testing.T) {
	s := startStack(t, time.Hour)
	ctx := context.Background()
	a := signedUp(t, s, "lin@forum.test", "Lin", "Lin's")

	var inst instance
	a.must(http.StatusCreated, "POST", "/instances", map[string]any{
		"service": "forum", "modules": []string{"search", "attachments"}, "host": "lin-forum.localhost",
		"setup": map[string]string{"admin_email": "admin@lin.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "en"},
	}, &inst)
	path := "/instances/" + inst.ID
	waitStatus(t, a, path, "ready")

	// Only platform operators upgrade; the client's owner may not.
	upgrade := func(version string) map[string]string { return map[string]string{"version": version} }
	a.must(http.StatusForbidden, "POST", path+"/upgrade", upgrade("1.2.0"), nil)
	// The operator's `tenantry grant --email … --role developer`.
	if _, err := s.Platform.BootstrapPlatformRole(ctx, "lin@forum.test", "developer"); err != nil {
		t.Fatal(err)
	}
	a.must(http.StatusNotFound, "POST", "/instances/"+uuid.NewString()+"/upgrade", upgrade("1.2.0"), nil)
	a.must(http.StatusUnprocessableEntity, "POST", path+"/upgrade", upgrade("9.9.9"), nil)
	a.must(http.StatusUnprocessableEntity, "POST", path+"/upgrade", upgrade("1.0.0"), nil)
	a.must(http.StatusUnprocessableEntity, "POST", path+"/upgrade", map[string]string{"versoin": "1.2.0"}, nil)
	setMaintenance := func(on bool) {
		if _, err := s.DB.Exec(ctx, `UPDATE instances SET maintenance = $2 WHERE id = $1`, inst.ID, on); err != nil {
			t.Fatal(err)
		}
	}
	setMaintenance(true) // as an upgrade in flight leaves it
	a.must(http.StatusConflict, "POST", path+"/upgrade", upgrade("1.2.0"), nil)
	setMaintenance(false)

	var started struct {
		WorkflowID string   `json:"workflow_id"`
		Dropped    []string `json:"dropped"`
	}
	a.must(http.StatusAccepted, "POST", path+"/upgrade", upgrade("1.2.0"), &started)
	if started.WorkflowID != workflows.UpgradeInstanceID(inst.ID, "1.2.0") || !slices.Equal(started.Dropped, []string{"attachments"}) {
		t.Fatalf("upgrade answered %+v", started)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var plan activities.UpgradePlan
	if err := s.Temporal.GetWorkflow(wctx, started.WorkflowID, "").Get(wctx, &plan); err != nil {
		t.Fatalf("upgrade workflow: %v", err)
	}

	var after struct {
		Status      string   `json:"status"`
		Version     string   `json:"version"`
		Modules     []string `json:"modules"`
		Maintenance bool     `json:"maintenance"`
	}
	a.must(http.StatusOK, "GET", path, nil, &after)
	if after.Status != "ready" || after.Version != "1.2.0" || after.Maintenance || !slices.Equal(after.Modules, []string{"core", "search"}) {
		t.Fatalf("after the upgrade: %+v", after)
	}

	// The tenant database is on 1.2.0's schema, with its settings updated.
	cfg, _, err := controldb.TenantConfig(ctx, s.Acts.DB, s.Acts.Cipher, s.Acts.Catalog, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var schema int
	var pinned bool
	var modules string
	if err := conn.QueryRow(ctx, `SELECT (SELECT version FROM schema_migrations),
			to_regclass('public.retired_attachments') IS NOT NULL AND EXISTS (
				SELECT 1 FROM information_schema.columns WHERE table_name = 'threads' AND column_name = 'pinned'),
			(SELECT value::text FROM tenant_settings WHERE key = 'modules')`).Scan(&schema, &pinned, &modules); err != nil {
		t.Fatal(err)
	}
	if schema != 3 || !pinned || modules != `["core", "search"]` {
		t.Fatalf("tenant schema %d, 1.2.0's tables %t, modules %s", schema, pinned, modules)
	}

	// Billing: the retired module's span ended, the others run on.
	rows, _ := s.DB.Query(ctx, `SELECT module, ended_at IS NOT NULL FROM usage_spans WHERE instance_id = $1 ORDER BY module`, inst.ID)
	spans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var m string
		var ended bool
		err := r.Scan(&m, &ended)
		if ended {
			m += " ended"
		}
		return m, err
	})
	if err != nil || !slices.Equal(spans, []string{"attachments ended", "core", "search"}) {
		t.Fatalf("usage spans %v %v", spans, err)
	}

	recordHistories(t, s, map[string]string{"upgrade_instance": started.WorkflowID,
		"migrate_for_upgrade": workflows.MigrateAndSeedID(inst.ID, "1.2.0")})

	// The developers' instance page lists the upgrade with its commands.
	page := consoleGet(t, s.URL, "lin@forum.test", "correct horse battery", "/dev/instances/"+inst.ID)
	for _, want := range []string{started.WorkflowID, "go tool temporal workflow describe --workflow-id " + started.WorkflowID,
		"go tool temporal workflow reset --workflow-id " + started.WorkflowID} {
		if !strings.Contains(page, want) {
			t.Errorf("the developer's instance page lacks %q", want)
		}
	}
}

// consoleGet logs into the console and returns a page's HTML.
func consoleGet(t *testing.T, base, email, password, path string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return string(body)
}
