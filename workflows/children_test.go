package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/workflows"
)

// The child workflows also run on their own: CreateDatabase and
// MigrateAndSeed for a version upgrade, which has no setup to seed.

func TestCreateDatabase(t *testing.T) {
	h := newHarness(t)
	h.stubEnable()

	h.env.ExecuteWorkflow(workflows.CreateDatabase, ref)

	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var info activities.DatabaseInfo
	require.NoError(t, h.env.GetWorkflowResult(&info))
	assert.Equal(t, dbInfo, info)
	assert.Equal(t, names(acts.AllocateDatabase, acts.CreateRole, acts.CreateDatabase), h.called())
	assert.Equal(t, workflows.StatusCompleted, h.progress().Status)
}

func TestMigrateAndSeedUpgradeSkipsSeed(t *testing.T) {
	h := newHarness(t)
	h.stubEnable()

	h.env.ExecuteWorkflow(workflows.MigrateAndSeed, workflows.MigrateAndSeedInput{InstanceID: instanceID, Version: "1.5.0"})

	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	assert.Equal(t, names(acts.MigrateTenant), h.called())
	assert.Equal(t, activities.MigrateInput{InstanceID: instanceID, Version: "1.5.0"}, input[activities.MigrateInput](h, acts.MigrateTenant))
	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Equal(t, map[string]workflows.StepState{"migrate": workflows.StepDone, "seed": workflows.StepSkipped}, states(p))
}
