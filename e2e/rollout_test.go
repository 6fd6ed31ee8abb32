package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"go.temporal.io/api/enums/v1"

	"tenantry/internal/platform"
	"tenantry/internal/stack"
	"tenantry/internal/testenv"
	"tenantry/workflows"
)

// TestRolloutThroughTheAPI: six forum instances on 1.0.0 (three with
// attachments, one disabled in its grace period); a developer rolls forum
// 1.2.0 out through the API in batches of two. A forum job runs when the
// rollout starts (its statement waits on a lock a client session holds on
// the tenant's table, so it is still running, for real, when the drain
// begins). The rollout waits for the go signal, refuses a second rollout
// and the single-instance upgrade of an instance it owns; once approved it
// holds the forum's jobs: one queued then is shown held, and no instance
// is touched until the running job has finished. Then every instance ends
// on 1.2.0, attachments billed up to its own swap and not after, each in
// maintenance only while its own upgrade ran, the disabled one upgraded in
// place and back on 1.2.0 when enabled again; the held job is released at
// once (told to recheck) and runs the code of the 1.0.0 it was queued on.
func TestRolloutThroughTheAPI(t *testing.T) {
	s := startStack(t, time.Hour)
	ctx := context.Background()
	a := signedUp(t, s, "ops@roll.test", "Ops", "Roll")

	var ids []string
	for i := range 6 {
		modules := []string{"search"}
		if i < 3 {
			modules = append(modules, "attachments")
		}
		var inst instance
		a.must(http.StatusCreated, "POST", "/instances", map[string]any{
			"service": "forum", "modules": modules, "host": fmt.Sprintf("roll-%d.localhost", i),
			"setup": map[string]string{"admin_email": "admin@roll.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "en"},
		}, &inst)
		ids = append(ids, inst.ID)
	}
	for _, id := range ids {
		waitStatus(t, a, "/instances/"+id, "ready")
	}
	disabled := ids[5]
	a.must(http.StatusAccepted, "DELETE", "/instances/"+disabled, nil, nil)
	waitStatus(t, a, "/instances/"+disabled, "disabled")

	// A job that runs when the rollout starts: its write waits on the lock.
	busy := ids[1]
	unlock := lockTenantTable(t, s, busy, "tenant_settings")
	var running job
	a.must(http.StatusAccepted, "POST", "/instances/"+busy+"/jobs", map[string]string{"job": "refresh_board_stats"}, &running)
	waitJob(t, a, "/instances/"+busy, running.ID, "running")

	start := map[string]any{"service": "forum", "version": "1.2.0", "batch_size": 2, "max_in_flight": 2}
	a.must(http.StatusForbidden, "POST", "/ops/rollouts", start, nil)
	if _, err := s.Platform.BootstrapPlatformRole(ctx, "ops@roll.test", "developer"); err != nil {
		t.Fatal(err)
	}
	a.must(http.StatusUnprocessableEntity, "POST", "/ops/rollouts", map[string]any{"service": "forum", "version": "1.2.0", "drain_deadline": "soon"}, nil)
	var started platform.RolloutStarted
	a.must(http.StatusAccepted, "POST", "/ops/rollouts", start, &started)
	if started.WorkflowID != "rollout/forum/1.2.0" {
		t.Fatalf("started %+v", started)
	}
	path := "/ops/rollouts/" + started.ID

	// Maintenance as the routers see it, sampled while the rollout runs.
	seen := watchMaintenance(t, s.DB, ids)

	var v platform.RolloutView
	eventually(t, 30*time.Second, "waiting for approve, every process ready", func() bool {
		a.must(http.StatusOK, "GET", path, nil, &v)
		return v.Progress != nil && v.Progress.Stage == workflows.RolloutStageReadiness && v.Progress.Readiness != nil &&
			v.Progress.Readiness.Ready
	})
	if v.Progress.Status != workflows.StatusWaiting || v.Progress.Plan.Total != 6 || v.Progress.Plan.Disabled != 1 ||
		v.Progress.Plan.From[0].WithDropped != 3 || !v.Readiness.Ready || len(v.Readiness.Processes) == 0 {
		t.Fatalf("before approve: %+v", v.Progress)
	}
	if v.Commands["approve"] != `go tool temporal workflow update execute --workflow-id rollout/forum/1.2.0 --name approve --input '{"by":"ops@roll.test"}'` {
		t.Errorf("approve command %q", v.Commands["approve"])
	}
	// One rollout of a service at a time; its instances are its own.
	a.must(http.StatusConflict, "POST", "/ops/rollouts", map[string]any{"service": "forum", "version": "1.1.0"}, nil)
	a.must(http.StatusConflict, "POST", "/ops/rollouts", start, nil)
	a.must(http.StatusConflict, "POST", "/instances/"+ids[0]+"/upgrade", map[string]string{"version": "1.2.0"}, nil)
	a.must(http.StatusConflict, "POST", path+"/pause", nil, nil) // nothing runs before approve
	a.must(http.StatusConflict, "POST", path+"/drain", map[string]string{"decision": "wait"}, nil)
	a.must(http.StatusOK, "POST", path+"/approve", nil, nil)
	a.must(http.StatusConflict, "POST", path+"/approve", nil, nil)

	// Approved: the forum's jobs are held while the running one drains.
	eventually(t, 30*time.Second, "the drain waits for the running job", func() bool {
		a.must(http.StatusOK, "GET", path, nil, &v)
		return v.Progress != nil && v.Progress.Stage == workflows.RolloutStageDrain && v.Progress.Jobs.Held && v.Progress.Jobs.InFlight == 1
	})
	if !v.Jobs.Held || v.Jobs.HeldBy != started.WorkflowID || v.Jobs.InFlight != 1 {
		t.Fatalf("jobs while draining: %+v", v.Jobs)
	}
	queuedOn := ids[3]
	var queued job
	a.must(http.StatusAccepted, "POST", "/instances/"+queuedOn+"/jobs", map[string]string{"job": "refresh_board_stats"}, &queued)
	if j := waitJob(t, a, "/instances/"+queuedOn, queued.ID, "held"); j.HeldBy != started.WorkflowID || j.Version != "1.0.0" {
		t.Fatalf("queued while draining: %+v", j)
	}
	a.must(http.StatusOK, "GET", path, nil, &v)
	if v.Progress.Stage != workflows.RolloutStageDrain || v.Progress.Counts.Running+v.Progress.Counts.Done != 0 || seen.total() != 0 {
		t.Fatalf("an instance was touched before the running job finished: %+v (maintenance seen %d times)", v.Progress, seen.total())
	}
	unlock()
	drained := waitJob(t, a, "/instances/"+busy, running.ID, "completed")

	eventually(t, 2*time.Minute, "the rollout ends", func() bool {
		a.must(http.StatusOK, "GET", path, nil, &v)
		return v.EndedAt != nil
	})
	seen.stop()
	if v.Outcome != workflows.RolloutCompleted || v.Counts["done"] != 6 || v.Progress == nil || v.Progress.Status != workflows.StatusCompleted ||
		!v.Progress.Jobs.Released || v.Jobs.Held {
		t.Fatalf("after the rollout: %+v %+v", v.RolloutRow, v.Progress)
	}
	a.must(http.StatusConflict, "POST", path+"/pause", nil, nil)
	var list struct {
		Rollouts []struct{ ID, Outcome string }
	}
	a.must(http.StatusOK, "GET", "/ops/rollouts", nil, &list)
	if len(list.Rollouts) != 1 || list.Rollouts[0].ID != started.ID || list.Rollouts[0].Outcome != "completed" {
		t.Fatalf("rollouts %+v", list)
	}

	// Each instance: on 1.2.0, attachments billed up to its own swap (which
	// happened within its own upgrade) and not after; in maintenance only
	// during that upgrade.
	windows := map[string][2]time.Time{}
	for _, id := range ids {
		d, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.UpgradeInstanceID(id, "1.2.0"), "")
		if err != nil {
			t.Fatal(err)
		}
		info := d.GetWorkflowExecutionInfo()
		windows[id] = [2]time.Time{info.GetStartTime().AsTime(), info.GetCloseTime().AsTime()}
		var version string
		var maintenance bool
		if err := s.DB.QueryRow(ctx, `SELECT version, maintenance FROM instances WHERE id = $1`, id).Scan(&version, &maintenance); err != nil {
			t.Fatal(err)
		}
		if version != "1.2.0" || maintenance {
			t.Errorf("%s: on %s, maintenance %t", id, version, maintenance)
		}
		var ended *time.Time
		err = s.DB.QueryRow(ctx, `SELECT max(ended_at) FROM usage_spans WHERE instance_id = $1 AND module = 'attachments'`, id).Scan(&ended)
		switch {
		case err != nil:
			t.Fatal(err)
		case slices.Index(ids, id) < 3 && (ended == nil || ended.Before(windows[id][0]) || ended.After(windows[id][1])):
			t.Errorf("%s: attachments billed until %v, its upgrade ran %v", id, ended, windows[id])
		}
		var open int
		if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM usage_spans WHERE instance_id = $1 AND module = 'attachments' AND ended_at IS NULL`,
			id).Scan(&open); err != nil || open != 0 {
			t.Errorf("%s: %d open attachments spans (%v)", id, open, err)
		}
		for _, at := range seen.of(id) {
			if at.Before(windows[id][0]) || at.After(windows[id][1].Add(time.Second)) {
				t.Errorf("%s: in maintenance at %s, outside its upgrade %v", id, at, windows[id])
			}
		}
	}
	if windows[ids[0]] == windows[ids[1]] && windows[ids[1]] == windows[ids[2]] {
		t.Errorf("every upgrade ran at once: %v", windows)
	}
	for id, w := range windows {
		if !w[0].After(*drained.FinishedAt) {
			t.Errorf("%s: its upgrade started at %s, before the running job finished at %s", id, w[0], *drained.FinishedAt)
		}
	}

	// The held job was released at the end, told to recheck at once, and
	// ran the code of the version it was queued on (1.0.0 counts no pinned
	// threads), on an instance now on 1.2.0.
	ran := waitJob(t, a, "/instances/"+queuedOn, queued.ID, "completed")
	if ran.Version != "1.0.0" || ran.SchemaVersion != 1 || ran.Result == nil || ran.StartedAt == nil {
		t.Fatalf("the released job: %+v", ran)
	}
	if _, pinned := ran.Result.Counts["pinned"]; pinned {
		t.Errorf("the released job ran 1.2.0's code: %+v", ran.Result)
	}
	if ran.StartedAt.Before(windows[queuedOn][1]) {
		t.Errorf("the held job started at %s, before its instance's upgrade ended at %s", ran.StartedAt, windows[queuedOn][1])
	}
	if !signalled(t, s, queued.WorkflowID, workflows.RecheckJobSignal) {
		t.Errorf("the rollout did not tell %s to recheck", queued.WorkflowID)
	}
	if seen.total() == 0 {
		t.Error("no instance was ever seen in maintenance")
	}

	// The disabled one was upgraded in place; enabled again it runs 1.2.0.
	a.must(http.StatusAccepted, "POST", "/instances/"+disabled+"/enable", nil, nil)
	back := waitStatus(t, a, "/instances/"+disabled, "ready")
	var version string
	if err := s.DB.QueryRow(ctx, `SELECT version FROM instances WHERE id = $1`, back.ID).Scan(&version); err != nil || version != "1.2.0" {
		t.Errorf("enabled again on %q (%v)", version, err)
	}

	// A forum enabled now is created on the rolled-out 1.2.0, which no
	// longer offers attachments; the catalog says so.
	var catalog struct{ Services []platform.CatalogService }
	a.must(http.StatusOK, "GET", "/catalog", nil, &catalog)
	for _, svc := range catalog.Services {
		if svc.Name == "forum" && svc.CurrentVersion != "1.2.0" {
			t.Errorf("the catalog's forum after the rollout: %s", svc.CurrentVersion)
		}
	}
	enable := func(modules []string, host string) (int, instance) {
		var inst instance
		code := a.do("POST", "/instances", map[string]any{"service": "forum", "modules": modules, "host": host,
			"setup": map[string]string{"admin_email": "admin@roll.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "en"},
		}, &inst)
		return code, inst
	}
	if code, _ := enable([]string{"attachments"}, "roll-late-a.localhost"); code != http.StatusUnprocessableEntity {
		t.Errorf("attachments on a forum enabled after the rollout: %d", code)
	}
	code, late := enable([]string{"search"}, "roll-late.localhost")
	if code != http.StatusCreated {
		t.Fatalf("enable after the rollout: %d", code)
	}
	waitStatus(t, a, "/instances/"+late.ID, "ready")
	if err := s.DB.QueryRow(ctx, `SELECT version FROM instances WHERE id = $1`, late.ID).Scan(&version); err != nil || version != "1.2.0" {
		t.Errorf("enabled after the rollout on %q (%v)", version, err)
	}

	recordHistories(t, s, map[string]string{"rollout": started.WorkflowID})

	page := consoleGet(t, s.URL, "ops@roll.test", "correct horse battery", "/dev/rollouts/"+started.ID)
	for _, want := range []string{"forum → 1.2.0", `id="rollout-outcome">completed`, "rollout-processes", `data-state="done">6<`} {
		if !strings.Contains(page, want) {
			t.Errorf("the rollout page lacks %q", want)
		}
	}
}

// lockTenantTable holds a lock on a table of the instance's database (as
// a client session of the tenant's server would), so a job writing it
// waits; the returned func lets it go (and runs at cleanup otherwise).
func lockTenantTable(t *testing.T, s *stack.Stack, instanceID, table string) func() {
	t.Helper()
	ctx := context.Background()
	var database string
	if err := s.DB.QueryRow(ctx, `SELECT database_name FROM instances WHERE id = $1`, instanceID).Scan(&database); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, testenv.WithDatabase(t, testenv.ServerURL(t), database))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN EXCLUSIVE MODE")
	}
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		})
	}
	t.Cleanup(release)
	return release
}

// signalled says whether the workflow's latest run received the signal.
func signalled(t *testing.T, s *stack.Stack, workflowID, signal string) bool {
	t.Helper()
	it := s.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := e.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == signal {
			return true
		}
	}
	return false
}

// maintenanceLog samples the maintenance flags of instances every 20 ms
// and keeps, per instance, when it was seen in maintenance.
type maintenanceLog struct {
	mu   sync.Mutex
	seen map[string][]time.Time
	done chan struct{}
	wg   sync.WaitGroup
}

func watchMaintenance(t *testing.T, db *pgxpool.Pool, ids []string) *maintenanceLog {
	l := &maintenanceLog{seen: map[string][]time.Time{}, done: make(chan struct{})}
	l.wg.Go(func() {
		for {
			select {
			case <-l.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			rows, err := db.Query(context.Background(), `SELECT id::text, now() FROM instances WHERE id = ANY($1) AND maintenance`, ids)
			if err != nil {
				continue
			}
			var id string
			var at time.Time
			_, _ = pgx.ForEachRow(rows, []any{&id, &at}, func() error {
				l.mu.Lock()
				l.seen[id] = append(l.seen[id], at)
				l.mu.Unlock()
				return nil
			})
		}
	})
	t.Cleanup(l.stop)
	return l
}

func (l *maintenanceLog) stop() {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
}

func (l *maintenanceLog) of(id string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen[id])
}

func (l *maintenanceLog) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.seen {
		n += len(s)
	}
	return n
}
