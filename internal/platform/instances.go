package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/workflowservice/v1"

	"tenantry/activities"
	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
	"tenantry/workflows"
)

// Instance is a service instance as clients see it.
type Instance struct {
	ID      string   `json:"id"`
	Service string   `json:"service"`
	Version string   `json:"version"`
	Modules []string `json:"modules"`
	Status  string   `json:"status"`
	// Maintenance: the instance is being upgraded; its host answers 503.
	Maintenance   bool       `json:"maintenance"`
	Host          string     `json:"host"`
	Routed        bool       `json:"routed"`
	Database      string     `json:"database,omitempty"`
	FailureReason string     `json:"failure_reason,omitempty"`
	DisabledAt    *time.Time `json:"disabled_at,omitempty"`
	DeleteAfter   *time.Time `json:"delete_after,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	// Workflows are this instance's operations, newest kind last, each
	// with its live progress.
	Workflows []InstanceWorkflow `json:"workflows,omitempty"`
	// Usage is this calendar month's metered usage (one instance).
	Usage *Usage `json:"usage,omitempty"`

	accountID string
}

// InstanceWorkflow is one of an instance's workflows with its progress.
type InstanceWorkflow struct {
	Kind       string              `json:"kind"`
	WorkflowID string              `json:"workflow_id"`
	Progress   *workflows.Progress `json:"progress,omitempty"`
}

// Kinds of an instance's workflows, as InstanceWorkflow.Kind names them.
const (
	KindEnable        = "enable"
	KindChangeModules = "change_modules"
	KindDisable       = "disable"
)

const instanceColumns = `id, account_id, service, version, modules, status, maintenance, host, host_registered_at IS NOT NULL,
	coalesce(database_name, ''), coalesce(failure_reason, ''), disabled_at, delete_after, created_at`

func scanInstance(row pgx.Row) (Instance, error) {
	var v Instance
	err := row.Scan(&v.ID, &v.accountID, &v.Service, &v.Version, &v.Modules, &v.Status, &v.Maintenance, &v.Host, &v.Routed,
		&v.Database, &v.FailureReason, &v.DisabledAt, &v.DeleteAfter, &v.CreatedAt)
	return v, err
}

// Instances lists the principal's account's live instances, newest first.
func (p *Platform) Instances(ctx context.Context, who Principal) ([]Instance, error) {
	if err := require(who, access.InstancesRead); err != nil {
		return nil, err
	}
	rows, err := p.DB.Query(ctx,
		`SELECT `+instanceColumns+` FROM instances WHERE account_id = $1 AND status <> 'deleted' ORDER BY created_at DESC`,
		who.AccountID)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Instance, error) { return scanInstance(r) })
	if list == nil {
		list = []Instance{}
	}
	return list, err
}

// ownInstance loads an instance of the principal's account after checking
// perm. Another account's instance is "not found", never "forbidden": its
// existence is not revealed.
func (p *Platform) ownInstance(ctx context.Context, who Principal, perm, id string) (Instance, error) {
	if err := require(who, perm); err != nil {
		return Instance{}, err
	}
	v, err := p.loadInstance(ctx, id)
	if err == nil && v.accountID != who.AccountID {
		err = apperr.NotFound("no instance %s", id)
	}
	return v, err
}

// loadInstance loads any account's instance.
func (p *Platform) loadInstance(ctx context.Context, id string) (Instance, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Instance{}, apperr.NotFound("no instance %s", id)
	}
	v, err := scanInstance(p.DB.QueryRow(ctx, `SELECT `+instanceColumns+` FROM instances WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, apperr.NotFound("no instance %s", id)
	}
	return v, err
}

// Instance loads one of the principal's account's instances, without its
// workflows.
func (p *Platform) Instance(ctx context.Context, who Principal, id string) (Instance, error) {
	return p.ownInstance(ctx, who, access.InstancesRead, id)
}

// InstanceWithProgress loads one of the principal's account's instances
// with every workflow's live progress (the console's page and its
// once-a-second fragment). The instance is read after its workflows
// answered, so a workflow that finished in between is not shown beside the
// state before it.
func (p *Platform) InstanceWithProgress(ctx context.Context, who Principal, id string) (Instance, error) {
	if _, err := p.ownInstance(ctx, who, access.InstancesRead, id); err != nil {
		return Instance{}, err
	}
	flows := p.instanceWorkflows(ctx, id)
	v, err := p.ownInstance(ctx, who, access.InstancesRead, id)
	v.Workflows = flows
	return v, err
}

// InstanceDetail is InstanceWithProgress plus this month's usage (the
// API's answer for one instance).
func (p *Platform) InstanceDetail(ctx context.Context, who Principal, id string) (Instance, error) {
	v, err := p.InstanceWithProgress(ctx, who, id)
	if err != nil {
		return v, err
	}
	v.Usage, err = p.monthUsage(ctx, v.ID)
	return v, err
}

