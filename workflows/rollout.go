package workflows

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
)

// Rollout's contract: one per service and target version on TaskQueue
// (search attribute ServiceName), started by StartRollout and driven by
// ControlRollout with the updates below (each with a validator, so the
// console and `temporal workflow update` get a clear refusal); its
// progress query answers a RolloutProgress. At most one rollout of a
// service runs at a time (the control database keeps it so).

// RolloutVersioning is pinned: its plan, readiness check, drain, canary and
// batches run on the build that started it. It waits for its approval and
// its jobs' drain, so its build drains only when the rollout ends (or is
// aborted): keep that build's workers running until then.
const RolloutVersioning = workflow.VersioningBehaviorPinned

// RolloutWorkflowID is the rollout of a service to one version.
func RolloutWorkflowID(service, version string) string {
	return "rollout/" + service + "/" + version
}

// The rollout's controls, as update names.
const (
	RolloutApprove = "approve" // the go signal: refused while a live process cannot serve the target
	RolloutPause   = "pause"   // nothing new starts; what is in flight finishes
	RolloutResume  = "resume"  // go on after a pause (a failure-threshold or canary pause too)
	RolloutAbort   = "abort"   // nothing new starts, in-flight finish, finished stay upgraded, jobs released
	RolloutRetry   = "retry"   // put the failed instances back in the queue
	RolloutDrain   = "drain"   // at the drain deadline: Decision "wait" (longer) or "proceed"
)

// RolloutControls lists the updates, in the order a dashboard shows them.
var RolloutControls = []string{RolloutApprove, RolloutPause, RolloutResume, RolloutAbort, RolloutRetry, RolloutDrain}

// The drain decisions of the RolloutDrain update.
const (
	DrainWait    = "wait"
	DrainProceed = "proceed"
)

// RolloutControl is what every control update carries: who sends it, and
// for RolloutDrain the decision.
type RolloutControl struct {
	By       string `json:"by"`
	Decision string `json:"decision,omitempty"`
}

// Defaults and limits of RolloutOptions.
const (
	DefaultRolloutBatchSize   = 10
	DefaultRolloutMaxInFlight = 4
	DefaultInstanceDeadline   = 30 * time.Minute
	DefaultDrainDeadline      = 10 * time.Minute
	MaxRolloutBatchSize       = 200
	MaxRolloutInFlight        = 50
)

// RolloutOptions are chosen when the rollout starts; zero values take the
// defaults.
type RolloutOptions struct {
	BatchSize   int `json:"batch_size"`    // instances per batch after the canary
	MaxInFlight int `json:"max_in_flight"` // upgrades running at once
	// The rollout pauses once this many instances have failed (since the
	// last resume), or this percentage of them; zero count and percent
	// mean one failure.
	FailureThreshold        int           `json:"failure_threshold"`
	FailureThresholdPercent int           `json:"failure_threshold_percent"`
	InstanceDeadline        time.Duration `json:"instance_deadline"` // one instance's upgrade is cancelled after it
	DrainDeadline           time.Duration `json:"drain_deadline"`    // the drain pauses and asks after it
	AutoApprove             bool          `json:"auto_approve"`      // go as soon as every process is ready
}

// WithDefaults fills the zero options.
func (o RolloutOptions) WithDefaults() RolloutOptions {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultRolloutBatchSize
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = min(DefaultRolloutMaxInFlight, o.BatchSize)
	}
	if o.InstanceDeadline <= 0 {
		o.InstanceDeadline = DefaultInstanceDeadline
	}
	if o.DrainDeadline <= 0 {
		o.DrainDeadline = DefaultDrainDeadline
	}
	return o
}

// Check refuses options out of range.
func (o RolloutOptions) Check() error {
	switch {
	case o.BatchSize < 0 || o.BatchSize > MaxRolloutBatchSize:
		return apperr.Invalid("batch_size must be between 1 and %d", MaxRolloutBatchSize)
	case o.MaxInFlight < 0 || o.MaxInFlight > MaxRolloutInFlight:
		return apperr.Invalid("max_in_flight must be between 1 and %d", MaxRolloutInFlight)
	case o.FailureThreshold < 0:
		return apperr.Invalid("failure_threshold must not be negative")
	case o.FailureThresholdPercent < 0 || o.FailureThresholdPercent > 100:
		return apperr.Invalid("failure_threshold_percent must be between 0 and 100")
	case o.FailureThreshold > 0 && o.FailureThresholdPercent > 0:
		return apperr.Invalid("give failure_threshold or failure_threshold_percent, not both")
	case o.InstanceDeadline < 0 || (o.InstanceDeadline > 0 && o.InstanceDeadline < time.Second):
		return apperr.Invalid("instance_deadline must be at least 1s")
	case o.DrainDeadline < 0 || (o.DrainDeadline > 0 && o.DrainDeadline < time.Second):
		return apperr.Invalid("drain_deadline must be at least 1s")
	}
	return nil
}

