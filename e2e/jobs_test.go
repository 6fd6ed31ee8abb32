package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// job is a run as the API answers it.
type job struct {
	ID            string `json:"id"`
	Job           string `json:"job"`
	Version       string `json:"version"`
	SchemaVersion uint   `json:"schema_version"`
	Status        string `json:"status"`
	HeldBy        string `json:"held_by"`
	WorkflowID    string `json:"workflow_id"`
	Result        *struct {
		Summary string           `json:"summary"`
		Counts  map[string]int64 `json:"counts"`
	} `json:"result"`
	Error      string     `json:"error"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// waitJob polls the instance's jobs until the run is in state status.
func waitJob(t *testing.T, a *api, path, id, status string) job {
	t.Helper()
	var found job
	eventually(t, 30*time.Second, "job "+id+" "+status, func() bool {
		var list struct{ Jobs []job }
		a.must(http.StatusOK, "GET", path+"/jobs", nil, &list)
		for _, j := range list.Jobs {
			if j.ID == id {
				found = j
			}
		}
		if found.Status == "failed" && status != "failed" {
			t.Fatalf("job failed: %s", found.Error)
		}
		return found.Status == status
	})
	return found
}

// TestServiceJobsOnTheirQueueAndHeld: a client starts a forum job through
// the API; it runs on the forum's own task queue with the code of the
// version it was queued under and records what it did. While a rollout
// holds the forum's jobs, a new one is accepted, shown held by the rollout,
// and runs once the hold is released.
func TestServiceJobsOnTheirQueueAndHeld(t *testing.T) {
	s := startStack(t, time.Hour)
	ctx := context.Background()
	a := signupAndLogin(t, s.URL, "jo@forum.test")
	var inst instance
	a.must(http.StatusCreated, "POST", "/instances", map[string]any{
		"service": "forum", "modules": []string{"search"}, "host": "jo-forum.localhost",
		"setup": map[string]string{"admin_email": "admin@jo.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "en"},
	}, &inst)
	path := "/instances/" + inst.ID
	waitStatus(t, a, path, "ready")

	var offered struct {
		Available []struct{ Name string }
	}
	a.must(http.StatusOK, "GET", path+"/jobs", nil, &offered)
	if len(offered.Available) != 1 || offered.Available[0].Name != "refresh_board_stats" {
		t.Fatalf("forum 1.0.0 offers %+v", offered.Available)
	}
	a.must(http.StatusUnprocessableEntity, "POST", path+"/jobs", map[string]string{"job": "rebuild_search_index"}, nil)
	a.must(http.StatusUnprocessableEntity, "POST", path+"/jobs", map[string]string{"job": "vacuum"}, nil)

	var first job
	a.must(http.StatusAccepted, "POST", path+"/jobs", map[string]string{"job": "refresh_board_stats"}, &first)
	if first.Version != "1.0.0" || first.SchemaVersion != 1 || first.WorkflowID != workflows.ServiceJobID(inst.ID, first.ID) {
		t.Fatalf("queued %+v", first)
	}
	done := waitJob(t, a, path, first.ID, "completed")
	if done.Result == nil || done.Result.Counts["boards"] != 1 || done.Version != "1.0.0" || done.SchemaVersion != 1 {
		t.Fatalf("completed run %+v", done)
	}
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, first.WorkflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	if q := d.GetExecutionConfig().GetTaskQueue().GetName(); q != "service-forum" {
		t.Fatalf("the job ran on task queue %q", q)
	}

	// A rollout holds the forum's jobs: a new one waits, shown held.
	const rollout = "rollout/forum/1.2.0"
	if err := controldb.HoldJobs(ctx, s.DB, "forum", rollout); err != nil {
		t.Fatal(err)
	}
	var held job
	a.must(http.StatusAccepted, "POST", path+"/jobs", map[string]string{"job": "refresh_board_stats"}, &held)
	seen := waitJob(t, a, path, held.ID, "held")
	if seen.HeldBy != rollout {
		t.Fatalf("held run %+v", seen)
	}
	time.Sleep(2 * time.Second) // it stays held: nothing releases it
	if j := waitJob(t, a, path, held.ID, "held"); j.Result != nil {
		t.Fatalf("a held job ran: %+v", j)
	}
	if n, err := controldb.JobsInFlight(ctx, s.DB, "forum"); err != nil || n != 0 {
		t.Fatalf("jobs in flight while held: %d %v", n, err)
	}
	page := consoleGet(t, s.URL, "jo@forum.test", "correct horse battery", path)
	for _, want := range []string{"held by rollout " + rollout, "Refresh the board statistics", "1.0.0 (schema 1)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the instance page lacks %q", want)
		}
	}

	if err := controldb.ReleaseJobs(ctx, s.DB, "forum", rollout); err != nil {
		t.Fatal(err)
	}
	released := waitJob(t, a, path, held.ID, "completed")
	if released.HeldBy != "" || released.Result == nil {
		t.Fatalf("released run %+v", released)
	}
	recordHistories(t, s, map[string]string{"service_job": held.WorkflowID})
}
