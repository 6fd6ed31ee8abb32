package workflows_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"tenantry/activities"
	"tenantry/internal/apperr"
	"tenantry/workflows"
)

// resolved is the request as the catalog resolves it: the required module
// is added, the host normalised.
var resolved = activities.ReserveInstanceResult{
	Version: "1.4.0", SchemaVersion: 3, Modules: []string{"core", "invoices"}, Host: "ada.tenantry.test",
}

var dbInfo = activities.DatabaseInfo{
	InstanceID: instanceID, ServerID: "server-1", Database: "tenant_ada", Role: "tenant_ada",
}

var ref = activities.InstanceRef{InstanceID: instanceID}

func validSetup() activities.Setup {
	return activities.Setup{
		AdminEmail: "admin@ada.test", AdminName: "Ada Admin", Language: "de",
		AdminPasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
	}
}

func enableInput(setup *activities.Setup) workflows.EnableInput {
	return workflows.EnableInput{
		InstanceID: instanceID, AccountID: accountID, ActorID: actorID,
		Service: "crm", Modules: []string{"invoices"}, Host: "Ada.Tenantry.test", Setup: setup,
	}
}

// enableSteps are EnableService's steps in order.
var enableSteps = []string{"validate", "create_database", "setup", "migrate_and_seed", "register_host", "open_billing", "ready"}

// provisioned is every activity of a successful EnableService, in order,
// through its real CreateDatabase child.
var provisioned = names(
	acts.ReserveInstance,
	acts.AllocateDatabase, acts.CreateRole, acts.CreateDatabase, // CreateDatabase child
	acts.MigrateTenant, // migrates, then seeds
	acts.RegisterHost, acts.OpenUsageSpans, acts.MarkReady,
)

// stubEnable mocks every activity EnableService and its children may call,
// compensation included.
func (h *harness) stubEnable() {
	h.stub(acts.ReserveInstance, resolved, nil)
	h.stub(acts.AllocateDatabase, dbInfo, nil)
	h.stub(acts.CreateRole, nil)
	h.stub(acts.CreateDatabase, nil)
	h.stub(acts.MigrateTenant, nil)
	h.stub(acts.RegisterHost, nil)
	h.stub(acts.OpenUsageSpans, nil)
	h.stub(acts.MarkReady, nil)
	h.stub(acts.DropDatabase, nil)
	h.stub(acts.FailInstance, nil)
}

func (h *harness) assertProvisioned(t *testing.T) {
	t.Helper()
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var res workflows.EnableResult
	require.NoError(t, h.env.GetWorkflowResult(&res))
	assert.Equal(t, workflows.EnableResult{
		InstanceID: instanceID, Version: resolved.Version, Modules: resolved.Modules, Host: resolved.Host,
	}, res)
	assert.Equal(t, provisioned, h.called())

	p := h.progress()
	assert.Equal(t, workflows.StatusCompleted, p.Status)
	assert.Empty(t, p.Error)
	want := map[string]workflows.StepState{}
	for _, s := range enableSteps {
		want[s] = workflows.StepDone
	}
	assert.Equal(t, want, states(p))
}