// SetupInput is the setup page: the service's admin user and language.
type SetupInput struct {
	AdminEmail    string `json:"admin_email"`
	AdminName     string `json:"admin_name"`
	AdminPassword string `json:"admin_password"`
	Language      string `json:"language"`
}

// toSetup checks a setup page and hashes its password, so only the hash
// travels into the workflow.
func (r SetupInput) toSetup() (activities.Setup, error) {
	setup := activities.Setup{AdminEmail: r.AdminEmail, AdminName: r.AdminName, Language: r.Language}
	if err := setup.CheckDetails(); err != nil {
		return setup, err
	}
	if err := validate.Password(r.AdminPassword); err != nil {
		return setup, apperr.Invalid("admin %s", apperr.Message(err))
	}
	setup.AdminPasswordHash = secret.HashPassword(r.AdminPassword)
	return setup, nil
}

// EnableInput asks for a new instance of a service.
type EnableInput struct {
	Service string      `json:"service"`
	Modules []string    `json:"modules"`
	Host    string      `json:"host"`
	Setup   *SetupInput `json:"setup,omitempty"`
}

// Enable checks an enable request, then starts EnableService; it returns
// the new instance once the workflow has reserved the host, or the reason
// it was refused.
func (p *Platform) Enable(ctx context.Context, who Principal, req EnableInput) (Instance, error) {
	return p.enable(ctx, who, req, uuid.NewString())
}

// enable is Enable of a new instance whose id the caller chose.
func (p *Platform) enable(ctx context.Context, who Principal, req EnableInput, instanceID string) (Instance, error) {
	if err := require(who, access.InstancesManage); err != nil {
		return Instance{}, err
	}
	if err := required("service", req.Service); err != nil {
		return Instance{}, err
	}
	if err := required("host", req.Host); err != nil {
		return Instance{}, err
	}
	in := workflows.EnableInput{
		InstanceID: instanceID, AccountID: who.AccountID, ActorID: who.UserID,
		Service: req.Service, Modules: req.Modules, Host: req.Host, SetupTimeout: p.SetupTimeout,
	}
	// Answer bad input before starting anything.
	if _, err := controldb.CheckEnable(ctx, p.DB, p.Catalog, controldb.EnableRequest{
		InstanceID: in.InstanceID, Service: in.Service, Modules: in.Modules, Host: in.Host,
	}); err != nil {
		return Instance{}, err
	}
	if req.Setup != nil {
		setup, err := req.Setup.toSetup()
		if err != nil {
			return Instance{}, err
		}
		in.Setup = &setup
	}
	if _, err := workflows.StartEnable(ctx, p.Temporal, in); err != nil {
		return Instance{}, err
	}
	v, err := p.ownInstance(ctx, who, access.InstancesRead, in.InstanceID)
	v.Workflows = []InstanceWorkflow{{Kind: KindEnable, WorkflowID: workflows.EnableID(in.InstanceID)}}
	return v, err
}

// Setup sends the setup page to the instance's provisioning. The
// workflow's validator has the last word; its message reaches the client.
func (p *Platform) Setup(ctx context.Context, who Principal, id string, req SetupInput) error {
	v, err := p.ownInstance(ctx, who, access.InstancesManage, id)
	if err != nil {
		return err
	}
	setup, err := req.toSetup()
	if err != nil {
		return err
	}
	return workflows.SendSetup(ctx, p.Temporal, v.ID, setup)
}

// ChangeModules checks the new module set and starts ChangeModules.
func (p *Platform) ChangeModules(ctx context.Context, who Principal, id string, modules []string) (controldb.ModuleChange, error) {
	v, err := p.ownInstance(ctx, who, access.InstancesManage, id)
	if err != nil {
		return controldb.ModuleChange{}, err
	}
	change, err := controldb.CheckModuleChange(ctx, p.DB, p.Catalog, v.ID, modules)
	if err != nil {
		return change, err
	}
	if len(change.Added) == 0 && len(change.Removed) == 0 {
		return change, apperr.Invalid("the instance already has exactly these modules")
	}
	return change, workflows.StartChangeModules(ctx, p.Temporal, workflows.ChangeModulesInput{
		InstanceID: v.ID, AccountID: who.AccountID, Service: v.Service, ActorID: who.UserID, Modules: change.Modules})
}

// Grace is how long a disabled instance's data is kept.
func (p *Platform) Grace() time.Duration {
	if p.GracePeriod > 0 {
		return p.GracePeriod
	}
	return workflows.DefaultGracePeriod
}

// Disabled says how long a disabled instance's data is kept.
type Disabled struct {
	GracePeriod   time.Duration
	DataKeptUntil time.Time
}

// Disable starts DisableService: the host goes offline and billing stops
// now; the data is kept for the grace period.
func (p *Platform) Disable(ctx context.Context, who Principal, id string) (Disabled, error) {
	v, err := p.ownInstance(ctx, who, access.InstancesManage, id)
	if err != nil {
		return Disabled{}, err
	}
	if v.Status != "ready" {
		return Disabled{}, apperr.Conflict("only a ready instance can be disabled (it is %s)", v.Status)
	}
	if v.Maintenance {
		return Disabled{}, apperr.Conflict("the instance is being upgraded: disable it once that is done")
	}
	grace := p.Grace()
	err = workflows.StartDisable(ctx, p.Temporal, workflows.DisableInput{
		InstanceID: v.ID, AccountID: who.AccountID, Service: v.Service, ActorID: who.UserID, GracePeriod: grace})
	return Disabled{GracePeriod: grace, DataKeptUntil: p.Clock().Add(grace).UTC()}, err
}

