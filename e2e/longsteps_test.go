package e2e_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"

	"tenantry/internal/controldb"
	"tenantry/internal/stack"
	"tenantry/workflows"
)

// TestLongMigrations runs the test-only service in testdata/services/slow
// (never shipped): its 1.1.0 migration takes 65 s, past the one-minute
// attempt a local activity had, and completes as a regular activity that
// `describe` shows pending and heartbeating; its 1.2.0 migration would take
// ten minutes, and cancelling the upgrade stops it on the database server
// within seconds, its file rolled back and the instance left on 1.1.0.
func TestLongMigrations(t *testing.T) {
	s, a := testServicesStack(t, "sam@slow.test")
	ctx := context.Background()
	inst := enableWithSetup(a, "slow", "sam-slow.localhost")
	path := "/instances/" + inst.ID
	waitStatus(t, a, path, "ready")
	tenant := tenantConn(t, s, inst.ID)

	// 1.1.0: 65 s of migration completes.
	upgradeID := a.startUpgrade(inst.ID, "1.1.0")
	migrate := workflows.MigrateAndSeedID(inst.ID, "1.1.0")
	eventually(t, 30*time.Second, "describe shows MigrateTenant pending and heartbeating", func() bool {
		d, err := s.Temporal.DescribeWorkflowExecution(ctx, migrate, "")
		if err != nil || len(d.GetPendingActivities()) != 1 {
			return false
		}
		p := d.GetPendingActivities()[0]
		return p.GetActivityType().GetName() == "MigrateTenant" && p.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED &&
			p.GetLastHeartbeatTime() != nil
	})
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	if err := s.Temporal.GetWorkflow(wctx, upgradeID, "").Get(wctx, nil); err != nil {
		t.Fatalf("upgrade to 1.1.0: %v", err)
	}
	t.Logf("the 65 s migration completed after %s more", time.Since(t0).Round(time.Second))
	var after struct {
		Status      string `json:"status"`
		Version     string `json:"version"`
		Maintenance bool   `json:"maintenance"`
	}
	a.must(http.StatusOK, "GET", path, nil, &after)
	if after.Version != "1.1.0" || after.Maintenance {
		t.Fatalf("after the long migration: version %s, maintenance %t", after.Version, after.Maintenance)
	}
	if !exists(t, tenant, "after_a_minute") {
		t.Fatal("the long migration's table is missing")
	}

	// 1.2.0: a ten-minute migration, cancelled while it sleeps, stops.
	upgradeID = a.startUpgrade(inst.ID, "1.2.0")
	eventually(t, 30*time.Second, "the 1.2.0 migration running on the server", func() bool { return sleeping(t, tenant) })
	if err := s.Temporal.CancelWorkflow(ctx, upgradeID, ""); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	eventually(t, 20*time.Second, "the cancelled migration gone from the server", func() bool { return !sleeping(t, tenant) })
	t.Logf("the cancelled migration stopped %s after the cancel", time.Since(t0).Round(100*time.Millisecond))
	err := s.Temporal.GetWorkflow(wctx, upgradeID, "").Get(wctx, nil)
	if err == nil {
		t.Fatal("the cancelled upgrade succeeded")
	}
	d, derr := s.Temporal.DescribeWorkflowExecution(ctx, workflows.MigrateAndSeedID(inst.ID, "1.2.0"), "")
	if derr != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Fatalf("the migration workflow: %v %v", d.GetWorkflowExecutionInfo().GetStatus(), derr)
	}
	if exists(t, tenant, "before_the_sleep") {
		t.Fatal("the cancelled migration's file was not rolled back")
	}
	a.must(http.StatusOK, "GET", path, nil, &after)
	if after.Version != "1.1.0" || after.Maintenance || after.Status != "ready" {
		t.Fatalf("after the cancelled upgrade: %+v (%v)", after, err)
	}
}

// tenantConn connects to an instance's own database as its role.
func tenantConn(t *testing.T, s *stack.Stack, instanceID string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	cfg, _, err := controldb.TenantConfig(ctx, s.Acts.DB, s.Acts.Cipher, s.Acts.Catalog, instanceID)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// sleeping: a migration's pg_sleep runs on the tenant's database.
func sleeping(t *testing.T, conn *pgx.Conn) bool {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(600)%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