// Threshold is how many failures (since the last resume) pause a rollout
// over total instances.
func (o RolloutOptions) Threshold(total int) int {
	if o.FailureThresholdPercent > 0 {
		return max(1, int(math.Ceil(float64(total)*float64(o.FailureThresholdPercent)/100)))
	}
	return max(1, o.FailureThreshold)
}

// RolloutInput starts a rollout. RolloutID keys its bookkeeping in the
// control database (StartRollout makes one).
type RolloutInput struct {
	RolloutID string
	Service   string
	Version   string
	ActorID   string // who started it (a user ID), for the timeline
	StartedBy string // and how to name them (an email)
	Options   RolloutOptions
	// Resume is the state a continued run picks up (continue-as-new);
	// nil on the first run.
	Resume *RolloutProgress
}

// The rollout's stages (and steps), in order.
const (
	RolloutStagePlan      = "plan"      // list the instances on an older version, sum up what changes
	RolloutStageReadiness = "readiness" // every live process can serve the target
	RolloutStageApprove   = "approve"   // the go signal (a step; the stage stays readiness)
	RolloutStageDrain     = "drain"     // hold the service's jobs, wait for those in flight
	RolloutStageCanary    = "canary"    // one instance first
	RolloutStageBatches   = "batches"   // the rest, batch by batch, at most MaxInFlight at once
	RolloutStageRelease   = "release"   // release the jobs, record the outcome
	RolloutStageDone      = "done"
)

// Why a rollout is paused.
const (
	PauseByDeveloper = "developer"
	PauseThreshold   = "threshold"
	PauseCanary      = "canary"
	PauseDrain       = "drain"
)

// How a rollout ended.
const (
	RolloutCompleted    = "completed"
	RolloutWithFailures = "completed_with_failures"
	RolloutAborted      = "aborted"
	RolloutFailed       = "failed"
)

// Readiness is whether every live process can serve the target.
type Readiness = controldb.Readiness

// RolloutProgress is what the progress query answers: the common Status
// (waiting while paused or waiting for approve), Steps and Error, and the
// rollout's own state.
type RolloutProgress struct {
	Progress
	RolloutID string                  `json:"rollout_id"`
	Service   string                  `json:"service"`
	Version   string                  `json:"version"`
	Stage     string                  `json:"stage"`
	Options   RolloutOptions          `json:"options"`
	Plan      *activities.RolloutPlan `json:"plan,omitempty"`
	Readiness *Readiness              `json:"readiness,omitempty"`
	Approval  *RolloutApproval        `json:"approval,omitempty"`
	Paused    *RolloutPaused          `json:"paused,omitempty"`
	AbortedBy string                  `json:"aborted_by,omitempty"`
	Jobs      RolloutJobs             `json:"jobs"`
	Counts    RolloutCounts           `json:"counts"`
	// InFlight are the instances upgrading now; Failures the failed ones
	// (the first RolloutFailuresShown: the control database has them all).
	InFlight []string         `json:"in_flight"`
	Failures []RolloutFailure `json:"failures"`
	// Moving are pending instances a move holds in maintenance (the first
	// hundred): the rollout waits for their moves to switch them.
	Moving  []string `json:"moving,omitempty"`
	Batch   int      `json:"batch"`   // the next batch's number (0 is the canary)
	Retries int      `json:"retries"` // retry rounds so far
	// ThresholdBase are failures a resume has forgiven: the threshold
	// counts the ones after it.
	ThresholdBase int    `json:"threshold_base"`
	Continued     int    `json:"continued"` // runs continued as new so far
	Outcome       string `json:"outcome,omitempty"`
}

// RolloutFailuresShown caps the failures the progress carries.
const RolloutFailuresShown = 100

// RolloutApproval says who gave the go signal, and when.
type RolloutApproval struct {
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	Auto bool      `json:"auto"`
}

// RolloutPaused says why a rollout is paused.
type RolloutPaused struct {
	Kind   string    `json:"kind"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// RolloutJobs is where the service's jobs stand.
type RolloutJobs struct {
	Held          bool       `json:"held"`
	Released      bool       `json:"released"`
	InFlight      int        `json:"in_flight"`
	Drained       bool       `json:"drained"`
	Proceeded     bool       `json:"proceeded"` // went on past the drain deadline with jobs in flight
	DrainDeadline *time.Time `json:"drain_deadline,omitempty"`
}

// RolloutCounts are the planned instances by state.
type RolloutCounts struct {
	Total   int `json:"total"`
	Pending int `json:"pending"`
	Running int `json:"running"`
	Done    int `json:"done"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"` // never started (an abort)
}

// RolloutFailure is one failed instance and why.
type RolloutFailure struct {
	InstanceID string    `json:"instance_id"`
	Reason     string    `json:"reason"`
	At         time.Time `json:"at"`
}

