package platform

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/internal/servicejobs"
	"tenantry/workflows"
)

// Job is one run of a service's background job on an instance.
type Job struct {
	ID    string `json:"id"`
	Job   string `json:"job"`
	Title string `json:"title"`
	// Version and SchemaVersion are the instance's when the job was
	// queued: the run uses that schema version's code.
	Version       string `json:"version"`
	SchemaVersion uint   `json:"schema_version"`
	// Status is queued, held (HeldBy names the rollout), running,
	// completed, failed or cancelled.
	Status     string              `json:"status"`
	HeldBy     string              `json:"held_by,omitempty"`
	Result     *servicejobs.Result `json:"result,omitempty"`
	Error      string              `json:"error,omitempty"`
	QueuedAt   time.Time           `json:"queued_at"`
	StartedAt  *time.Time          `json:"started_at,omitempty"`
	FinishedAt *time.Time          `json:"finished_at,omitempty"`
	WorkflowID string              `json:"workflow_id"`
	// Progress is the live workflow's, while the job has not finished.
	Progress *workflows.JobProgress `json:"progress,omitempty"`
}

// Live reports whether the job has not finished yet.
func (j Job) Live() bool {
	switch j.Status {
	case controldb.JobQueued, controldb.JobHeld, controldb.JobRunning:
		return true
	}
	return false
}

// InstanceJobs is what an instance's jobs page shows: the jobs its version
// offers and the latest runs, newest first.
type InstanceJobs struct {
	Available []catalog.Job `json:"available"`
	Jobs      []Job         `json:"jobs"`
}

// jobsShown is how many of an instance's latest runs are listed.
const jobsShown = 20

// StartJob queues a run of one of the instance's service's jobs and starts
// its workflow on the service's task queue. The run records the instance's
// version and schema version now, whose code it runs. The instance must be
// ready and out of maintenance.
func (p *Platform) StartJob(ctx context.Context, who Principal, instanceID, job string) (Job, error) {
	v, err := p.ownInstance(ctx, who, access.InstancesManage, instanceID)
	if err != nil {
		return Job{}, err
	}
	if err := required("job", job); err != nil {
		return Job{}, err
	}
	svc, err := p.Catalog.Service(v.Service)
	if err != nil {
		return Job{}, err
	}
	ver, err := svc.Version(v.Version)
	if err != nil {
		return Job{}, err
	}
	def, err := svc.Job(job, v.Version)
	if err != nil {
		return Job{}, err
	}
	switch {
	case v.Status != "ready":
		return Job{}, apperr.Conflict("the instance is %s: jobs run on ready instances only", v.Status)
	case v.Maintenance:
		return Job{}, apperr.Conflict("the instance is in maintenance (being upgraded): start the job when it is done")
	}
	j := Job{ID: uuid.NewString(), Job: def.Name, Title: def.Title, Version: v.Version, SchemaVersion: ver.SchemaVersion,
		Status: controldb.JobQueued}
	j.WorkflowID = workflows.ServiceJobID(v.ID, j.ID)
	err = pgx.BeginFunc(ctx, p.DB, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO service_jobs (id, instance_id, service, job, version, schema_version, actor_id)
			VALUES ($1, $2, $3, $4, $5, $6, nullif($7, '')::uuid) RETURNING queued_at`,
			j.ID, v.ID, v.Service, j.Job, j.Version, j.SchemaVersion, who.UserID).Scan(&j.QueuedAt); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "job/"+j.ID+"/queued", who.AccountID, who.UserID, "job.queued", "instance", v.ID,
			map[string]any{"job": j.Job, "version": j.Version, "schema_version": j.SchemaVersion})
	})
	if err != nil {
		return Job{}, err
	}
	_, err = workflows.StartServiceJob(ctx, p.Temporal, workflows.ServiceJobInput{JobID: j.ID, InstanceID: v.ID,
		AccountID: who.AccountID, Service: v.Service, Job: j.Job, Version: j.Version, SchemaVersion: j.SchemaVersion})
	if err != nil {
		// Nothing will run it: it is not left queued.
		_, _ = p.DB.Exec(context.WithoutCancel(ctx), `UPDATE service_jobs SET status = 'failed', error = 'could not be started', finished_at = now()
			WHERE id = $1`, j.ID)
		return Job{}, err
	}
	return j, nil
}

// InstanceJobs lists the jobs the instance's version offers and its latest
// runs, newest first, the unfinished ones with their workflow's progress.
func (p *Platform) InstanceJobs(ctx context.Context, who Principal, instanceID string) (InstanceJobs, error) {
	v, err := p.ownInstance(ctx, who, access.InstancesRead, instanceID)
	if err != nil {
		return InstanceJobs{}, err
	}
	out := InstanceJobs{Available: []catalog.Job{}, Jobs: []Job{}}
	titles := map[string]string{}
	if svc, err := p.Catalog.Service(v.Service); err == nil {
		if av := svc.JobsAt(v.Version); av != nil {
			out.Available = av
		}
		for _, j := range svc.Jobs {
			titles[j.Name] = j.Title
		}
	}
	rows, err := p.DB.Query(ctx, `SELECT id, job, version, schema_version, status, coalesce(held_by, ''), result, coalesce(error, ''),
			queued_at, started_at, finished_at
		FROM service_jobs WHERE instance_id = $1 ORDER BY queued_at DESC, id LIMIT $2`, v.ID, jobsShown)
	if err != nil {
		return out, err
	}
	out.Jobs, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Job, error) {
		var j Job
		err := r.Scan(&j.ID, &j.Job, &j.Version, &j.SchemaVersion, &j.Status, &j.HeldBy, &j.Result, &j.Error,
			&j.QueuedAt, &j.StartedAt, &j.FinishedAt)
		j.Title, j.WorkflowID = titles[j.Job], workflows.ServiceJobID(v.ID, j.ID)
		if j.Title == "" {
			j.Title = j.Job
		}
		return j, err
	})
	if err != nil {
		return out, err
	}
	var wg sync.WaitGroup
	for i := range out.Jobs {
		if !out.Jobs[i].Live() {
			continue
		}
		wg.Go(func() {
			var pr workflows.JobProgress
			val, err := p.Temporal.QueryWorkflow(ctx, out.Jobs[i].WorkflowID, "", workflows.ProgressQuery)
			if err == nil && val.Get(&pr) == nil {
				out.Jobs[i].Progress = &pr
				if pr.HeldBy != "" {
					out.Jobs[i].HeldBy = pr.HeldBy
				}
			}
		})
	}
	wg.Wait()
	return out, nil
}
