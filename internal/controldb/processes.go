package controldb

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Process kinds, as a heartbeat names them.
const (
	ProcessWeb    = "web"
	ProcessWorker = "worker"
	ProcessRouter = "router"
)

// HeartbeatInterval is how often a live process beats; one not seen for
// HeartbeatStale is taken for gone.
const (
	HeartbeatInterval = 5 * time.Second
	HeartbeatStale    = 3 * HeartbeatInterval
)

// Process is one part of a running Tenantry process, as its heartbeat
// says.
type Process struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Host  string `json:"host"`
	PID   int    `json:"pid"`
	Build string `json:"build"`
	// Versions are the service versions it can serve, per service.
	Versions  map[string][]string `json:"versions"`
	StartedAt time.Time           `json:"started_at"`
	LastSeen  time.Time           `json:"last_seen"`
}

// Beat records that the process is alive now (and what it serves).
func Beat(ctx context.Context, db *pgxpool.Pool, p Process) error {
	if p.Versions == nil {
		p.Versions = map[string][]string{}
	}
	_, err := db.Exec(ctx, `
		INSERT INTO process_heartbeats (id, kind, host, pid, build, versions) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET build = EXCLUDED.build, versions = EXCLUDED.versions, last_seen = now()`,
		p.ID, p.Kind, p.Host, p.PID, p.Build, p.Versions)
	return err
}

// ForgetProcess removes a process that stops cleanly, so it is not waited
// for until its heartbeat goes stale.
func ForgetProcess(ctx context.Context, db *pgxpool.Pool, id string) error {
	_, err := db.Exec(ctx, `DELETE FROM process_heartbeats WHERE id = $1`, id)
	return err
}

// LiveProcesses lists the processes seen within HeartbeatStale, by kind and
// host; older rows are pruned on the way.
func LiveProcesses(ctx context.Context, db *pgxpool.Pool) ([]Process, error) {
	if _, err := db.Exec(ctx, `DELETE FROM process_heartbeats WHERE last_seen < now() - $1::interval * 20`,
		HeartbeatStale.String()); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, `
		SELECT id::text, kind, host, pid, build, versions, started_at, last_seen FROM process_heartbeats
		WHERE last_seen >= now() - $1::interval ORDER BY kind, host, started_at`, HeartbeatStale.String())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Process])
}