// RolloutResult is how the rollout ended.
type RolloutResult struct {
	Outcome  string
	Counts   RolloutCounts
	Failures []RolloutFailure
}

// How often the rollout looks again while it waits.
const (
	readinessPoll = controldb.HeartbeatInterval // until every process is ready
	approvalPoll  = 30 * time.Second            // ready, waiting for approve
	drainPoll     = 2 * time.Second
	movePoll      = 10 * time.Second // only instances being moved are left
)

// A run continues as new at a batch boundary once it started this many
// upgrades or its history grew this long (or the server suggests it), so
// a rollout over ten thousand instances stays far from the history limits.
const (
	rolloutUpgradesPerRun = 500
	rolloutHistoryLimit   = 10000
)

// StartRollout starts the rollout of in.Service to in.Version and returns
// its workflow ID; the same rollout still running is an apperr.Conflict.
func StartRollout(ctx context.Context, c client.Client, in RolloutInput) (string, error) {
	if in.RolloutID == "" {
		return "", apperr.Invalid("a rollout needs its RolloutID")
	}
	id := RolloutWorkflowID(in.Service, in.Version)
	_, err := startOnce(ctx, c, id, SearchAttributes("", in.Service, ""),
		"a rollout of "+in.Service+" to "+in.Version+" is already running", Rollout, in)
	return id, err
}

// ControlRollout sends one of RolloutControls to a running rollout and
// waits for it to be taken; the validator's refusal (not ready, not
// paused, ...) comes back as its domain error.
func ControlRollout(ctx context.Context, c client.Client, workflowID, control string, req RolloutControl) error {
	if !slices.Contains(RolloutControls, control) {
		return apperr.Invalid("unknown control %q (one of %v)", control, RolloutControls)
	}
	return updateAndWait(ctx, c, workflowID, control, req)
}

// QueryRollout asks a rollout (the latest run of workflowID) for its
// progress.
func QueryRollout(ctx context.Context, c client.Client, workflowID string) (RolloutProgress, error) {
	var p RolloutProgress
	v, err := c.QueryWorkflow(ctx, workflowID, "", ProgressQuery)
	if err == nil {
		err = v.Get(&p)
	}
	return p, err
}

// Rollout moves every instance of a service on an older version to
// in.Version: plan → readiness of every live process → approve → drain and
// hold the service's jobs → a canary, then batches of UpgradeInstance
// children (at most MaxInFlight at once, each cancelled past its
// deadline; the failure threshold pauses) → release the jobs. Pause,
// resume, abort, retry and the drain decision come as updates. Its
// instances live in the control database, claimed batch by batch, and it
// continues as new between batches, so its history stays short whatever
// the number of instances.
func Rollout(ctx workflow.Context, in RolloutInput) (RolloutResult, error) {
	r := newRollout(ctx, in)
	if err := r.init(ctx); err != nil {
		return RolloutResult{}, err
	}
	err := r.run(ctx)
	var cont *workflow.ContinueAsNewError
	if errors.As(err, &cont) {
		return RolloutResult{}, err
	}
	if err != nil {
		return r.fail(ctx, err)
	}
	return RolloutResult{Outcome: r.p.Outcome, Counts: r.view().Counts, Failures: r.p.Failures}, nil
}

type rollout struct {
	in RolloutInput
	p  RolloutProgress // everything but Progress, which t keeps
	t  *tracker

	inFlight       int    // upgrades running now
	startedThisRun int    // upgrades started by this run
	decision       string // the drain decision, once given
	fatal          error  // a bookkeeping write that failed for good
}

func newRollout(ctx workflow.Context, in RolloutInput) *rollout {
	r := &rollout{in: in}
	if in.Resume != nil {
		r.p = *in.Resume
		r.p.Continued++
		r.in.Resume = nil
	} else {
		r.p = RolloutProgress{RolloutID: in.RolloutID, Service: in.Service, Version: in.Version, Stage: RolloutStagePlan,
			Options: in.Options.WithDefaults(), InFlight: []string{}, Failures: []RolloutFailure{}}
		r.p.Progress = Progress{Status: StatusRunning}
		for _, d := range []stepDef{
			{RolloutStagePlan, "List the instances on an older version and what " + in.Version + " changes"},
			{RolloutStageReadiness, "Wait until every live process can serve " + in.Version},
			{RolloutStageApprove, "Wait for the go signal (approve)"},
			{RolloutStageDrain, "Hold the service's new jobs; let those in flight finish"},
			{RolloutStageCanary, "Upgrade one instance first"},
			{RolloutStageBatches, "Upgrade the rest, batch by batch"},
			{RolloutStageRelease, "Release the held jobs"},
		} {
			r.p.Steps = append(r.p.Steps, Step{Name: d.name, Title: d.title, State: StepPending})
		}
	}
	r.t = &tracker{p: r.p.Progress}
	return r
}

