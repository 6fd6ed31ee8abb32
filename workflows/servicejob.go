package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/servicejobs"
)

// ServiceJob's contract: one per run of a service's background job,
// ServiceJobID, on the service's own task queue (JobTaskQueue), started by
// StartServiceJob after the platform layer queued its service_jobs row; the
// RecheckJobSignal makes a held job look at its hold at once; its progress
// query answers a JobProgress.

// ServiceJobVersioning is pinned: a job runs the code of the build that
// queued it, start to end, like the schema version it records; a job held
// by a rollout keeps its build draining until the hold is released.
const ServiceJobVersioning = workflow.VersioningBehaviorPinned

// ServiceJobID names one run of a job of an instance.
func ServiceJobID(instanceID, jobID string) string { return "job/" + instanceID + "/" + jobID }

// JobTaskQueue is a service's own task queue: its jobs run there, so they
// can be drained and held per service.
func JobTaskQueue(service string) string { return "service-" + service }

// RecheckJobSignal asks a held job to check its hold now rather than at
// its next timer (a rollout may send it when it releases its hold).
const RecheckJobSignal = "recheck"

// ServiceJobInput is one queued run: the job, and the service version and
// schema version the instance had when it was queued (whose code it runs).
type ServiceJobInput struct {
	JobID         string
	InstanceID    string
	AccountID     string
	Service       string
	Job           string
	Version       string
	SchemaVersion uint
}

// JobProgress is ServiceJob's progress: the common Progress, what runs
// and, while a rollout holds the service's jobs, which one.
type JobProgress struct {
	Progress
	Job           string              `json:"job"`
	Version       string              `json:"version"`
	SchemaVersion uint                `json:"schema_version"`
	HeldBy        string              `json:"held_by,omitempty"`
	Result        *servicejobs.Result `json:"result,omitempty"`
}

// ServiceJob's steps, in order.
const (
	JobStepWait   = "wait"
	JobStepRun    = "run"
	JobStepRecord = "record"
)

// How often a held job looks at its hold: from the first interval, doubling
// up to the last; after jobChecksPerRun checks it continues as new, so a
// long hold keeps its history short.
const (
	jobCheckFirst   = time.Second
	jobCheckMax     = 10 * time.Second
	jobChecksPerRun = 200
)

// StartServiceJob starts a queued job's workflow on its service's queue and
// returns its ID.
func StartServiceJob(ctx context.Context, c client.Client, in ServiceJobInput) (string, error) {
	id := ServiceJobID(in.InstanceID, in.JobID)
	_, err := startOnceOn(ctx, c, JobTaskQueue(in.Service), id, SearchAttributes(in.AccountID, in.Service, in.InstanceID),
		"this job is already running", ServiceJob, in)
	return id, err
}

// ServiceJob runs a service's job on an instance: it waits while a rollout
// holds the service's jobs (on a durable timer, so it survives restarts),
// runs the job's code for the schema version it was queued under as a
// regular activity (heartbeats, an hour per attempt, cancellable), and
// records how it ended.
func ServiceJob(ctx workflow.Context, in ServiceJobInput) (servicejobs.Result, error) {
	j := &serviceJob{in: in}
	if err := j.init(ctx); err != nil {
		return servicejobs.Result{}, err
	}
	return j.run(ctx)
}

type serviceJob struct {
	in      ServiceJobInput
	t       *tracker
	p       JobProgress
	recheck workflow.ReceiveChannel
}

func (j *serviceJob) init(ctx workflow.Context) error {
	t, err := newTracker(ctx,
		stepDef{JobStepWait, "Wait while a rollout holds the service's jobs"},
		stepDef{JobStepRun, fmt.Sprintf("Run %s (the code of schema %d)", j.in.Job, j.in.SchemaVersion)},
		stepDef{JobStepRecord, "Record the result"},
	)
	if err != nil {
		return err
	}
	j.t = t
	j.p = JobProgress{Job: j.in.Job, Version: j.in.Version, SchemaVersion: j.in.SchemaVersion}
	j.recheck = workflow.GetSignalChannel(ctx, RecheckJobSignal)
	// The progress answer is the tracker's, with the job's own fields.
	return workflow.SetQueryHandler(ctx, ProgressQuery, func() (JobProgress, error) {
		p := j.p
		p.Progress = j.t.p
		return p, nil
	})
}

