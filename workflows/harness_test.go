package workflows_test

import (
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/workflows"
)

// acts names activities the way the workflows do: methods of a nil pointer.
var acts *activities.Activities

// start is the workflow clock when every test workflow starts.
var start = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

const (
	instanceID = "0195a1b2-0000-7000-8000-000000000001"
	accountID  = "0195a1b2-0000-7000-8000-0000000000a1"
	actorID    = "0195a1b2-0000-7000-8000-0000000000e1"
)

// harness is one test workflow environment whose activity mocks record
// every call, in order, with its input.
type harness struct {
	t      *testing.T
	env    *testsuite.TestWorkflowEnvironment
	fails  map[string]error
	delays map[string]time.Duration

	mu    sync.Mutex
	calls []call
}

// call is one recorded activity call.
type call struct {
	name string
	in   any
}

func newHarness(t *testing.T) *harness {
	return newHarnessOf(t, workflows.Register)
}

// newHarnessOf is a harness whose worker registers its workflows with
// register (a test may stand in for a child workflow).
func newHarnessOf(t *testing.T, register func(worker.WorkflowRegistry)) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	// Warnings and errors go to the test's output, shown when it fails.
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	register(env)
	env.RegisterActivity(&activities.Activities{})
	t.Cleanup(func() { env.AssertExpectations(t) })
	return &harness{t: t, env: env, fails: map[string]error{}, delays: map[string]time.Duration{}}
}

// failAt makes activity fail with err; call it before the stub* helpers.
func (h *harness) failAt(activity any, err error) {
	h.fails[activityName(activity)] = err
}

// takes makes activity last d on the workflow clock; call it before the
// stub* helpers.
func (h *harness) takes(activity any, d time.Duration) {
	h.delays[activityName(activity)] = d
}

// stub mocks activity with its results on success (one value and a nil
// error, or just a nil error), or with the failure set by failAt. Calls are
// recorded, not required: tests assert the recorded sequence instead.
func (h *harness) stub(activity any, ok ...any) {
	name := activityName(activity)
	results := ok
	if err, failing := h.fails[name]; failing {
		results = []any{err}
		if len(ok) == 2 {
			results = []any{reflect.Zero(reflect.TypeOf(ok[0])).Interface(), err}
		}
	}
	h.env.OnActivity(activity, mock.Anything, mock.Anything).
		Run(func(args mock.Arguments) { h.record(name, args.Get(1)) }).
		After(h.delays[name]).
		Return(results...).
		Maybe()
}

func (h *harness) record(name string, in any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, call{name: name, in: in})
}

// called lists the recorded activity names in call order.
func (h *harness) called() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, len(h.calls))
	for i, c := range h.calls {
		names[i] = c.name
	}
	return names
}

// input returns the input of the only call of activity, typed.
func input[T any](h *harness, activity any) T {
	h.t.Helper()
	name := activityName(activity)
	h.mu.Lock()
	defer h.mu.Unlock()
	var found []T
	for _, c := range h.calls {
		if c.name == name {
			found = append(found, c.in.(T))
		}
	}
	require.Len(h.t, found, 1, "calls of %s", name)
	return found[0]
}

// progress asks the workflow for its progress report.
func (h *harness) progress() workflows.Progress {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.ProgressQuery)
	require.NoError(h.t, err)
	var p workflows.Progress
	require.NoError(h.t, v.Get(&p))
	return p
}

// at runs fn once the workflow clock has moved d past the start.
func (h *harness) at(d time.Duration, fn func()) {
	h.env.RegisterDelayedCallback(fn, d)
}

// update sends an update; its outcome is known once the workflow has run
// past it, so read it after ExecuteWorkflow returns.
func (h *harness) update(name string, args ...any) *updateOutcome {
	o := &updateOutcome{}
	h.env.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept: func() { o.accepted = true },
		OnReject: func(err error) { o.rejected = err },
		OnComplete: func(result any, err error) {
			o.completed, o.result, o.err = true, result, err
		},
	}, args...)
	return o
}

type updateOutcome struct {
	accepted, completed bool
	rejected, err       error
	result              any
}

// assertAccepted checks the update passed its validator and its handler
// returned without error.
func (o *updateOutcome) assertAccepted(t *testing.T) {
	t.Helper()
	assert.NoError(t, o.rejected, "rejected")
	assert.True(t, o.accepted, "accepted")
	assert.True(t, o.completed, "completed")
	assert.NoError(t, o.err)
}

// assertRejected checks the validator refused the update with a domain
// error of kind whose message contains msg.
func (o *updateOutcome) assertRejected(t *testing.T, kind apperr.Kind, msg string) {
	t.Helper()
	require.Error(t, o.rejected, "rejected")
	assert.False(t, o.accepted, "accepted")
	assert.Equal(t, kind, apperr.KindOf(o.rejected))
	assert.Contains(t, apperr.Message(o.rejected), msg)
}

// states maps each step of a progress report to its state.
func states(p workflows.Progress) map[string]workflows.StepState {
	m := map[string]workflows.StepState{}
	for _, s := range p.Steps {
		m[s.Name] = s.State
	}
	return m
}

// step finds one step of a progress report.
func step(t *testing.T, p workflows.Progress, name string) workflows.Step {
	t.Helper()
	for _, s := range p.Steps {
		if s.Name == name {
			return s
		}
	}
	require.Failf(t, "no such step", "%q in %+v", name, p.Steps)
	return workflows.Step{}
}

// domainErr is what an activity returns for a domain error.
func domainErr(e *apperr.Error) error { return apperr.ForTemporal(e) }

// activityName is the name the test environment registers a method under.
func activityName(fn any) string {
	name := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	name = strings.TrimSuffix(name, "-fm")
	return name[strings.LastIndex(name, ".")+1:]
}

// names lists activity names, for comparing with harness.called.
func names(fns ...any) []string {
	out := make([]string, len(fns))
	for i, fn := range fns {
		out[i] = activityName(fn)
	}
	return out
}