// view is the progress as the query answers it (and a continued run
// resumes from).
func (r *rollout) view() RolloutProgress {
	p := r.p
	p.Progress = r.t.p
	p.Steps = slices.Clone(r.t.p.Steps)
	p.InFlight = slices.Clone(r.p.InFlight)
	p.Failures = slices.Clone(r.p.Failures)
	p.Counts.Pending = p.Counts.Total - p.Counts.Running - p.Counts.Done - p.Counts.Failed - p.Counts.Skipped
	if p.Status == StatusRunning && (p.Paused != nil || (p.Stage == RolloutStageReadiness && p.Approval == nil)) {
		p.Status = StatusWaiting
	}
	return p
}

func (r *rollout) init(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (RolloutProgress, error) { return r.view(), nil }); err != nil {
		return err
	}
	handlers := []struct {
		name     string
		validate func(RolloutControl) error
		handle   func(workflow.Context, RolloutControl) error
	}{
		{RolloutApprove, r.validateApprove, func(ctx workflow.Context, c RolloutControl) error {
			r.p.Approval = &RolloutApproval{By: c.By, At: workflow.Now(ctx).UTC()}
			return nil
		}},
		{RolloutPause, r.validatePause, func(ctx workflow.Context, c RolloutControl) error {
			r.pause(ctx, PauseByDeveloper, "paused by "+who(c)+": nothing new starts, what is in flight finishes; resume or abort")
			return nil
		}},
		{RolloutResume, r.validateResume, func(ctx workflow.Context, c RolloutControl) error {
			r.p.ThresholdBase = r.p.Counts.Failed
			r.p.Paused = nil
			return nil
		}},
		{RolloutAbort, r.validateAbort, func(ctx workflow.Context, c RolloutControl) error {
			r.p.AbortedBy = who(c)
			return nil
		}},
		{RolloutRetry, r.validateRetry, r.retry},
		{RolloutDrain, r.validateDrain, func(ctx workflow.Context, c RolloutControl) error {
			r.decision = c.Decision
			return nil
		}},
	}
	for _, h := range handlers {
		validate := h.validate
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handle, workflow.UpdateHandlerOptions{
			Validator: func(ctx workflow.Context, c RolloutControl) error { return apperr.ForTemporal(validate(c)) },
		}); err != nil {
			return err
		}
	}
	return nil
}

func who(c RolloutControl) string {
	if c.By == "" {
		return "a developer"
	}
	return c.By
}

func (r *rollout) aborting() bool { return r.p.AbortedBy != "" }

// over refuses a control once the rollout is ending or being aborted.
func (r *rollout) over() error {
	switch {
	case r.p.Stage == RolloutStageRelease || r.p.Stage == RolloutStageDone:
		return apperr.Conflict("the rollout is over")
	case r.aborting():
		return apperr.Conflict("the rollout is being aborted (by %s): what is in flight finishes, nothing new starts", r.p.AbortedBy)
	}
	return nil
}

func (r *rollout) validateApprove(RolloutControl) error {
	if err := r.over(); err != nil {
		return err
	}
	switch {
	case r.p.Approval != nil:
		return apperr.Conflict("the rollout was approved already, by %s at %s", r.p.Approval.By, r.p.Approval.At.Format(time.RFC3339))
	case r.p.Stage == RolloutStagePlan:
		return apperr.Conflict("the rollout is still planning")
	case r.p.Readiness == nil:
		return apperr.Conflict("the rollout has not checked the live processes yet: try again in a moment")
	case !r.p.Readiness.Ready:
		return apperr.Conflict("not ready: %s", r.p.Readiness.Reason)
	}
	return nil
}

func (r *rollout) validatePause(RolloutControl) error {
	if err := r.over(); err != nil {
		return err
	}
	switch {
	case r.p.Approval == nil:
		return apperr.Conflict("nothing runs before the rollout is approved: there is nothing to pause")
	case r.p.Paused != nil:
		return apperr.Conflict("the rollout is paused already: %s", r.p.Paused.Reason)
	}
	return nil
}

func (r *rollout) validateResume(RolloutControl) error {
	if err := r.over(); err != nil {
		return err
	}
	switch {
	case r.p.Paused == nil:
		return apperr.Conflict("the rollout is not paused")
	case r.p.Paused.Kind == PauseDrain:
		return apperr.Conflict("the rollout waits at the drain deadline: send drain with decision wait or proceed, or abort")
	}
	return nil
}

func (r *rollout) validateAbort(RolloutControl) error { return r.over() }

func (r *rollout) validateRetry(RolloutControl) error {
	if err := r.over(); err != nil {
		return err
	}
	if r.p.Counts.Failed == 0 {
		return apperr.Conflict("no instance has failed: there is nothing to retry")
	}
	return nil
}