// Reenable brings a disabled instance back within its grace period.
func (p *Platform) Reenable(ctx context.Context, who Principal, id string) error {
	v, err := p.ownInstance(ctx, who, access.InstancesManage, id)
	if err != nil {
		return err
	}
	if v.Status != "disabled" {
		return apperr.Conflict("only a disabled instance can be enabled again (it is %s)", v.Status)
	}
	return workflows.Reenable(ctx, p.Temporal, v.ID, workflows.ReenableRequest{ActorID: who.UserID})
}

// SetExpiry gives an instance an end (a trial, a prepaid term), moves it or
// removes it (nil), and wakes the watch that warns before it and disables
// at it.
func (p *Platform) SetExpiry(ctx context.Context, who Principal, id string, expiresAt *time.Time) error {
	v, err := p.ownInstance(ctx, who, access.InstancesManage, id)
	if err != nil {
		return err
	}
	if err := controldb.SetInstanceExpiry(ctx, p.DB, controldb.ExpiryChange{InstanceID: v.ID, ActorID: who.UserID, ExpiresAt: expiresAt},
		p.Clock()); err != nil {
		return err
	}
	if expiresAt == nil {
		// A running watch re-reads, finds no end and stops; none running is
		// fine, and one that missed the signal re-reads before it disables.
		if err := workflows.ExpiryChanged(ctx, p.Temporal, v.ID); err != nil {
			p.Log.Warn("wake expiry watch", "instance", v.ID, "err", err)
		}
		return nil
	}
	return workflows.WatchExpiry(ctx, p.Temporal, workflows.ExpiryInput{InstanceID: v.ID, AccountID: v.accountID, Service: v.Service,
		Warning: activities.ExpiryWarning, GracePeriod: p.GracePeriod})
}

// Upgrade is an upgrade that has started.
type Upgrade struct {
	WorkflowID string
	Plan       controldb.UpgradePlan
}

// UpgradeInstance moves any account's instance to a newer service version
// (developers only; an account moves its own to the catalog's current
// version with BrokerUpdate).
func (p *Platform) UpgradeInstance(ctx context.Context, who Principal, id, version string) (Upgrade, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return Upgrade{}, err
	}
	if err := required("version", version); err != nil {
		return Upgrade{}, err
	}
	v, err := p.loadInstance(ctx, id)
	if err != nil {
		return Upgrade{}, err
	}
	return p.startUpgrade(ctx, who, v, version)
}

// startUpgrade checks an upgrade of an instance the caller may upgrade as
// the workflow will, refuses a second upgrade of the same instance, then
// starts UpgradeInstance.
func (p *Platform) startUpgrade(ctx context.Context, who Principal, v Instance, version string) (Upgrade, error) {
	if rollout, owned, err := controldb.RolloutOwning(ctx, p.DB, v.ID); err != nil {
		return Upgrade{}, err
	} else if owned {
		return Upgrade{}, apperr.Conflict("the rollout %s owns this instance: it upgrades it (abort the rollout to upgrade it alone)", rollout)
	}
	plan, err := controldb.CheckUpgrade(ctx, p.DB, p.Catalog, v.ID, version)
	if err != nil {
		return Upgrade{Plan: plan}, err
	}
	if plan.Current {
		return Upgrade{Plan: plan}, apperr.Invalid("the instance already runs %s %s", plan.Service, plan.Version)
	}
	// Each target version has its own workflow ID, so an upgrade to another
	// version is found by its flag and by visibility.
	if v.Maintenance {
		return Upgrade{Plan: plan}, apperr.Conflict("the instance is in maintenance: an upgrade is already running")
	}
	running, err := p.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1,
		Query: fmt.Sprintf("WorkflowType = 'UpgradeInstance' AND InstanceId = '%s' AND ExecutionStatus = 'Running'", v.ID)})
	if err != nil {
		return Upgrade{Plan: plan}, err
	}
	if len(running.GetExecutions()) > 0 {
		return Upgrade{Plan: plan}, apperr.Conflict("an upgrade of this instance is already running (%s)",
			running.GetExecutions()[0].GetExecution().GetWorkflowId())
	}
	wid, err := workflows.StartUpgrade(ctx, p.Temporal, workflows.UpgradeInput{
		InstanceID: v.ID, AccountID: v.accountID, Service: plan.Service, ActorID: who.UserID, Version: version,
	})
	return Upgrade{WorkflowID: wid, Plan: plan}, err
}

func required(field, value string) error {
	if value == "" {
		return apperr.Invalid("%s is required", field)
	}
	return nil
}
