package workflows

import (
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// CreateDatabase's contract: a child of EnableService on TaskQueue (never
// started from outside a workflow); its progress query answers a Progress.

// CreateDatabaseVersioning is pinned: a child of a pinned provisioning,
// finished in seconds.
const CreateDatabaseVersioning = workflow.VersioningBehaviorPinned

// CreateDatabaseID is the business ID of an instance's database creation.
func CreateDatabaseID(instanceID string) string { return "database/" + instanceID }

// CreateDatabaseInput names the instance whose database to create.
type CreateDatabaseInput = activities.InstanceRef

// CreateDatabaseResult names what was made; the password stays in the
// control database.
type CreateDatabaseResult = activities.DatabaseInfo

// CreateDatabase's steps, in order.
const (
	CreateDatabaseStepAllocate = "allocate"
	CreateDatabaseStepRole     = "create_role"
	CreateDatabaseStepDatabase = "create_database"
)

// CreateDatabase picks a database server, creates the tenant's role and its
// database owned by that role, and closes the database to everybody else.
func CreateDatabase(ctx workflow.Context, in CreateDatabaseInput) (CreateDatabaseResult, error) {
	t, err := newTracker(ctx,
		stepDef{CreateDatabaseStepAllocate, "Pick a server, name the database, generate credentials"},
		stepDef{CreateDatabaseStepRole, "Create the tenant's role"},
		stepDef{CreateDatabaseStepDatabase, "Create the database, closed to others"},
	)
	if err != nil {
		return CreateDatabaseResult{}, err
	}
	db := withDBSteps(ctx)
	var info CreateDatabaseResult
	for _, st := range []struct {
		name string
		fn   func() error
	}{
		{CreateDatabaseStepAllocate, func() error { return call(db, acts.AllocateDatabase, in, &info) }},
		{CreateDatabaseStepRole, func() error { return call(db, acts.CreateRole, info, nil) }},
		{CreateDatabaseStepDatabase, func() error { return call(db, acts.CreateDatabase, info, nil) }},
	} {
		if err := t.run(ctx, st.name, st.fn); err != nil {
			t.fail(ctx, err)
			return info, err
		}
	}
	t.finish(StatusCompleted)
	return info, nil
}
