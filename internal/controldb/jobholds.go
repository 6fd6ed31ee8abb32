package controldb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
)

// HoldJobs holds the service's jobs for a rollout: a job started while the
// hold exists is queued as held by that rollout and starts when it is
// released. Holding again for the same rollout changes nothing; a hold by
// another rollout is a conflict.
func HoldJobs(ctx context.Context, q Querier, service, rolloutID string) error {
	var holder string
	err := q.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO service_job_holds (service, rollout_id) VALUES ($1, $2)
			ON CONFLICT (service) DO NOTHING RETURNING rollout_id)
		SELECT rollout_id FROM ins
		UNION ALL SELECT rollout_id FROM service_job_holds WHERE service = $1
		LIMIT 1`, service, rolloutID).Scan(&holder)
	if err != nil {
		return err
	}
	if holder != rolloutID {
		return apperr.Conflict("the jobs of %s are held by rollout %s", service, holder)
	}
	return nil
}

// ReleaseJobs ends the rollout's hold on the service's jobs, if it holds
// them; another rollout's hold stays.
func ReleaseJobs(ctx context.Context, q Querier, service, rolloutID string) error {
	rows, err := q.Query(ctx, `DELETE FROM service_job_holds WHERE service = $1 AND rollout_id = $2`, service, rolloutID)
	if err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// JobHold says which rollout, if any, holds the service's jobs.
func JobHold(ctx context.Context, q Querier, service string) (rolloutID string, held bool, err error) {
	err = q.QueryRow(ctx, `SELECT rollout_id FROM service_job_holds WHERE service = $1`, service).Scan(&rolloutID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return rolloutID, err == nil, err
}

// JobsInFlight counts the service's jobs running now, which a rollout's
// drain waits for.
//
// Until service jobs exist (the jobs table lands with them) no job ever
// runs, so the count is zero; the query is the one to replace.
func JobsInFlight(ctx context.Context, q Querier, service string) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT 0 WHERE $1::text IS NOT NULL`, service).Scan(&n)
	return n, err
}