func TestEnableServiceWithSetupUpFront(t *testing.T) {
	h := newHarness(t)
	h.stubEnable()
	setup := validSetup()
	var reserved *updateOutcome
	h.at(0, func() { reserved = h.update(workflows.ReservedUpdate) })

	h.env.ExecuteWorkflow(workflows.EnableService, enableInput(&setup))

	h.assertProvisioned(t)
	reserved.assertAccepted(t)
	assert.Equal(t, resolved, reserved.result, "the reserved update answers with the resolved request")

	assert.Equal(t, activities.ReserveInstanceInput{
		InstanceID: instanceID, AccountID: accountID, ActorID: actorID,
		Service: "crm", Modules: []string{"invoices"}, Host: "Ada.Tenantry.test",
	}, input[activities.ReserveInstanceInput](h, acts.ReserveInstance))
	assert.Equal(t, ref, input[activities.InstanceRef](h, acts.AllocateDatabase))
	assert.Equal(t, dbInfo, input[activities.DatabaseInfo](h, acts.CreateRole))
	assert.Equal(t, dbInfo, input[activities.DatabaseInfo](h, acts.CreateDatabase))
	assert.Equal(t, activities.MigrateInput{InstanceID: instanceID, Version: resolved.Version,
		Seed: &activities.SeedInput{InstanceID: instanceID, Setup: setup, Modules: resolved.Modules}},
		input[activities.MigrateInput](h, acts.MigrateTenant))
	assert.Equal(t, ref, input[activities.InstanceRef](h, acts.RegisterHost))
	assert.Equal(t, activities.SpansInput{InstanceID: instanceID, Modules: resolved.Modules, At: start},
		input[activities.SpansInput](h, acts.OpenUsageSpans), "billing opens the resolved modules")
	assert.Equal(t, activities.MarkReadyInput{InstanceID: instanceID, ActorID: actorID},
		input[activities.MarkReadyInput](h, acts.MarkReady))
}

func TestEnableServiceWaitsForSetup(t *testing.T) {
	h := newHarness(t)
	h.stubEnable()
	setup := validSetup()
	badLanguage, clearPassword := validSetup(), validSetup()
	badLanguage.Language = "tlh"
	clearPassword.AdminPasswordHash = "correct horse battery staple"

	const later = 3 * time.Hour
	var first, second, wrongLanguage, notHashed *updateOutcome
	h.at(later, func() {
		p := h.progress()
		assert.Equal(t, workflows.StatusWaiting, p.Status)
		assert.Equal(t, map[string]workflows.StepState{
			"validate": workflows.StepDone, "create_database": workflows.StepDone,
			"setup":            workflows.StepWaiting,
			"migrate_and_seed": workflows.StepPending, "register_host": workflows.StepPending,
			"open_billing": workflows.StepPending, "ready": workflows.StepPending,
		}, states(p))
		assert.Equal(t, start, *step(t, p, "setup").StartedAt, "the wait started right after the database")
		assert.Equal(t, provisioned[:4], h.called(), "nothing runs past the setup step while it waits")

		wrongLanguage = h.update(workflows.SetupUpdate, badLanguage)
		notHashed = h.update(workflows.SetupUpdate, clearPassword)
		first = h.update(workflows.SetupUpdate, setup)
		second = h.update(workflows.SetupUpdate, setup)
	})

	h.env.ExecuteWorkflow(workflows.EnableService, enableInput(nil))

	h.assertProvisioned(t)
	wrongLanguage.assertRejected(t, apperr.KindInvalid, `language "tlh" is not supported`)
	notHashed.assertRejected(t, apperr.KindInvalid, "admin password must arrive hashed")
	first.assertAccepted(t)
	second.assertRejected(t, apperr.KindConflict, "setup was already received")

	assert.Equal(t, &activities.SeedInput{InstanceID: instanceID, Setup: setup, Modules: resolved.Modules},
		input[activities.MigrateInput](h, acts.MigrateTenant).Seed, "the seed gets the setup sent by update")
	assert.Equal(t, start.Add(later), input[activities.SpansInput](h, acts.OpenUsageSpans).At,
		"billing starts when the instance is provisioned, not when it was requested")
	setupStep := step(t, h.progress(), "setup")
	assert.Equal(t, start.Add(later), *setupStep.EndedAt)
}

func TestEnableServiceSetupSentBeforeTheWait(t *testing.T) {
	h := newHarness(t)
	h.stubEnable()
	setup := validSetup()
	var early *updateOutcome
	h.at(0, func() { early = h.update(workflows.SetupUpdate, setup) }) // while validating

	h.env.ExecuteWorkflow(workflows.EnableService, enableInput(nil))

	h.assertProvisioned(t)
	early.assertAccepted(t)
	assert.Equal(t, start, h.env.Now().UTC(), "provisioning never waited")
	assert.Equal(t, setup, input[activities.MigrateInput](h, acts.MigrateTenant).Seed.Setup)
}