func (j *serviceJob) run(ctx workflow.Context) (servicejobs.Result, error) {
	ref := activities.JobRef{JobID: j.in.JobID}
	started, err := j.claim(ctx, ref)
	if err != nil || !started {
		return servicejobs.Result{}, err
	}
	var res servicejobs.Result
	err = j.t.run(ctx, JobStepRun, func() error {
		return callLong(withLongSteps(ctx), acts.RunJob, ref, &res)
	})
	if err != nil {
		j.t.step(JobStepRun).Error = apperr.Cause(err)
		return res, j.end(ctx, err)
	}
	j.p.Result = &res
	done := activities.FinishJobInput{JobID: j.in.JobID, Status: controldb.JobCompleted, Result: &res}
	if err := j.t.run(ctx, JobStepRecord, func() error { return call(withDBSteps(ctx), acts.FinishJob, done, nil) }); err != nil {
		j.t.fail(ctx, err)
		return res, err
	}
	j.t.finish(StatusCompleted)
	return res, nil
}

// claim starts the job, waiting (and checking again) while its service's
// jobs are held. started is false when the job had finished already (a
// reset run): there is nothing more to do.
func (j *serviceJob) claim(ctx workflow.Context, ref activities.JobRef) (started bool, err error) {
	db := withDBSteps(ctx)
	wait := jobCheckFirst
	for checks := 0; ; checks++ {
		var st controldb.JobStart
		if err := call(db, acts.ClaimJob, ref, &st); err != nil {
			return false, j.end(ctx, err)
		}
		switch st.Status {
		case controldb.JobRunning:
			if j.p.HeldBy == "" {
				j.t.set(ctx, JobStepWait, StepSkipped)
			} else {
				j.t.set(ctx, JobStepWait, StepDone)
			}
			j.p.HeldBy, j.t.p.Status = "", StatusRunning
			return true, nil
		case controldb.JobHeld:
		default:
			for _, s := range []string{JobStepWait, JobStepRun, JobStepRecord} {
				j.t.set(ctx, s, StepSkipped)
			}
			j.t.finish(StatusCompleted)
			j.t.p.Error = "the job had already " + st.Status
			return false, nil
		}
		if checks >= jobChecksPerRun {
			return false, workflow.NewContinueAsNewError(ctx, ServiceJob, j.in)
		}
		j.p.HeldBy, j.t.p.Status = st.HeldBy, StatusWaiting
		j.t.set(ctx, JobStepWait, StepWaiting)
		j.t.step(JobStepWait).Title = "Held by rollout " + st.HeldBy + ": waits until it releases the service's jobs"
		if err := j.sleep(ctx, wait); err != nil {
			return false, j.end(ctx, err)
		}
		wait = min(2*wait, jobCheckMax)
	}
}

// sleep waits for d on a durable timer, or less when a recheck arrives.
func (j *serviceJob) sleep(ctx workflow.Context, d time.Duration) error {
	tctx, stop := workflow.WithCancel(ctx)
	defer stop()
	timer := workflow.NewTimer(tctx, d)
	var err error
	s := workflow.NewSelector(ctx)
	s.AddFuture(timer, func(f workflow.Future) { err = f.Get(ctx, nil) })
	s.AddReceive(j.recheck, func(c workflow.ReceiveChannel, more bool) { c.Receive(ctx, nil) })
	s.Select(ctx)
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// end records a job that failed or was cancelled (while it waited or
// ran), on a disconnected context so a cancelled job is recorded too.
func (j *serviceJob) end(ctx workflow.Context, err error) error {
	j.t.fail(ctx, err)
	fin := activities.FinishJobInput{JobID: j.in.JobID, Status: controldb.JobFailed, Error: apperr.Cause(err)}
	if isCancel(err) {
		fin.Status, fin.Error = controldb.JobCancelled, "cancelled"
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	_ = j.t.run(dctx, JobStepRecord, func() error { return call(withDBSteps(dctx), acts.FinishJob, fin, nil) })
	return err
}

// isCancel reports whether err is the workflow's cancellation.
func isCancel(err error) bool {
	var canceled *temporal.CanceledError
	return errors.As(err, &canceled)
}
