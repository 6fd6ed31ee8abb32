package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"tenantry/internal/buildinfo"
	"tenantry/internal/config"
	"tenantry/internal/stack"
	"tenantry/workflows"
)

// startWorkerProcess runs the built `tenantry worker` as a process of its
// own against the stack's control database and Temporal server, as the
// same build as this test's stack (so both are the current version); its
// Temporal identity is the SDK's default, "<pid>@<host>@", whose prefix
// it returns.
func startWorkerProcess(t *testing.T, bin string, cfg stack.Config) string {
	t.Helper()
	cmd := tenantryProcess(bin, "worker", cfg, "TEMPORAL_NAMESPACE="+cfg.Namespace(),
		config.BuildIDEnv+"="+buildinfo.ID(cfg.BuildID))
	cmd.Stdout = os.Stderr
	startProcess(t, cmd)
	return fmt.Sprintf("%d@", cmd.Process.Pid)
}

// TestTwoWorkersAndTwoRoutersShareTheWork runs two workers (this test's
// stack and a `tenantry worker` process) and two `tenantry router`
// processes against one Temporal server (the cluster on PostgreSQL) and
// one control database: the provisioning of a dozen instances runs its
// steps on both workers, and both routers serve and log the tenants'
// requests.
func TestTwoWorkersAndTwoRoutersShareTheWork(t *testing.T) {
	ctx := context.Background()
	bin := buildTenantry(t)
	cluster := clusterServer(t)
	s, cfg := startStackOn(t, cluster.HostPort, stack.Config{Config: config.Config{GracePeriod: time.Hour}})
	other := startWorkerProcess(t, bin, cfg)
	routers := []string{startRouterProcess(t, bin, cfg), startRouterProcess(t, bin, cfg)}

	// Both workers poll the task queue before the work starts.
	pollers := map[string]bool{}
	eventually(t, 60*time.Second, "two workers polling "+workflows.TaskQueue, func() bool {
		resp, err := s.Temporal.DescribeTaskQueue(ctx, workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW)
		if err != nil {
			t.Fatal(err)
		}
		clear(pollers)
		for _, p := range resp.Pollers {
			pollers[p.Identity] = true
		}
		return len(pollers) >= 2
	})
	mine := fmt.Sprintf("%d@", os.Getpid())

	a := signupAndLogin(t, s.URL, "owner@scaleout.test")
	var ids, hosts []string
	for i := range 12 {
		host := fmt.Sprintf("shared-%d.localhost", i)
		var inst instance
		a.must(http.StatusCreated, "POST", "/instances", map[string]any{"service": "forum", "host": host,
			"setup": map[string]string{"admin_email": "admin@" + host, "admin_name": "Admin",
				"admin_password": "a long admin secret", "language": "en"}}, &inst)
		ids, hosts = append(ids, inst.ID), append(hosts, host)
	}
	for _, id := range ids {
		waitStatus(t, a, "/instances/"+id, "ready")
	}

	// Who ran each step is in the histories: a regular activity's start
	// names its worker; a local activity is a marker right after the
	// completion of the workflow task (with the worker's identity) that
	// ran it.
	ran := map[string]int{}
	count := func(wf, identity string) {
		switch {
		case strings.HasPrefix(identity, mine):
			ran["test's worker"]++
		case strings.HasPrefix(identity, other):
			ran["worker process"]++
		default:
			t.Errorf("%s: a step ran on %q, neither worker", wf, identity)
		}
	}
	for _, id := range ids {
		for _, wf := range []string{workflows.EnableID(id), workflows.CreateDatabaseID(id)} {
			it := s.Temporal.GetWorkflowHistory(ctx, wf, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			by := ""
			for it.HasNext() {
				e, err := it.Next()
				if err != nil {
					t.Fatalf("%s: %v", wf, err)
				}
				if done := e.GetWorkflowTaskCompletedEventAttributes(); done != nil {
					by = done.Identity
				}
				if e.GetMarkerRecordedEventAttributes() != nil {
					count(wf, by)
				}
				if st := e.GetActivityTaskStartedEventAttributes(); st != nil {
					count(wf, st.Identity)
				}
			}
		}
	}
	t.Logf("steps (activities and local activities) per worker: %v", ran)
	if ran["test's worker"] == 0 || ran["worker process"] == 0 {
		t.Fatalf("the work is not shared between the two workers: %v", ran)
	}

	// Each router serves every tenant; both routers' requests reach each
	// instance's log (flushed every 5 s).
	for i, host := range hosts {
		for _, r := range routers {
			req, _ := http.NewRequest("GET", r+"/", nil)
			req.Host = host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("router %s, host %s (instance %s): %d", r, host, ids[i], resp.StatusCode)
			}
		}
	}
	eventually(t, 30*time.Second, "both routers' lines in every instance's log", func() bool {
		var short int
		if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM (
			SELECT i.id FROM instances i LEFT JOIN instance_logs l ON l.instance_id = i.id AND l.kind = 'request'
			WHERE i.id = ANY($1::uuid[]) GROUP BY i.id HAVING count(DISTINCT l.router_id) < 2) s`, ids).Scan(&short); err != nil {
			t.Fatal(err)
		}
		return short == 0
	})
}