func (r *rollout) validateDrain(c RolloutControl) error {
	if err := r.over(); err != nil {
		return err
	}
	switch {
	case r.p.Paused == nil || r.p.Paused.Kind != PauseDrain:
		return apperr.Conflict("the rollout is not waiting at the drain deadline")
	case c.Decision != DrainWait && c.Decision != DrainProceed:
		return apperr.Invalid("decision must be %q or %q", DrainWait, DrainProceed)
	}
	return nil
}

// retry puts the failed instances back in the queue; a rollout that the
// failures paused goes on.
func (r *rollout) retry(ctx workflow.Context, c RolloutControl) error {
	r.p.Retries++
	var ids []string
	if err := call(withDBSteps(ctx), acts.RequeueRolloutFailures,
		activities.RequeueInput{RolloutID: r.p.RolloutID, Round: r.p.Retries}, &ids); err != nil {
		return err
	}
	r.p.Counts.Failed -= len(ids)
	r.p.ThresholdBase = min(r.p.ThresholdBase, r.p.Counts.Failed)
	r.p.Failures = slices.DeleteFunc(r.p.Failures, func(f RolloutFailure) bool { return slices.Contains(ids, f.InstanceID) })
	if r.p.Paused != nil && (r.p.Paused.Kind == PauseThreshold || r.p.Paused.Kind == PauseCanary) {
		r.p.Paused = nil
	}
	return nil
}

func (r *rollout) pause(ctx workflow.Context, kind, reason string) {
	r.p.Paused = &RolloutPaused{Kind: kind, Reason: reason, At: workflow.Now(ctx).UTC()}
}

// run runs the stages from the one the rollout is at.
func (r *rollout) run(ctx workflow.Context) error {
	for {
		var err error
		switch r.p.Stage {
		case RolloutStagePlan:
			err = r.plan(ctx)
		case RolloutStageReadiness:
			err = r.awaitGo(ctx)
		case RolloutStageDrain:
			err = r.drain(ctx)
		case RolloutStageCanary, RolloutStageBatches:
			err = r.batches(ctx)
		case RolloutStageRelease:
			err = r.release(ctx)
		default:
			return nil
		}
		if err != nil {
			return err
		}
		if r.aborting() && r.p.Stage != RolloutStageDone {
			r.p.Stage = RolloutStageRelease
		}
	}
}

func (r *rollout) plan(ctx workflow.Context) error {
	var plan activities.RolloutPlan
	if err := r.t.run(ctx, RolloutStagePlan, func() error {
		return call(withDBSteps(ctx), acts.PlanRollout, activities.PlanRolloutInput{
			RolloutID: r.p.RolloutID, WorkflowID: RolloutWorkflowID(r.in.Service, r.in.Version),
			Service: r.in.Service, Version: r.in.Version, ActorID: r.in.ActorID, Options: r.p.Options,
		}, &plan)
	}); err != nil {
		return err
	}
	r.p.Plan = &plan
	r.p.Counts.Total = plan.Total
	r.p.Stage = RolloutStageReadiness
	if plan.Total == 0 {
		// Every instance is on the target already: nothing to wait for.
		for _, s := range []string{RolloutStageReadiness, RolloutStageApprove, RolloutStageDrain, RolloutStageCanary, RolloutStageBatches} {
			r.t.set(ctx, s, StepSkipped)
		}
		r.p.Stage = RolloutStageRelease
	}
	return nil
}

// awaitGo waits until every live process can serve the target and the go
// signal came (or auto-approve gives it).
func (r *rollout) awaitGo(ctx workflow.Context) error {
	r.t.set(ctx, RolloutStageReadiness, StepWaiting)
	r.t.set(ctx, RolloutStageApprove, StepWaiting)
	for {
		var rd Readiness
		if err := call(withDBSteps(ctx), acts.RolloutReadiness,
			activities.ReadinessInput{Service: r.in.Service, Version: r.in.Version}, &rd); err != nil {
			return err
		}
		r.p.Readiness = &rd
		if rd.Ready {
			r.t.set(ctx, RolloutStageReadiness, StepDone)
		} else {
			r.t.set(ctx, RolloutStageReadiness, StepWaiting)
		}
		if r.aborting() {
			return nil
		}
		if rd.Ready && r.p.Approval == nil && r.p.Options.AutoApprove {
			r.p.Approval = &RolloutApproval{By: "auto-approve", At: workflow.Now(ctx).UTC(), Auto: true}
		}
		if rd.Ready && r.p.Approval != nil {
			break
		}
		poll := readinessPoll
		if rd.Ready {
			poll = approvalPoll
		}
		if _, err := workflow.AwaitWithTimeout(ctx, poll, func() bool { return r.aborting() || r.p.Approval != nil }); err != nil {
			return err
		}
		if r.p.Approval != nil {
			break // the validator saw every process ready
		}
		if err := r.maybeContinue(ctx); err != nil {
			return err
		}
	}
	r.t.set(ctx, RolloutStageReadiness, StepDone)
	r.t.set(ctx, RolloutStageApprove, StepDone)
	r.p.Stage = RolloutStageDrain
	return nil
}