func TestEnableServiceRefusedAtValidate(t *testing.T) {
	h := newHarness(t)
	const msg = "host ada.tenantry.test is already taken"
	h.failAt(acts.ReserveInstance, domainErr(apperr.Conflict(msg)))
	h.stubEnable()
	setup := validSetup()
	var reserved *updateOutcome
	h.at(0, func() { reserved = h.update(workflows.ReservedUpdate) })

	h.env.ExecuteWorkflow(workflows.EnableService, enableInput(&setup))

	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(err))
	assert.Equal(t, names(acts.ReserveInstance), h.called(), "nothing was made, so nothing is compensated")

	assert.True(t, reserved.completed)
	require.Error(t, reserved.err, "the reserved update reports the refusal")
	assert.Equal(t, apperr.KindConflict, apperr.KindOf(reserved.err))
	assert.Equal(t, msg, apperr.Message(reserved.err))

	p := h.progress()
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Equal(t, msg, p.Error)
	assert.Equal(t, map[string]workflows.StepState{
		"validate": workflows.StepFailed, "create_database": workflows.StepSkipped, "setup": workflows.StepSkipped,
		"migrate_and_seed": workflows.StepSkipped, "register_host": workflows.StepSkipped,
		"open_billing": workflows.StepSkipped, "ready": workflows.StepSkipped,
	}, states(p), "no compensate step")
	assert.Equal(t, msg, step(t, p, "validate").Error)
}

// TestEnableServiceCompensates fails each step after validation in turn and
// checks that what was made is removed and the instance marked failed.
func TestEnableServiceCompensates(t *testing.T) {
	made := names(acts.ReserveInstance, acts.AllocateDatabase, acts.CreateRole, acts.CreateDatabase)
	cases := []struct {
		name    string
		failing string // the step that fails
		msg     string
		arrange func(h *harness, err error)
		calls   []string // before compensation
	}{
		{
			name: "create database (child activity fails)", failing: "create_database",
			msg:     "database server server-1 is not registered",
			arrange: func(h *harness, err error) { h.failAt(acts.CreateRole, err) },
			calls:   names(acts.ReserveInstance, acts.AllocateDatabase, acts.CreateRole),
		},
		{
			name: "create database (child mocked)", failing: "create_database",
			msg: "no active database server has room for another tenant",
			arrange: func(h *harness, err error) {
				h.env.OnWorkflow(workflows.CreateDatabase, mock.Anything, ref).Return(activities.DatabaseInfo{}, err).Once()
			},
			calls: names(acts.ReserveInstance),
		},
		{
			name: "migrate and seed", failing: "migrate_and_seed",
			msg:     "admin email: not valid",
			arrange: func(h *harness, err error) { h.failAt(acts.MigrateTenant, err) },
			calls:   append(made, names(acts.MigrateTenant)...),
		},
		{
			name: "register host", failing: "register_host",
			msg:     "host ada.tenantry.test is already taken",
			arrange: func(h *harness, err error) { h.failAt(acts.RegisterHost, err) },
			calls:   provisioned[:6],
		},
		{
			name: "open billing", failing: "open_billing",
			msg:     `crm has no module "invoices"`,
			arrange: func(h *harness, err error) { h.failAt(acts.OpenUsageSpans, err) },
			calls:   provisioned[:7],
		},
		{
			name: "mark ready", failing: "ready",
			msg:     "instance is no longer being provisioned",
			arrange: func(h *harness, err error) { h.failAt(acts.MarkReady, err) },
			calls:   provisioned,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			tc.arrange(h, domainErr(apperr.Conflict("%s", tc.msg)))
			h.stubEnable()
			setup := validSetup()

			h.env.ExecuteWorkflow(workflows.EnableService, enableInput(&setup))

			h.assertCompensated(t, tc.failing, tc.msg, tc.calls, start)
		})
	}
}

