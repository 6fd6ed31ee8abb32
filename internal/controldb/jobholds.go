package controldb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
)

// A rollout holds a service's jobs while it drains them: a job started
// while its service is held is accepted and queued, shows "held by rollout
// X", and starts once the hold is released. A job claims its start
// (ClaimJobStart) and a rollout takes its hold (HoldJobs) under the same
// per-service advisory lock, so once HoldJobs has returned no job can start
// unseen: every job that started is counted by JobsInFlight, every later
// one is held.

// jobsLock is the advisory lock key of a service's job starts.
const jobsLock = `hashtextextended('tenantry.service_jobs/' || $1, 0)`

// exec runs a statement through a Querier, which has no Exec.
func exec(ctx context.Context, q Querier, sql string, args ...any) error {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// HoldJobs holds the service's new jobs for a rollout. Holding again is a
// no-op; a hold of another rollout is kept and is an apperr.Conflict.
func HoldJobs(ctx context.Context, q Querier, service, rolloutID string) error {
	if service == "" || rolloutID == "" {
		return apperr.Invalid("a job hold needs a service and a rollout")
	}
	// One statement: the lock is taken before the insert and held until
	// it commits, so a start in progress finishes before the hold exists.
	if err := exec(ctx, q, `
		WITH l AS (SELECT pg_advisory_xact_lock(`+jobsLock+`))
		INSERT INTO service_job_holds (service, rollout_id) SELECT $1, $2 FROM l
		ON CONFLICT (service) DO NOTHING`, service, rolloutID); err != nil {
		return err
	}
	holder, held, err := JobHold(ctx, q, service)
	if err != nil {
		return err
	}
	if !held || holder != rolloutID {
		return apperr.Conflict("the jobs of %s are held by rollout %s", service, holder)
	}
	return nil
}

// ReleaseJobs ends the rollout's hold on the service's jobs (and only that
// rollout's); releasing what is not held is a no-op. Held jobs notice on
// their next check and start (a rollout tells them at once: HeldJobs).
func ReleaseJobs(ctx context.Context, q Querier, service, rolloutID string) error {
	return exec(ctx, q, `DELETE FROM service_job_holds WHERE service = $1 AND rollout_id = $2`, service, rolloutID)
}

// HeldJob is one job a rollout held, still waiting to start.
type HeldJob struct {
	InstanceID string
	JobID      string
}

// HeldJobs lists (oldest first, at most limit) the service's jobs still
// marked held by the rollout: after its release they start at their next
// check, or at once when told to recheck.
func HeldJobs(ctx context.Context, q Querier, service, rolloutID string, limit int) ([]HeldJob, error) {
	rows, err := q.Query(ctx, `SELECT instance_id::text, id::text FROM service_jobs
		WHERE service = $1 AND status = 'held' AND held_by = $2 ORDER BY queued_at, id LIMIT $3`, service, rolloutID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[HeldJob])
}

// JobHold says whether the service's jobs are held, and by which rollout.
func JobHold(ctx context.Context, q Querier, service string) (rolloutID string, held bool, err error) {
	err = q.QueryRow(ctx, `SELECT rollout_id FROM service_job_holds WHERE service = $1`, service).Scan(&rolloutID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return rolloutID, err == nil, err
}

// JobsInFlight counts the service's jobs running now.
func JobsInFlight(ctx context.Context, q Querier, service string) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM service_jobs WHERE service = $1 AND status = 'running'`, service).Scan(&n)
	return n, err
}

// JobCounts is where a service's unfinished jobs stand.
type JobCounts struct {
	Queued  int `json:"queued"`
	Held    int `json:"held"`
	Running int `json:"running"`
}

// CountJobs counts the service's unfinished jobs by state.
func CountJobs(ctx context.Context, q Querier, service string) (JobCounts, error) {
	var c JobCounts
	err := q.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'held'),
			count(*) FILTER (WHERE status = 'running')
		FROM service_jobs WHERE service = $1 AND status IN ('queued', 'held', 'running')`, service).Scan(&c.Queued, &c.Held, &c.Running)
	return c, err
}

// Job states.
const (
	JobQueued    = "queued"
	JobHeld      = "held"
	JobRunning   = "running"
	JobCompleted = "completed"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// JobStart is what a job's claim found: running (started now or before),
// held by a rollout, or already finished.
type JobStart struct {
	Status string
	HeldBy string
}

// ClaimJobStart starts a queued or held job unless its service's jobs are
// held, in which case it is marked held by that rollout. Claiming a job
// that runs or has finished changes nothing and says so, so a retried claim
// is harmless.
func ClaimJobStart(ctx context.Context, db TxBeginner, jobID string) (JobStart, error) {
	var st JobStart
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var service string
		err := tx.QueryRow(ctx, `SELECT service, status FROM service_jobs WHERE id = $1`, jobID).Scan(&service, &st.Status)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("no job %s", jobID)
		}
		if err != nil || (st.Status != JobQueued && st.Status != JobHeld) {
			return err
		}
		// Under the lock, then a fresh snapshot: a hold committed while
		// waiting for the lock is seen.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(`+jobsLock+`)`, service); err != nil {
			return err
		}
		holder, held, err := JobHold(ctx, tx, service)
		if err != nil {
			return err
		}
		if held {
			st = JobStart{Status: JobHeld, HeldBy: holder}
			_, err = tx.Exec(ctx, `UPDATE service_jobs SET status = 'held', held_by = $2 WHERE id = $1 AND status IN ('queued', 'held')`,
				jobID, holder)
			return err
		}
		st = JobStart{Status: JobRunning}
		_, err = tx.Exec(ctx, `UPDATE service_jobs SET status = 'running', held_by = NULL, started_at = now()
			WHERE id = $1 AND status IN ('queued', 'held')`, jobID)
		return err
	})
	if err != nil {
		return JobStart{}, fmt.Errorf("claim job %s: %w", jobID, err)
	}
	return st, nil
}

// TxBeginner is a pool (or a connection) that transactions begin on.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}