// drain holds the service's new jobs and waits for those in flight; past
// the deadline it pauses and asks whether to wait longer or proceed.
func (r *rollout) drain(ctx workflow.Context) error {
	db := withDBSteps(ctx)
	hold := r.jobHold()
	r.t.set(ctx, RolloutStageDrain, StepRunning)
	if !r.p.Jobs.Held {
		if err := call(db, acts.HoldServiceJobs, hold, nil); err != nil {
			return err
		}
		r.p.Jobs.Held = true
		deadline := workflow.Now(ctx).UTC().Add(r.p.Options.DrainDeadline)
		r.p.Jobs.DrainDeadline = &deadline
	}
	for !r.aborting() {
		var n int
		if err := call(db, acts.ServiceJobsInFlight, hold, &n); err != nil {
			return err
		}
		r.p.Jobs.InFlight = n
		if n == 0 {
			r.p.Jobs.Drained = true
			break
		}
		now := workflow.Now(ctx).UTC()
		if !now.Before(*r.p.Jobs.DrainDeadline) {
			r.pause(ctx, PauseDrain, fmt.Sprintf("the drain deadline (%s) passed with %d jobs of %s still running: "+
				"wait longer (drain, decision wait), proceed without waiting (drain, decision proceed) or abort",
				r.p.Options.DrainDeadline, n, r.in.Service))
			r.t.set(ctx, RolloutStageDrain, StepWaiting)
			r.decision = ""
			if err := workflow.Await(ctx, func() bool { return r.aborting() || r.decision != "" }); err != nil {
				return err
			}
			r.p.Paused = nil
			r.t.set(ctx, RolloutStageDrain, StepRunning)
			if r.decision == DrainProceed {
				r.p.Jobs.Proceeded = true
				break
			}
			if r.decision == DrainWait {
				deadline := workflow.Now(ctx).UTC().Add(r.p.Options.DrainDeadline)
				r.p.Jobs.DrainDeadline = &deadline
			}
			continue
		}
		if _, err := workflow.AwaitWithTimeout(ctx, min(drainPoll, r.p.Jobs.DrainDeadline.Sub(now)), r.aborting); err != nil {
			return err
		}
		if err := r.maybeContinue(ctx); err != nil {
			return err
		}
	}
	if !r.aborting() {
		r.t.set(ctx, RolloutStageDrain, StepDone)
		r.p.Stage = RolloutStageCanary
	}
	return nil
}

func (r *rollout) jobHold() activities.JobHoldInput {
	return activities.JobHoldInput{Service: r.in.Service, RolloutID: RolloutWorkflowID(r.in.Service, r.in.Version)}
}

// batches claims and runs batch after batch (the canary first) until none
// is left or the rollout is aborted; it waits while paused.
func (r *rollout) batches(ctx workflow.Context) error {
	for !r.aborting() {
		if r.p.Paused != nil {
			if err := workflow.Await(ctx, func() bool { return r.p.Paused == nil || r.aborting() }); err != nil {
				return err
			}
			continue
		}
		if err := r.maybeContinue(ctx); err != nil {
			return err
		}
		canary := r.p.Stage == RolloutStageCanary
		targets, err := r.claim(ctx, canary)
		if err != nil {
			return err
		}
		if len(targets) == 0 {
			waited, err := r.awaitMoves(ctx)
			if err != nil {
				return err
			}
			if waited {
				continue
			}
			break
		}
		step := RolloutStageBatches
		if canary {
			step = RolloutStageCanary
		}
		r.t.set(ctx, step, StepRunning)
		r.p.Batch++
		failedBefore := r.p.Counts.Failed
		if err := r.runBatch(ctx, targets); err != nil {
			return err
		}
		if canary {
			r.p.Stage = RolloutStageBatches
			if r.p.Counts.Failed > failedBefore {
				r.t.set(ctx, RolloutStageCanary, StepFailed)
				f := r.p.Failures[len(r.p.Failures)-1]
				r.pause(ctx, PauseCanary, "the canary "+f.InstanceID+" failed: "+f.Reason+
					"; retry it, resume to go on with the others, or abort")
			} else {
				r.t.set(ctx, RolloutStageCanary, StepDone)
			}
		}
	}
	if !r.aborting() {
		if s := r.t.step(RolloutStageBatches); s.State == StepPending {
			r.t.set(ctx, RolloutStageBatches, StepSkipped)
		} else {
			r.t.set(ctx, RolloutStageBatches, StepDone)
		}
		r.p.Stage = RolloutStageRelease
	}
	return nil
}