func TestEnableServiceSetupTimeout(t *testing.T) {
	h := newHarness(t)
	h.stubEnable()
	in := enableInput(nil)
	in.SetupTimeout = 2 * time.Hour

	h.env.ExecuteWorkflow(workflows.EnableService, in)

	const msg = "the setup page was not completed within 2h0m0s"
	h.assertCompensated(t, "setup", msg, provisioned[:4], start.Add(in.SetupTimeout))
	assert.Equal(t, apperr.KindInvalid, apperr.KindOf(h.env.GetWorkflowError()))
}

func TestEnableServiceCompensationFails(t *testing.T) {
	h := newHarness(t)
	const cause, dropFailed = "host ada.tenantry.test is already taken", "database server server-1 is not registered"
	h.failAt(acts.RegisterHost, domainErr(apperr.Conflict(cause)))
	h.failAt(acts.DropDatabase, domainErr(apperr.NotFound(dropFailed)))
	h.stubEnable()
	setup := validSetup()

	h.env.ExecuteWorkflow(workflows.EnableService, enableInput(&setup))

	require.True(t, h.env.IsWorkflowCompleted())
	assert.Equal(t, cause, apperr.Message(h.env.GetWorkflowError()), "the workflow fails with the cause")
	p := h.progress()
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Equal(t, cause, p.Error)
	assert.Equal(t, workflows.StepFailed, step(t, p, "compensate").State)
	assert.Equal(t, dropFailed, step(t, p, "compensate").Error)
	assert.Equal(t, map[string]workflows.StepState{
		"validate": workflows.StepDone, "create_database": workflows.StepDone, "setup": workflows.StepDone,
		"migrate_and_seed": workflows.StepDone, "register_host": workflows.StepFailed,
		"open_billing": workflows.StepSkipped, "ready": workflows.StepSkipped, "compensate": workflows.StepFailed,
	}, states(p), "nothing is reported compensated when compensation failed")
}

func TestEnableServiceRejectsSetupOnceFailed(t *testing.T) {
	h := newHarness(t)
	// Compensation takes a while; a setup arriving meanwhile must not be
	// accepted for an instance that will never be provisioned.
	h.takes(acts.DropDatabase, time.Minute)
	h.stubEnable()
	in := enableInput(nil)
	in.SetupTimeout = time.Hour
	var late *updateOutcome
	h.at(in.SetupTimeout+30*time.Second, func() { late = h.update(workflows.SetupUpdate, validSetup()) })

	h.env.ExecuteWorkflow(workflows.EnableService, in)

	require.Error(t, h.env.GetWorkflowError())
	require.NotNil(t, late, "the update was sent while compensation ran")
	late.assertRejected(t, apperr.KindConflict, "provisioning failed: the setup page was not completed within 1h0m0s")
}

func TestEnableServiceCancelledWhileWaitingForSetup(t *testing.T) {
	h := newHarness(t)
	h.stubEnable()
	h.at(time.Hour, h.env.CancelWorkflow)

	h.env.ExecuteWorkflow(workflows.EnableService, enableInput(nil))

	require.True(t, h.env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.ErrorAs(t, h.env.GetWorkflowError(), &canceled)
	assert.Equal(t, append(provisioned[:4:4], names(acts.DropDatabase, acts.FailInstance)...), h.called(),
		"compensation runs on a disconnected context")
	assert.Equal(t, activities.FailInstanceInput{InstanceID: instanceID, Reason: "provisioning was cancelled", At: start.Add(time.Hour)},
		input[activities.FailInstanceInput](h, acts.FailInstance))

	p := h.progress()
	assert.Equal(t, workflows.StatusCancelled, p.Status)
	assert.Equal(t, workflows.StepFailed, step(t, p, "setup").State)
	assert.Equal(t, workflows.StepDone, step(t, p, "compensate").State)
}

// assertCompensated checks a provisioning that failed at step failing with
// msg: the activities called before compensation, then DropDatabase and
// FailInstance with the reason at the given time, and the progress report.
func (h *harness) assertCompensated(t *testing.T, failing, msg string, calls []string, at time.Time) {
	t.Helper()
	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, msg, apperr.Message(err))

	want := append(append([]string{}, calls...), names(acts.DropDatabase, acts.FailInstance)...)
	assert.Equal(t, want, h.called())
	assert.Equal(t, ref, input[activities.InstanceRef](h, acts.DropDatabase))
	assert.Equal(t, activities.FailInstanceInput{InstanceID: instanceID, Reason: msg, At: at},
		input[activities.FailInstanceInput](h, acts.FailInstance))

	p := h.progress()
	assert.Equal(t, workflows.StatusFailed, p.Status)
	assert.Equal(t, msg, p.Error)
	failed := step(t, p, failing)
	assert.Equal(t, workflows.StepFailed, failed.State)
	assert.Equal(t, msg, failed.Error)
	assert.Equal(t, workflows.StepDone, step(t, p, "compensate").State)
	assert.Equal(t, "Remove what was created", step(t, p, "compensate").Title)

	wantStates := map[string]workflows.StepState{"compensate": workflows.StepDone}
	before := true
	for _, s := range enableSteps {
		switch {
		case s == failing:
			wantStates[s], before = workflows.StepFailed, false
		case before && s == "setup":
			wantStates[s] = workflows.StepDone // waiting made nothing to undo
		case before:
			wantStates[s] = workflows.StepCompensated
		default:
			wantStates[s] = workflows.StepSkipped
		}
	}
	assert.Equal(t, wantStates, states(p))
}

