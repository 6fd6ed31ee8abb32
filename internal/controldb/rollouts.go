package controldb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
)

// ProcessReadiness is one live process and whether it can serve a
// rollout's target.
type ProcessReadiness struct {
	Kind     string    `json:"kind"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Build    string    `json:"build"`
	Serves   []string  `json:"serves"` // the versions of the service it can serve
	CanServe bool      `json:"can_serve"`
	LastSeen time.Time `json:"last_seen"`
}

// Readiness says whether every live process can serve a service version;
// Reason names the ones that cannot.
type Readiness struct {
	Ready     bool               `json:"ready"`
	Processes []ProcessReadiness `json:"processes"`
	Reason    string             `json:"reason,omitempty"`
}

// RolloutReadiness checks every live process (LiveProcesses) for the
// version of the service.
func RolloutReadiness(ctx context.Context, db *pgxpool.Pool, service, version string) (Readiness, error) {
	live, err := LiveProcesses(ctx, db)
	if err != nil {
		return Readiness{}, err
	}
	return ReadinessOf(live, service, version), nil
}

// ReadinessOf is RolloutReadiness over a given list of processes.
func ReadinessOf(live []Process, service, version string) Readiness {
	r := Readiness{Ready: len(live) > 0, Processes: []ProcessReadiness{}}
	var cannot []string
	for _, p := range live {
		serves := p.Versions[service]
		pr := ProcessReadiness{Kind: p.Kind, Host: p.Host, PID: p.PID, Build: p.Build, Serves: serves,
			CanServe: slices.Contains(serves, version), LastSeen: p.LastSeen}
		if !pr.CanServe {
			r.Ready = false
			have := strings.Join(serves, ", ")
			if have == "" {
				have = "no version"
			}
			cannot = append(cannot, fmt.Sprintf("%s on %s (pid %d, build %s) serves %s", p.Kind, p.Host, p.PID, p.Build, have))
		}
		r.Processes = append(r.Processes, pr)
	}
	switch {
	case len(live) == 0:
		r.Reason = "no Tenantry process is alive (no heartbeat in the last " + HeartbeatStale.String() + ")"
	case len(cannot) > 0:
		r.Reason = fmt.Sprintf("%d of %d live processes cannot serve %s %s yet: %s", len(cannot), len(live), service, version,
			strings.Join(cannot, "; "))
	}
	return r
}

// RolloutRow is a rollout as the control database keeps it.
type RolloutRow struct {
	ID         string     `json:"id"`
	WorkflowID string     `json:"workflow_id"`
	Service    string     `json:"service"`
	Version    string     `json:"version"`
	StartedBy  string     `json:"started_by,omitempty"`
	Outcome    string     `json:"outcome,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	// Counts are its instances by state (pending, queued, done, failed,
	// skipped).
	Counts map[string]int `json:"counts"`
}

const rolloutColumns = `r.id::text, r.workflow_id, r.service, r.version, coalesce(u.email, ''), coalesce(r.outcome, ''),
	r.started_at, r.ended_at,
	coalesce((SELECT jsonb_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM rollout_instances
		WHERE rollout_id = r.id GROUP BY state) c), '{}')
	FROM rollouts r LEFT JOIN users u ON u.id = r.started_by`

// Rollouts lists the rollouts, newest first (at most limit).
func Rollouts(ctx context.Context, q Querier, limit int) ([]RolloutRow, error) {
	rows, err := q.Query(ctx, `SELECT `+rolloutColumns+` ORDER BY r.started_at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[RolloutRow])
}

// Rollout reads one rollout; ok is false when there is none with that id.
func Rollout(ctx context.Context, q Querier, id string) (RolloutRow, bool, error) {
	return oneRollout(ctx, q, `r.id::text = $1`, id)
}

// RunningRollout is the rollout of the service that has not ended, if any.
func RunningRollout(ctx context.Context, q Querier, service string) (RolloutRow, bool, error) {
	return oneRollout(ctx, q, `r.service = $1 AND r.ended_at IS NULL`, service)
}

// oneRollout reads the rollout that where (on $1 = arg) selects, if any.
func oneRollout(ctx context.Context, q Querier, where, arg string) (RolloutRow, bool, error) {
	rows, err := q.Query(ctx, `SELECT `+rolloutColumns+` WHERE `+where, arg)
	if err != nil {
		return RolloutRow{}, false, err
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[RolloutRow])
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// RolloutOwning names the running rollout that planned to move the
// instance and is not done with it, if any: the single-instance upgrade
// and a move leave it to that rollout. An instance it upgraded (done) or
// will not touch (skipped) is free; one that failed is not, as a retry of
// the rollout upgrades it again.
func RolloutOwning(ctx context.Context, q Querier, instanceID string) (workflowID string, owned bool, err error) {
	err = q.QueryRow(ctx, `SELECT r.workflow_id FROM rollout_instances ri JOIN rollouts r ON r.id = ri.rollout_id
		WHERE ri.instance_id = $1 AND r.ended_at IS NULL AND ri.state NOT IN ('done', 'skipped')`, instanceID).Scan(&workflowID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return workflowID, err == nil, err
}

// RolloutInstance is one instance of a rollout and how it went.
type RolloutInstance struct {
	InstanceID  string     `json:"instance_id"`
	AccountID   string     `json:"account_id"`
	Host        string     `json:"host"`
	FromVersion string     `json:"from_version"`
	WasDisabled bool       `json:"was_disabled"`
	State       string     `json:"state"`
	Batch       *int       `json:"batch,omitempty"`
	Error       string     `json:"error,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
}

// RolloutInstances lists a rollout's instances in one state ("" for all),
// failed ones first, at most limit.
func RolloutInstances(ctx context.Context, q Querier, rolloutID, state string, limit int) ([]RolloutInstance, error) {
	rows, err := q.Query(ctx, `
		SELECT ri.instance_id::text, ri.account_id::text, i.host, ri.from_version, ri.was_disabled, ri.state, ri.batch,
			coalesce(ri.error, ''), ri.ended_at
		FROM rollout_instances ri JOIN instances i ON i.id = ri.instance_id
		WHERE ri.rollout_id::text = $1 AND ($2 = '' OR ri.state = $2)
		ORDER BY ri.state = 'failed' DESC, ri.ended_at DESC NULLS LAST, ri.instance_id LIMIT $3`, rolloutID, state, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[RolloutInstance])
}

// NewRollout records a rollout that starts; another rollout of the
// service that has not ended is a conflict. Recording the same one again
// changes nothing.
func NewRollout(ctx context.Context, tx pgx.Tx, id, workflowID, service, version, startedBy string, options any) error {
	_, err := tx.Exec(ctx, `INSERT INTO rollouts (id, workflow_id, service, version, started_by, options)
		VALUES ($1, $2, $3, $4, nullif($5, '')::uuid, coalesce($6::jsonb, '{}')) ON CONFLICT (id) DO NOTHING`,
		id, workflowID, service, version, startedBy, options)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return apperr.Conflict("a rollout of %s is already running", service)
	}
	return err
}

// EndRollout records that a rollout ended with outcome; its instances not
// started are skipped. Ending it again changes nothing.
func EndRollout(ctx context.Context, tx pgx.Tx, id, outcome string) error {
	if _, err := tx.Exec(ctx, `UPDATE rollout_instances SET state = 'skipped', ended_at = now()
		WHERE rollout_id = $1 AND state IN ('pending', 'queued')`, id); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE rollouts SET outcome = $2, ended_at = now() WHERE id = $1 AND ended_at IS NULL`, id, outcome)
	return err
}