// claim takes the next batch; when none is pending it lets a retry that
// is requeueing finish and looks once more.
func (r *rollout) claim(ctx workflow.Context, canary bool) ([]activities.RolloutTarget, error) {
	size := r.p.Options.BatchSize
	if canary {
		size = 1
	}
	in := activities.ClaimBatchInput{RolloutID: r.p.RolloutID, Batch: r.p.Batch, Size: size}
	var targets []activities.RolloutTarget
	if err := call(withDBSteps(ctx), acts.ClaimRolloutBatch, in, &targets); err != nil || len(targets) > 0 {
		return targets, err
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return nil, err
	}
	if r.p.Counts.Total-r.p.Counts.Done-r.p.Counts.Failed-r.p.Counts.Skipped == 0 {
		return nil, nil
	}
	err := call(withDBSteps(ctx), acts.ClaimRolloutBatch, in, &targets)
	return targets, err
}

// awaitMoves is called when no instance is left to claim: those still
// pending may be held by a move (MoveInstance copies the database under
// maintenance, and ClaimRolloutBatch leaves them). The rollout waits for
// them, looking again every movePoll (or sooner on a pause or an abort),
// rather than skip them (they would stay on the old version) or fail them
// (an upgrade cannot take a move's maintenance). waited is true when it
// waited, so the caller claims again. Runs before this change end there
// and skip them.
func (r *rollout) awaitMoves(ctx workflow.Context) (waited bool, err error) {
	if workflow.GetVersion(ctx, "rollout-waits-for-moves", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false, nil
	}
	var moving []string
	if err := call(withDBSteps(ctx), acts.RolloutInstancesMoving, activities.ClaimBatchInput{RolloutID: r.p.RolloutID}, &moving); err != nil {
		return false, err
	}
	r.p.Moving = moving
	if len(moving) == 0 {
		return false, nil
	}
	_, err = workflow.AwaitWithTimeout(ctx, movePoll, func() bool { return r.aborting() || r.p.Paused != nil })
	return err == nil, err
}

// runBatch starts the batch's upgrades, at most MaxInFlight at once,
// while not paused; an abort starts no more. It returns when every
// upgrade it started has ended.
func (r *rollout) runBatch(ctx workflow.Context, targets []activities.RolloutTarget) error {
	wg := workflow.NewWaitGroup(ctx)
	for _, tgt := range targets {
		if err := workflow.Await(ctx, func() bool {
			return r.aborting() || (r.p.Paused == nil && r.inFlight < r.p.Options.MaxInFlight)
		}); err != nil {
			return err
		}
		if r.aborting() {
			break
		}
		r.inFlight++
		r.startedThisRun++
		r.p.Counts.Running++
		r.p.InFlight = append(r.p.InFlight, tgt.InstanceID)
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			r.upgradeOne(ctx, tgt)
		})
	}
	wg.Wait(ctx)
	return r.fatal
}

// upgradeOne runs one instance's UpgradeInstance child, cancels it past
// the instance deadline, and records how it went.
func (r *rollout) upgradeOne(ctx workflow.Context, tgt activities.RolloutTarget) {
	id := tgt.InstanceID
	cctx, cancelChild := workflow.WithCancel(ctx)
	child := workflow.ExecuteChildWorkflow(childOptions(cctx, UpgradeInstanceID(id, r.in.Version), tgt.AccountID, r.in.Service, id),
		UpgradeInstance, UpgradeInput{InstanceID: id, AccountID: tgt.AccountID, Service: r.in.Service, ActorID: r.in.ActorID,
			Version: r.in.Version})
	tctx, cancelTimer := workflow.WithCancel(ctx)
	timedOut := false
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(child, func(workflow.Future) {})
	sel.AddFuture(workflow.NewTimer(tctx, r.p.Options.InstanceDeadline), func(f workflow.Future) {
		if f.Get(ctx, nil) == nil {
			timedOut = true
			cancelChild()
		}
	})
	sel.Select(ctx)
	err := child.Get(ctx, nil)
	cancelTimer()

	reason := ""
	if err != nil {
		reason = apperr.Cause(err)
		var started *temporal.ChildWorkflowExecutionAlreadyStartedError
		if errors.As(err, &started) {
			reason = "an upgrade of this instance to " + r.in.Version + " is already running (" + UpgradeInstanceID(id, r.in.Version) + ")"
		}
		if timedOut {
			reason = fmt.Sprintf("did not finish within the instance deadline (%s), so it was cancelled: %s", r.p.Options.InstanceDeadline, reason)
		}
	}
	if rec := call(withDBSteps(ctx), acts.RecordRolloutInstance, activities.RolloutInstanceResult{
		RolloutID: r.p.RolloutID, InstanceID: id, Failed: err != nil, Error: reason}, nil); rec != nil && r.fatal == nil {
		r.fatal = rec
	}
	r.inFlight--
	r.p.Counts.Running--
	r.p.InFlight = slices.DeleteFunc(r.p.InFlight, func(x string) bool { return x == id })
	if err == nil {
		r.p.Counts.Done++
		return
	}
	r.p.Counts.Failed++
	if len(r.p.Failures) < RolloutFailuresShown {
		r.p.Failures = append(r.p.Failures, RolloutFailure{InstanceID: id, Reason: reason, At: workflow.Now(ctx).UTC()})
	}
	limit := r.p.Options.Threshold(r.p.Counts.Total)
	if r.p.Stage != RolloutStageCanary && r.p.Paused == nil && r.p.Counts.Failed-r.p.ThresholdBase >= limit {
		r.pause(ctx, PauseThreshold, fmt.Sprintf("%d instances failed (the failure threshold is %d): nothing new starts, "+
			"what is in flight finishes; retry the failed ones, resume, or abort", r.p.Counts.Failed-r.p.ThresholdBase, limit))
	}
}

