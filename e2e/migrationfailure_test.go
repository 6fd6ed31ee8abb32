package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"tenantry/internal/config"
	"tenantry/internal/stack"
	"tenantry/workflows"
)

// testServicesStack starts a stack whose catalog is the test-only services
// in testdata/services (never shipped), with email signed up, logged in
// and granted the platform's developer role.
func testServicesStack(t *testing.T, email string) (*stack.Stack, *api) {
	t.Helper()
	s, _ := startStackWith(t, stack.Config{Config: config.Config{GracePeriod: time.Hour}, Services: os.DirFS("testdata/services")})
	a := signupAndLogin(t, s.URL, email)
	if _, err := s.Platform.BootstrapPlatformRole(context.Background(), email, "developer"); err != nil {
		t.Fatal(err)
	}
	return s, a
}

// enableWithSetup enables service at host with its setup and answers the
// instance as created.
func enableWithSetup(a *api, service, host string) instance {
	var inst instance
	a.must(http.StatusCreated, "POST", "/instances", map[string]any{
		"service": service, "modules": []string{}, "host": host,
		"setup": map[string]string{"admin_email": "admin@" + host, "admin_name": "Admin", "admin_password": "a long admin secret", "language": "en"},
	}, &inst)
	return inst
}

// TestAMigrationThatCannotSucceed enables the test-only service in
// testdata/services/broken, whose second migration refers to a table that
// exists nowhere. The enable fails at its first attempt (no retries of a
// mistake), removes what it made, and tells the client so in a sentence;
// the developers' problems page shows the same sentence with the cause:
// the file and the database's error.
func TestAMigrationThatCannotSucceed(t *testing.T) {
	s, a := testServicesStack(t, "bo@broken.test")
	ctx := context.Background()
	inst := enableWithSetup(a, "broken", "bo-broken.localhost")
	path := "/instances/" + inst.ID
	eventually(t, 30*time.Second, "the enable to fail", func() bool {
		a.must(http.StatusOK, "GET", path, nil, &inst)
		return inst.Status == "failed"
	})
	const sentence = "broken 1.0.0 could not be installed on this instance's database: its migration failed on our side, and Tenantry's operators have been told"
	if inst.FailureReason != sentence {
		t.Fatalf("the client reads %q", inst.FailureReason)
	}
	var raw json.RawMessage
	a.must(http.StatusOK, "GET", path, nil, &raw)
	if body := string(raw); strings.Contains(body, "nowhere") || strings.Contains(body, "SQLSTATE") || !strings.Contains(body, sentence) {
		t.Fatalf("the client's answer shows the cause, or not the sentence: %s", body)
	}

	hist := s.Temporal.GetWorkflowHistory(ctx, workflows.EnableID(inst.ID), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	failures := 0
	for hist.HasNext() {
		e, err := hist.Next()
		if err != nil {
			t.Fatal(err)
		}
		if f := e.GetActivityTaskFailedEventAttributes(); f != nil {
			failures++
			if msg := f.GetFailure().GetMessage(); msg != sentence {
				t.Errorf("the activity's failure says %q", msg)
			}
			if cause := f.GetFailure().GetCause().GetMessage(); !strings.Contains(cause, `migration 000002_refers_to_nothing.up.sql`) ||
				!strings.Contains(cause, `relation "nowhere" does not exist (SQLSTATE 42P01)`) {
				t.Errorf("the failure's cause, for describe: %q", cause)
			}
		}
		if st := e.GetActivityTaskStartedEventAttributes(); st != nil && st.GetAttempt() != 1 {
			t.Errorf("MigrateTenant was retried: attempt %d", st.GetAttempt())
		}
	}
	if failures != 1 {
		t.Fatalf("%d failed activities in the enable's history, want MigrateTenant's one", failures)
	}

	// The page lists what Temporal's visibility store has indexed, a moment
	// after the run closed.
	k := consoleSession(t, s.URL, "bo@broken.test", "correct horse battery")
	var page string
	eventually(t, 15*time.Second, "the problems page to list the failed enable", func() bool {
		page = k.get("/dev/problems")
		return strings.Contains(page, workflows.EnableID(inst.ID))
	})
	if !containsAll(page, workflows.EnableID(inst.ID), "Tenantry&#39;s operators have been told", "Cause:",
		"migration 000002_refers_to_nothing.up.sql", "relation &#34;nowhere&#34; does not exist (SQLSTATE 42P01)") {
		t.Fatalf("the problems page lacks the failure or its cause:\n%s", page)
	}
}

// TestAFailedUpgradeMigratesBack upgrades an instance of the test-only
// service in testdata/services/fragile to 1.1.0, whose first migration
// applies and whose second refers to a table that exists nowhere. The
// upgrade migrates the database back to 1.0.0's schema (the first file's
// down file runs), ends maintenance and leaves the instance ready on 1.0.0
// with its rows; the reason names the failed file.
func TestAFailedUpgradeMigratesBack(t *testing.T) {
	s, a := testServicesStack(t, "fi@fragile.test")
	ctx := context.Background()
	inst := enableWithSetup(a, "fragile", "fi-fragile.localhost")
	path := "/instances/" + inst.ID
	waitStatus(t, a, path, "ready")
	tenant := tenantConn(t, s, inst.ID)
	if _, err := tenant.Exec(ctx, `INSERT INTO tenant_settings (key, value) VALUES ('theme', '"dark"')`); err != nil {
		t.Fatal(err)
	}

	upgradeID := a.startUpgrade(inst.ID, "1.1.0")
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := s.Temporal.GetWorkflow(wctx, upgradeID, "").Get(wctx, nil)
	if err == nil {
		t.Fatal("the upgrade to 1.1.0 succeeded")
	}
	for _, want := range []string{"migrate failed: migration 000003_refers_to_nothing.up.sql", `relation "nowhere" does not exist`,
		"the database is back on 1.0.0's schema and the instance stays on 1.0.0"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the upgrade's failure lacks %q: %v", want, err)
		}
	}
	var after struct {
		Status      string `json:"status"`
		Version     string `json:"version"`
		Maintenance bool   `json:"maintenance"`
	}
	a.must(http.StatusOK, "GET", path, nil, &after)
	if after.Status != "ready" || after.Version != "1.0.0" || after.Maintenance {
		t.Fatalf("after the failed upgrade: %+v", after)
	}
	recordHistories(t, s, map[string]string{"upgrade_instance_rolled_back": upgradeID})
	version, dirty := versionIn(t, tenant)
	var theme string
	if err := tenant.QueryRow(ctx, `SELECT value #>> '{}' FROM tenant_settings WHERE key = 'theme'`).Scan(&theme); err != nil {
		t.Fatal(err)
	}
	notes, changedAt, applied := exists(t, tenant, "notes"), exists(t, tenant, "tenant_settings.changed_at"), ledger(t, tenant)
	if version != 1 || dirty || notes || changedAt || !slices.Equal(applied, []int64{1}) || theme != "dark" {
		t.Fatalf("the database after the roll-back: version %d dirty %t, notes %t, changed_at %t, ledger %v, theme %q",
			version, dirty, notes, changedAt, applied, theme)
	}
}
