package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"tenantry/workflows"
)

// started records which activities ran as regular activities (with their
// deadline and heartbeat timeout) and which as local ones.
type started struct {
	mu      sync.Mutex
	regular map[string]activity.Info
	local   []string
}

func watchStarts(h *harness) *started {
	s := &started{regular: map[string]activity.Info{}}
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.regular[info.ActivityType.Name] = *info
	})
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.local = append(s.local, info.ActivityType.Name)
	})
	return s
}

// assertLong: name ran as a regular activity with an hour per attempt (the
// test environment does not report the heartbeat timeout; the end-to-end
// TestLongMigrations sees the heartbeats in describe).
func (s *started) assertLong(t *testing.T, name string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	info, ok := s.regular[name]
	require.True(t, ok, "%s ran as a regular activity (local ones: %v)", name, s.local)
	assert.InDelta(t, time.Hour.Seconds(), info.Deadline.Sub(info.StartedTime).Seconds(), 1, "%s attempt deadline", name)
	assert.NotContains(t, s.local, name)
}

func TestMigrationAndSeedRunAsOneRegularActivity(t *testing.T) {
	h := newHarness(t)
	h.stubEnable()
	s := watchStarts(h)
	setup := validSetup()
	h.env.ExecuteWorkflow(workflows.EnableService, enableInput(&setup))
	h.assertProvisioned(t)
	s.assertLong(t, "MigrateTenant")
	assert.Equal(t, []string{"ReserveInstance", "AllocateDatabase", "CreateRole", "CreateDatabase", "RegisterHost", "OpenUsageSpans", "MarkReady"},
		s.local, "short control-database writes stay local")
}

func TestUpgradeMigrationIsARegularActivity(t *testing.T) {
	h := newHarness(t)
	h.stubUpgrade()
	s := watchStarts(h)
	h.env.ExecuteWorkflow(workflows.UpgradeInstance, upgradeInput())
	require.NoError(t, h.env.GetWorkflowError())
	s.assertLong(t, "MigrateTenant")
}

func TestDisableDropsTheDatabaseInARegularActivity(t *testing.T) {
	h := newHarness(t)
	h.stubDisable()
	s := watchStarts(h)
	h.env.ExecuteWorkflow(workflows.DisableService, disableInput())
	require.NoError(t, h.env.GetWorkflowError())
	s.assertLong(t, "DropDatabase")
}