// maybeContinue continues the rollout as new when this run has grown
// long; it is called only where no upgrade is in flight.
func (r *rollout) maybeContinue(ctx workflow.Context) error {
	info := workflow.GetInfo(ctx)
	if r.startedThisRun < rolloutUpgradesPerRun && info.GetCurrentHistoryLength() < rolloutHistoryLimit &&
		!info.GetContinueAsNewSuggested() {
		return nil
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	next := r.in
	view := r.view()
	view.Status = r.t.p.Status
	next.Resume = &view
	return workflow.NewContinueAsNewError(ctx, Rollout, next)
}

// release lets the held jobs go and records the outcome.
func (r *rollout) release(ctx workflow.Context) error {
	outcome := RolloutCompleted
	switch {
	case r.aborting():
		outcome = RolloutAborted
	case r.p.Counts.Failed > 0:
		outcome = RolloutWithFailures
	}
	if err := r.t.run(ctx, RolloutStageRelease, func() error { return r.end(withDBSteps(ctx), outcome) }); err != nil {
		return err
	}
	r.p.Counts.Skipped = r.p.Counts.Total - r.p.Counts.Done - r.p.Counts.Failed
	r.p.Outcome = outcome
	r.p.Stage = RolloutStageDone
	r.p.Paused = nil
	for i := range r.t.p.Steps {
		if s := &r.t.p.Steps[i]; s.State == StepPending || s.State == StepWaiting || s.State == StepRunning {
			s.State = StepSkipped
		}
	}
	r.t.finish(StatusCompleted)
	if outcome == RolloutAborted {
		r.t.finish(StatusCancelled)
		r.t.p.Error = "aborted by " + r.p.AbortedBy
	}
	return nil
}

// end releases the jobs (if held), tells the jobs it held to start now
// and records the outcome.
func (r *rollout) end(db workflow.Context, outcome string) error {
	if r.p.Jobs.Held {
		var waiting []controldb.HeldJob
		if err := call(db, acts.ReleaseServiceJobs, r.jobHold(), &waiting); err != nil {
			return err
		}
		r.p.Jobs.Held, r.p.Jobs.Released = false, true
		// Rollouts that released before this change let their jobs notice
		// on their own timers (up to ten seconds later).
		if workflow.GetVersion(db, "rollout-recheck-released-jobs", workflow.DefaultVersion, 1) == 1 {
			recheckJobs(db, waiting)
		}
	}
	return call(db, acts.FinishRollout, activities.FinishRolloutInput{RolloutID: r.p.RolloutID, Outcome: outcome}, nil)
}

// recheckJobs signals each released job (RecheckJobSignal) to look at its
// hold now. A signal is only a nudge: a job that has started or finished
// meanwhile (or is gone) needs none, so a failed signal is ignored, and a
// second one (a retried release) makes a job check once more, harmlessly.
func recheckJobs(ctx workflow.Context, jobs []controldb.HeldJob) {
	signals := make([]workflow.Future, 0, len(jobs))
	for _, j := range jobs {
		signals = append(signals, workflow.SignalExternalWorkflow(ctx, ServiceJobID(j.InstanceID, j.JobID), "", RecheckJobSignal, nil))
	}
	for i, f := range signals {
		if err := f.Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Debug("rollout: recheck signal not delivered", "job", jobs[i].JobID, "err", err)
		}
	}
}

// fail ends a rollout that cannot go on: its jobs are released and its
// bookkeeping closed even when it was cancelled.
func (r *rollout) fail(ctx workflow.Context, cause error) (RolloutResult, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err := r.end(withDBSteps(dctx), RolloutFailed); err != nil {
		workflow.GetLogger(ctx).Error("rollout: release after failure", "err", err)
	}
	r.p.Outcome = RolloutFailed
	r.t.fail(ctx, cause)
	r.t.p.Error = apperr.Cause(cause)
	return RolloutResult{Outcome: RolloutFailed, Counts: r.view().Counts, Failures: r.p.Failures}, cause
}
