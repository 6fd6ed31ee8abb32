package controldb_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/controldb"
	"tenantry/internal/testenv"
)

// A beating process is live with what it serves; a forgotten one is not,
// and neither is one whose heartbeat went stale.
func TestProcessHeartbeats(t *testing.T) {
	c := testenv.NewControl(t)
	ctx := context.Background()
	web := controldb.Process{ID: uuid.NewString(), Kind: controldb.ProcessWeb, Host: "h1", PID: 10, Build: "abc",
		Versions: map[string][]string{"forum": {"1.0.0", "1.2.0"}}}
	worker := controldb.Process{ID: uuid.NewString(), Kind: controldb.ProcessWorker, Host: "h1", PID: 10, Build: "abc"}
	stale := controldb.Process{ID: uuid.NewString(), Kind: controldb.ProcessRouter, Host: "h2", PID: 11, Build: "old"}
	for _, p := range []controldb.Process{web, worker, stale} {
		if err := controldb.Beat(ctx, c.DB, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DB.Exec(ctx, `UPDATE process_heartbeats SET last_seen = now() - interval '1 minute' WHERE id = $1`, stale.ID); err != nil {
		t.Fatal(err)
	}
	web.Build = "def" // a beat updates what the process says
	if err := controldb.Beat(ctx, c.DB, web); err != nil {
		t.Fatal(err)
	}
	if err := controldb.ForgetProcess(ctx, c.DB, worker.ID); err != nil {
		t.Fatal(err)
	}
	live, err := controldb.LiveProcesses(ctx, c.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 || live[0].ID != web.ID || live[0].Build != "def" || len(live[0].Versions["forum"]) != 2 {
		t.Fatalf("live processes: %+v", live)
	}
}
