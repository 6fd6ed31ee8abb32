package workflows

import (
	"go.temporal.io/sdk/workflow"

	"tenantry/activities"
)

// CreateDatabaseID is the business ID of an instance's database creation.
func CreateDatabaseID(instanceID string) string { return "database/" + instanceID }

// CreateDatabase picks a database server, creates the tenant's role and its
// database owned by that role, and closes the database to everybody else.
// Its result names what it made; the password stays in the control database.
func CreateDatabase(ctx workflow.Context, in activities.InstanceRef) (activities.DatabaseInfo, error) {
	t, err := newTracker(ctx,
		stepDef{"allocate", "Pick a server, name the database, generate credentials"},
		stepDef{"create_role", "Create the tenant's role"},
		stepDef{"create_database", "Create the database, closed to others"},
	)
	if err != nil {
		return activities.DatabaseInfo{}, err
	}
	db := withDBSteps(ctx)
	var info activities.DatabaseInfo
	for _, st := range []struct {
		name string
		fn   func() error
	}{
		{"allocate", func() error { return call(db, acts.AllocateDatabase, in, &info) }},
		{"create_role", func() error { return call(db, acts.CreateRole, info, nil) }},
		{"create_database", func() error { return call(db, acts.CreateDatabase, info, nil) }},
	} {
		if err := t.run(ctx, st.name, st.fn); err != nil {
			t.fail(ctx, err)
			return info, err
		}
	}
	t.finish(StatusCompleted)
	return info, nil
}