// A migration that cannot succeed fails the enable at once: the client
// reads the activity's sentence (the instance's reason, the progress), and
// operators the cause beside it, which the progress for clients leaves out.
func TestEnableServiceMigrationFailureKeepsItsCauseForOperators(t *testing.T) {
	const sentence = "forum 1.4.0 could not be installed on this instance's database: its migration failed on our side, and Tenantry's operators have been told"
	const cause = `migration 000002_x.up.sql of database tenant_ada failed: ERROR: relation "attachments" already exists (SQLSTATE 42P07)`
	h := newHarness(t)
	h.failAt(acts.MigrateTenant, apperr.ForTemporal(apperr.Failed(errors.New(cause), "%s", sentence)))
	h.stubEnable()
	setup := validSetup()

	h.env.ExecuteWorkflow(workflows.EnableService, enableInput(&setup))

	// One MigrateTenant call: final, not retried.
	h.assertCompensated(t, "migrate_and_seed", sentence, names(acts.ReserveInstance, acts.AllocateDatabase, acts.CreateRole, acts.CreateDatabase, acts.MigrateTenant), start)
	p := h.progress()
	assert.Equal(t, cause, p.Cause)
	assert.Equal(t, cause, step(t, p, "migrate_and_seed").Cause)
	clients := p.ForClients()
	assert.Empty(t, clients.Cause)
	assert.Empty(t, step(t, clients, "migrate_and_seed").Cause)
	assert.Equal(t, sentence, step(t, clients, "migrate_and_seed").Error)
	assert.Equal(t, cause, step(t, p, "migrate_and_seed").Cause, "ForClients leaves the progress it was called on alone")
}

// A failure of ours with no sentence of its own (a step's retries spent on
// an unexpected error) reads as one for the client, not "internal error";
// the cause is kept for operators.
func TestEnableServiceInternalFailureReadsAsASentence(t *testing.T) {
	h := newHarness(t)
	h.failAt(acts.RegisterHost, temporal.NewNonRetryableApplicationError("pq: connection reset by peer", "PgError", nil))
	h.stubEnable()
	setup := validSetup()

	h.env.ExecuteWorkflow(workflows.EnableService, enableInput(&setup))

	require.True(t, h.env.IsWorkflowCompleted())
	assert.Equal(t, "provisioning failed on our side, and Tenantry's operators have been told",
		input[activities.FailInstanceInput](h, acts.FailInstance).Reason)
	p := h.progress()
	assert.Equal(t, "failed on our side, and Tenantry's operators have been told", p.Error)
	assert.Equal(t, "failed on our side, and Tenantry's operators have been told", step(t, p, "register_host").Error)
	assert.Equal(t, "pq: connection reset by peer", step(t, p, "register_host").Cause)
}
