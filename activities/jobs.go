package activities

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/servicejobs"
)

// JobRef names one run of a service job (a service_jobs row); everything
// else is read from the control database.
type JobRef struct {
	JobID string
}

// ClaimJob starts a queued job unless a rollout holds its service's jobs,
// in which case it is marked held by that rollout (controldb.ClaimJobStart).
func (a *Activities) ClaimJob(ctx context.Context, in JobRef) (controldb.JobStart, error) {
	return finish(controldb.ClaimJobStart(ctx, a.DB, in.JobID))
}

// RunJob runs the job's code for the schema version it was queued under on
// the instance's database, heartbeating; cancelled, its statement stops.
// An instance that is no longer ready fails the job for good; one in
// maintenance (being migrated) is retried.
func (a *Activities) RunJob(ctx context.Context, in JobRef) (servicejobs.Result, error) {
	var res servicejobs.Result
	err := longStep(ctx, "job", func(ctx context.Context) error {
		var err error
		res, err = a.runJob(ctx, in)
		return err
	})
	return finish(res, err)
}

func (a *Activities) runJob(ctx context.Context, in JobRef) (servicejobs.Result, error) {
	var instanceID, service, job, status string
	var schema uint
	var maintenance bool
	err := a.DB.QueryRow(ctx, `SELECT j.instance_id, j.service, j.job, j.schema_version, i.status, i.maintenance
		FROM service_jobs j JOIN instances i ON i.id = j.instance_id WHERE j.id = $1`, in.JobID).
		Scan(&instanceID, &service, &job, &schema, &status, &maintenance)
	if errors.Is(err, pgx.ErrNoRows) {
		return servicejobs.Result{}, apperr.NotFound("no job %s", in.JobID)
	}
	if err != nil {
		return servicejobs.Result{}, err
	}
	if status != "ready" {
		return servicejobs.Result{}, apperr.Conflict("the instance is %s: its jobs cannot run", status)
	}
	if maintenance {
		return servicejobs.Result{}, errors.New("the instance is in maintenance (being migrated): the job runs when it ends")
	}
	impl, err := servicejobs.For(service, job, schema)
	if err != nil {
		return servicejobs.Result{}, err
	}
	cfg, _, err := a.tenantConfig(ctx, instanceID)
	if err != nil {
		return servicejobs.Result{}, err
	}
	var res servicejobs.Result
	err = withTenantConn(ctx, cfg, func(conn *pgx.Conn) error {
		res, err = impl.Run(ctx, conn)
		return err
	})
	return res, err
}

// FinishJobInput is how a job ended: its status (completed, failed or
// cancelled), its result or why it failed.
type FinishJobInput struct {
	JobID  string
	Status string
	Result *servicejobs.Result `json:",omitempty"`
	Error  string              `json:",omitempty"`
}

// FinishJob records how a job ended, once: a job already finished keeps
// its first outcome.
func (a *Activities) FinishJob(ctx context.Context, in FinishJobInput) error {
	switch in.Status {
	case controldb.JobCompleted, controldb.JobFailed, controldb.JobCancelled:
	default:
		return apperr.ForTemporal(apperr.Invalid("a job cannot finish as %q", in.Status))
	}
	_, err := a.DB.Exec(ctx, `UPDATE service_jobs SET status = $2, result = $3, error = nullif($4, ''), held_by = NULL, finished_at = now()
		WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')`, in.JobID, in.Status, in.Result, in.Error)
	return apperr.ForTemporal(err)
}
