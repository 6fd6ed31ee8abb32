package workflows

import (
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"

	"go.temporal.io/sdk/workflow"

	"tenantry/internal/apperr"
)

// ProgressQuery is answered by every workflow with its Progress (or a
// progress type of its own that shares Progress's Status).
const ProgressQuery = "progress"

// StepState is where one step of a workflow stands.
type StepState string

const (
	StepPending     StepState = "pending"
	StepRunning     StepState = "running"
	StepWaiting     StepState = "waiting" // waiting for a person (setup) or a timer (grace)
	StepDone        StepState = "done"
	StepFailed      StepState = "failed"
	StepCompensated StepState = "compensated" // undone after a later step failed
	StepSkipped     StepState = "skipped"
)

// Status is where a whole workflow stands.
type Status string

const (
	StatusRunning   Status = "running"
	StatusWaiting   Status = "waiting"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Step is one line of a progress report.
type Step struct {
	Name      string     `json:"name"`
	Title     string     `json:"title"`
	State     StepState  `json:"state"`
	StartedAt *time.Time `json:"started_at,omitempty"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	Error     string     `json:"error,omitempty"`
	// Cause is what operators need of a failure whose Error a client
	// reads (a migration's SQL error, say); the platform gives clients
	// progress without it.
	Cause string `json:"cause,omitempty"`
	// Note says what a waiting step waits for, when it is not a person.
	Note string `json:"note,omitempty"`
}

// Progress is what the progress query returns: the steps in order, the
// overall status and, on failure, the reason in plain words. BillingCycle
// and InstanceExpiry answer types of their own (BillingProgress,
// ExpiryProgress) that share its "status" field (and BillingProgress its
// "error"), so every answer decodes into a Progress with a meaningful
// Status: StatusWaiting while a workflow waits for a person or sleeps on a
// timer.
type Progress struct {
	Status Status `json:"status"`
	Steps  []Step `json:"steps"`
	Error  string `json:"error,omitempty"`
	// Cause: as Step.Cause, for the whole workflow.
	Cause string `json:"cause,omitempty"`
}

// ForClients is the progress without the causes kept for operators.
func (p Progress) ForClients() Progress {
	p.Cause = ""
	p.Steps = slices.Clone(p.Steps)
	for i := range p.Steps {
		p.Steps[i].Cause = ""
	}
	return p
}

// failure is an error's two readings: Message for clients, and its Cause
// when operators need more.
func failure(err error) (message, cause string) {
	message, cause = apperr.Message(err), apperr.Cause(err)
	var canceled *temporal.CanceledError
	switch {
	case errors.As(err, &canceled):
		return "cancelled", ""
	case apperr.KindOf(err) == apperr.KindInternal:
		message = ourSide
	}
	if cause == message {
		cause = ""
	}
	return message, cause
}

// ourSide is what a client reads of a failure that is Tenantry's, with no
// sentence of its own: a workflow that fails so is listed on the
// developers' problems page, with its cause.
const ourSide = "failed on our side, and Tenantry's operators have been told"

// tracker keeps a workflow's Progress; every time comes from workflow.Now so
// the report is the same on replay.
type tracker struct {
	p Progress
}

type stepDef struct{ name, title string }

func newTracker(ctx workflow.Context, defs ...stepDef) (*tracker, error) {
	t := &tracker{p: Progress{Status: StatusRunning}}
	for _, d := range defs {
		t.p.Steps = append(t.p.Steps, Step{Name: d.name, Title: d.title, State: StepPending})
	}
	return t, workflow.SetQueryHandler(ctx, ProgressQuery, func() (Progress, error) { return t.p, nil })
}

func (t *tracker) step(name string) *Step {
	for i := range t.p.Steps {
		if t.p.Steps[i].Name == name {
			return &t.p.Steps[i]
		}
	}
	t.p.Steps = append(t.p.Steps, Step{Name: name, Title: name})
	return &t.p.Steps[len(t.p.Steps)-1]
}

func (t *tracker) set(ctx workflow.Context, name string, state StepState) {
	s := t.step(name)
	now := workflow.Now(ctx).UTC()
	switch state {
	case StepRunning, StepWaiting:
		if s.StartedAt == nil {
			s.StartedAt = &now
		}
	default:
		s.EndedAt = &now
	}
	s.State = state
}

// run marks a step running, calls fn, and marks it done or failed.
func (t *tracker) run(ctx workflow.Context, name string, fn func() error) error {
	t.set(ctx, name, StepRunning)
	if err := fn(); err != nil {
		t.set(ctx, name, StepFailed)
		s := t.step(name)
		s.Error, s.Cause = failure(err)
		return err
	}
	t.set(ctx, name, StepDone)
	return nil
}

func (t *tracker) fail(ctx workflow.Context, err error) {
	t.p.Status = StatusFailed
	t.p.Error, t.p.Cause = failure(err)
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		t.p.Status, t.p.Error, t.p.Cause = StatusCancelled, "cancelled by an operator", ""
	}
	for i := range t.p.Steps {
		if t.p.Steps[i].State == StepPending {
			t.p.Steps[i].State = StepSkipped
		}
	}
}

func (t *tracker) finish(status Status) { t.p.Status = status }
