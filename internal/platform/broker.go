package platform

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/internal/validate"
	"tenantry/workflows"
)

// The Open Service Broker API's rules (web/broker translates HTTP): a
// platform provisions, updates, deprovisions, binds and unbinds Tenantry
// instances for the account whose broker credentials it signs in with.
//
// Mapping: every service is one service offering with one plan,
// "standard"; modules are chosen in the parameters, described by a JSON
// schema, because they combine freely and are billed one by one (a plan
// per combination would be 2^n plans). The plan's maintenance_info.version
// is the service's current version, the one a new instance gets; an update
// carrying it moves an older instance there through UpgradeInstance.

// BrokerMinAPIVersion is the oldest X-Broker-API-Version served.
const BrokerMinAPIVersion = "2.14"

// BrokerPlanName is each service's one plan.
const BrokerPlanName = "standard"

// OSB last-operation states.
const (
	BrokerInProgress = "in progress"
	BrokerSucceeded  = "succeeded"
	BrokerFailed     = "failed"
)

// Broker operations, as the last operation of an instance records them.
const (
	brokerOpProvision   = "provision"
	brokerOpModules     = "modules"
	brokerOpUpgrade     = "upgrade/" // + version
	brokerOpDeprovision = "deprovision"
)

// BrokerFailure is an OSB error the spec gives a status and maybe a code
// of its own; web/broker maps Kind to the status.
type BrokerFailure struct {
	Kind BrokerFailureKind
	// Code is the spec's error code (AsyncRequired, ConcurrencyError,
	// MaintenanceInfoConflict), or empty.
	Code    string
	Message string
}

// BrokerFailureKind is the kind of an OSB error.
type BrokerFailureKind string

const (
	BrokerMalformed     BrokerFailureKind = "malformed"     // 400
	BrokerConflict      BrokerFailureKind = "conflict"      // 409: the id exists with other attributes
	BrokerGone          BrokerFailureKind = "gone"          // 410
	BrokerUnprocessable BrokerFailureKind = "unprocessable" // 422
	BrokerNotFound      BrokerFailureKind = "not_found"     // 404
)

func (e *BrokerFailure) Error() string { return e.Message }

// Unwrap is the domain error the failure is, so other front ends and
// apperr.KindOf read it too: gone and not found are not found, a conflict
// a conflict, the rest invalid.
func (e *BrokerFailure) Unwrap() error {
	switch e.Kind {
	case BrokerGone, BrokerNotFound:
		return apperr.NotFound("%s", e.Message)
	case BrokerConflict:
		return apperr.Conflict("%s", e.Message)
	}
	return apperr.Invalid("%s", e.Message)
}

func brokerFail(kind BrokerFailureKind, code, format string, args ...any) error {
	return &BrokerFailure{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// brokerConcurrency is the answer to a request while another operation on
// the instance runs.
func brokerConcurrency(format string, args ...any) error {
	return brokerFail(BrokerUnprocessable, "ConcurrencyError", format, args...)
}

// BrokerOffering is a service offering of the catalog, in the OSB shape.
type BrokerOffering struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	Description          string         `json:"description"`
	Tags                 []string       `json:"tags"`
	Bindable             bool           `json:"bindable"`
	InstancesRetrievable bool           `json:"instances_retrievable"`
	BindingsRetrievable  bool           `json:"bindings_retrievable"`
	PlanUpdateable       bool           `json:"plan_updateable"`
	Metadata             map[string]any `json:"metadata"`
	Plans                []BrokerPlan   `json:"plans"`
}

// BrokerPlan is an offering's plan.
type BrokerPlan struct {
	ID              string                `json:"id"`
	Name            string                `json:"name"`
	Description     string                `json:"description"`
	Free            bool                  `json:"free"`
	Bindable        bool                  `json:"bindable"`
	PlanUpdateable  bool                  `json:"plan_updateable"`
	Metadata        map[string]any        `json:"metadata"`
	Schemas         map[string]any        `json:"schemas"`
	MaintenanceInfo BrokerMaintenanceInfo `json:"maintenance_info"`
}

// BrokerMaintenanceInfo carries a service version.
type BrokerMaintenanceInfo struct {
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

// brokerIDs are the stable ids of a service's offering and plan: derived
// from the names, so every process and every release says the same.
func brokerServiceID(service string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("tenantry:osb:service:"+service)).String()
}

func brokerPlanID(service string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("tenantry:osb:plan:"+service+":"+BrokerPlanName)).String()
}

// BrokerCatalog is the catalog in the OSB shape; the front end answers it
// to any authenticated platform. Each plan's maintenance_info.version is
// the version a new instance gets (NewInstanceVersions).
func (p *Platform) BrokerCatalog(ctx context.Context) ([]BrokerOffering, error) {
	versions, err := p.NewInstanceVersions(ctx)
	if err != nil {
		return nil, err
	}
	out := []BrokerOffering{}
	now := p.Clock()
	for _, name := range p.Catalog.Names() {
		svc, _ := p.Catalog.Service(name)
		var modules, bullets []string
		for _, m := range svc.Modules {
			modules = append(modules, m.Name)
			price, _ := m.PriceAt(now)
			b := fmt.Sprintf("%s: %s %s/h", m.Name, billing.Money(price), svc.Currency)
			if m.Required {
				b += " (always included)"
			}
			bullets = append(bullets, b)
		}
		out = append(out, BrokerOffering{
			ID: brokerServiceID(name), Name: name, Description: svc.Description, Tags: []string{"tenantry", "postgresql", name},
			Bindable: true, InstancesRetrievable: true, BindingsRetrievable: true, PlanUpdateable: false,
			Metadata: map[string]any{"displayName": "Tenantry " + name, "providerDisplayName": "Tenantry"},
			Plans: []BrokerPlan{{
				ID: brokerPlanID(name), Name: BrokerPlanName, Bindable: true, PlanUpdateable: false,
				Description: "Billed by the hour per module; choose the modules in the parameters (core is always included).",
				Metadata:    map[string]any{"bullets": bullets, "currency": svc.Currency},
				Schemas:     brokerSchemas(modules),
				MaintenanceInfo: BrokerMaintenanceInfo{Version: versions[name],
					Description: name + " " + versions[name] + ": updating to it migrates the instance's database under maintenance"},
			}},
		})
	}
	return out, nil
}

// brokerSchemas describes the parameters (JSON Schema draft 4).
func brokerSchemas(modules []string) map[string]any {
	const draft = "http://json-schema.org/draft-04/schema#"
	mods := map[string]any{"type": "array", "uniqueItems": true, "items": map[string]any{"type": "string", "enum": modules},
		"description": "The modules to enable besides core (each billed by the hour)"}
	setup := map[string]any{"type": "object", "additionalProperties": false,
		"description": "The setup page's answers; without them provisioning waits for the setup page (the dashboard)",
		"required":    []string{"admin_email", "admin_name", "admin_password", "language"},
		"properties": map[string]any{
			"admin_email":    map[string]any{"type": "string", "format": "email"},
			"admin_name":     map[string]any{"type": "string", "minLength": 1},
			"admin_password": map[string]any{"type": "string", "minLength": 10, "maxLength": 256},
			"language":       map[string]any{"type": "string", "enum": validate.Languages},
		}}
	return map[string]any{
		"service_instance": map[string]any{
			"create": map[string]any{"parameters": map[string]any{"$schema": draft, "type": "object", "additionalProperties": false,
				"required": []string{"host"},
				"properties": map[string]any{
					"host":    map[string]any{"type": "string", "description": "The host the instance answers at, e.g. acme-forum.example.com"},
					"modules": mods, "setup": setup,
				}}},
			"update": map[string]any{"parameters": map[string]any{"$schema": draft, "type": "object", "additionalProperties": false,
				"properties": map[string]any{"modules": mods}}},
		},
		"service_binding": map[string]any{
			"create": map[string]any{"parameters": map[string]any{"$schema": draft, "type": "object", "additionalProperties": false,
				"properties": map[string]any{}}},
		},
	}
}

// brokerService finds the service an offering and plan id name.
func (p *Platform) brokerService(serviceID, planID string) (*catalog.Service, error) {
	if serviceID == "" || planID == "" {
		return nil, brokerFail(BrokerMalformed, "", "service_id and plan_id are required")
	}
	for _, name := range p.Catalog.Names() {
		if brokerServiceID(name) == serviceID {
			svc, _ := p.Catalog.Service(name)
			if planID != brokerPlanID(name) {
				return nil, brokerFail(BrokerMalformed, "", "plan %s is not a plan of %s", planID, name)
			}
			return svc, nil
		}
	}
	return nil, brokerFail(BrokerMalformed, "", "no service offering %s in the catalog", serviceID)
}

// BrokerOrigin is who on the platform asked (the
// X-Broker-API-Originating-Identity header), recorded in the audit log.
type BrokerOrigin struct {
	Identity string
}

// detail decodes "platform base64(json)"; a malformed one is refused.
func (o BrokerOrigin) detail() (map[string]string, error) {
	if o.Identity == "" {
		return map[string]string{}, nil
	}
	plat, value, ok := strings.Cut(strings.TrimSpace(o.Identity), " ")
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if !ok || plat == "" || err != nil || !json.Valid(raw) {
		return nil, brokerFail(BrokerMalformed, "", "X-Broker-API-Originating-Identity must be \"<platform> <base64 of a JSON object>\"")
	}
	return map[string]string{"originating_platform": plat, "originating_identity": string(raw)}, nil
}

// brokerRequire refuses a change the principal may not make, or whose
// originating identity is malformed, before anything is written.
func brokerRequire(who Principal, o BrokerOrigin) error {
	if err := require(who, access.InstancesManage); err != nil {
		return err
	}
	_, err := o.detail()
	return err
}

// brokerAudit records a broker operation in the account's timeline.
func (p *Platform) brokerAudit(ctx context.Context, who Principal, action, instanceID string, o BrokerOrigin, more map[string]string) error {
	detail, err := o.detail()
	if err != nil {
		return err
	}
	for k, v := range more {
		detail[k] = v
	}
	return p.audit(ctx, who, "broker."+action, "instance", instanceID, detail)
}

// BrokerInstanceInput is a provision or update request (an update's
// Parameters are nil when absent, its PlanID empty when unchanged).
type BrokerInstanceInput struct {
	InstanceID string // the platform's
	ServiceID  string
	PlanID     string
	Parameters json.RawMessage
	// MaintenanceVersion is maintenance_info.version, when sent.
	MaintenanceVersion string
	Origin             BrokerOrigin
	// ConsoleURL is the console's base URL, for dashboard_url.
	ConsoleURL string
}

// BrokerReply is the answer to a provision, update or deprovision: done
// already, or accepted with the operation to poll.
type BrokerReply struct {
	Accepted     bool
	Operation    string
	DashboardURL string
}

// brokerParams are a provision's parameters.
type brokerParams struct {
	Host    string      `json:"host"`
	Modules []string    `json:"modules,omitempty"`
	Setup   *SetupInput `json:"setup,omitempty"`
}

// stored is what is kept of the parameters: no password.
func (b brokerParams) stored() brokerParams {
	if b.Setup != nil {
		s := *b.Setup
		s.AdminPassword = ""
		b.Setup = &s
	}
	return b
}

func decodeStrict(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return brokerFail(BrokerMalformed, "", "parameters: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// brokerRow is a platform's instance as the broker keeps it.
type brokerRow struct {
	osbID, instanceID, accountID, serviceID, planID, operation string
	params                                                     brokerParams
}

func (p *Platform) loadBrokerRow(ctx context.Context, q controldb.Querier, osbID string) (brokerRow, bool, error) {
	var r brokerRow
	var raw []byte
	err := q.QueryRow(ctx, `SELECT osb_id, instance_id::text, account_id::text, service_id, plan_id, operation, parameters
		FROM broker_instances WHERE osb_id = $1`, osbID).
		Scan(&r.osbID, &r.instanceID, &r.accountID, &r.serviceID, &r.planID, &r.operation, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err == nil {
		err = json.Unmarshal(raw, &r.params)
	}
	return r, err == nil, err
}

// ownBrokerRow loads the principal's account's instance by its platform
// id; another account's is as unknown as one that never was.
func (p *Platform) ownBrokerRow(ctx context.Context, who Principal, osbID string) (brokerRow, bool, error) {
	r, ok, err := p.loadBrokerRow(ctx, p.DB, osbID)
	if ok && r.accountID != who.AccountID {
		return brokerRow{}, false, nil
	}
	return r, ok, err
}

// brokerInstance is the Tenantry instance of a row; one EnableService has
// not recorded yet is provisioning.
func (p *Platform) brokerInstance(ctx context.Context, r brokerRow) (Instance, error) {
	v, err := p.loadInstance(ctx, r.instanceID)
	if apperr.KindOf(err) == apperr.KindNotFound {
		return Instance{ID: r.instanceID, Status: "provisioning", Host: r.params.Host}, nil
	}
	return v, err
}

func dashboardURL(base, instanceID string) string {
	return strings.TrimRight(base, "/") + "/instances/" + instanceID
}

// checkIDs refuses a request whose service_id and plan_id are not the
// instance's.
func (r brokerRow) checkIDs(serviceID, planID string) error {
	if serviceID == "" || planID == "" {
		return brokerFail(BrokerMalformed, "", "service_id and plan_id are required")
	}
	if serviceID != r.serviceID || planID != r.planID {
		return brokerFail(BrokerMalformed, "", "service_id and plan_id must be the instance's")
	}
	return nil
}

// gone says whether the platform's instance was deprovisioned.
func (r brokerRow) gone(v Instance) bool {
	return r.operation == brokerOpDeprovision && (v.Status == "disabled" || v.Status == "deleted" || v.Status == "failed")
}

// BrokerProvision provisions a service instance for the platform through
// EnableService. The same request again answers 202 while it runs and 200
// once it is ready; the same id with other attributes is a conflict.
func (p *Platform) BrokerProvision(ctx context.Context, who Principal, in BrokerInstanceInput) (BrokerReply, error) {
	if err := brokerRequire(who, in.Origin); err != nil {
		return BrokerReply{}, err
	}
	if in.InstanceID == "" || len(in.InstanceID) > 200 {
		return BrokerReply{}, brokerFail(BrokerMalformed, "", "instance_id must be 1 to 200 characters")
	}
	svc, err := p.brokerService(in.ServiceID, in.PlanID)
	if err != nil {
		return BrokerReply{}, err
	}
	if err := p.checkMaintenanceVersion(ctx, svc, in.MaintenanceVersion); err != nil {
		return BrokerReply{}, err
	}
	var params brokerParams
	if err := decodeStrict(in.Parameters, &params); err != nil {
		return BrokerReply{}, err
	}
	if params.Host == "" {
		return BrokerReply{}, brokerFail(BrokerMalformed, "", "parameters.host is required: the host the instance answers at")
	}
	if r, ok, err := p.loadBrokerRow(ctx, p.DB, in.InstanceID); err != nil || ok {
		if err != nil {
			return BrokerReply{}, err
		}
		return p.reprovision(ctx, who, r, in, params)
	}
	instanceID := uuid.NewString()
	req := EnableInput{Service: svc.Name, Modules: params.Modules, Host: params.Host, Setup: params.Setup}
	stored, _ := json.Marshal(params.stored())
	// The mapping first, so the instance is never without it; a refusal
	// removes it again.
	tag, err := p.DB.Exec(ctx, `INSERT INTO broker_instances (osb_id, instance_id, account_id, service_id, plan_id, parameters, operation)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (osb_id) DO NOTHING`,
		in.InstanceID, instanceID, who.AccountID, in.ServiceID, in.PlanID, stored, brokerOpProvision)
	if err != nil {
		return BrokerReply{}, err
	}
	if tag.RowsAffected() == 0 { // the same request, at the same time
		r, _, err := p.loadBrokerRow(ctx, p.DB, in.InstanceID)
		if err != nil {
			return BrokerReply{}, err
		}
		return p.reprovision(ctx, who, r, in, params)
	}
	if _, err := p.enable(ctx, who, req, instanceID); err != nil {
		switch apperr.KindOf(err) {
		case apperr.KindInvalid, apperr.KindConflict:
			// Refused before anything started: as if never asked.
			if _, derr := p.DB.Exec(ctx, `DELETE FROM broker_instances WHERE osb_id = $1`, in.InstanceID); derr != nil {
				return BrokerReply{}, derr
			}
			return BrokerReply{}, brokerFail(BrokerMalformed, "", "%s", apperr.Message(err))
		case apperr.KindNotFound: // the workflow has not recorded the instance yet
		default:
			// The workflow may have started: the mapping stays, so the
			// platform's deprovision (its orphan mitigation) finds it.
			return BrokerReply{}, err
		}
	}
	return BrokerReply{Accepted: true, Operation: brokerOpProvision, DashboardURL: dashboardURL(in.ConsoleURL, instanceID)},
		p.brokerAudit(ctx, who, "provision", instanceID, in.Origin, map[string]string{"osb_instance_id": in.InstanceID})
}

// reprovision answers a provision of an id that exists.
func (p *Platform) reprovision(ctx context.Context, who Principal, r brokerRow, in BrokerInstanceInput, params brokerParams) (BrokerReply, error) {
	same := r.accountID == who.AccountID && r.serviceID == in.ServiceID && r.planID == in.PlanID
	if same {
		a, _ := json.Marshal(r.params)
		b, _ := json.Marshal(params.stored())
		same = string(a) == string(b)
	}
	if !same {
		return BrokerReply{}, brokerFail(BrokerConflict, "", "service instance %s exists already with other attributes", in.InstanceID)
	}
	v, err := p.brokerInstance(ctx, r)
	if err != nil {
		return BrokerReply{}, err
	}
	dash := dashboardURL(in.ConsoleURL, r.instanceID)
	switch {
	case r.gone(v):
		return BrokerReply{}, brokerFail(BrokerConflict, "", "service instance %s was deprovisioned: use a new id", in.InstanceID)
	case v.Status == "provisioning" || v.Status == "failed":
		return BrokerReply{Accepted: true, Operation: brokerOpProvision, DashboardURL: dash}, nil
	}
	return BrokerReply{DashboardURL: dash}, nil
}

// BrokerUpdate changes the modules (parameters.modules, through
// ChangeModules) or moves the instance to the catalog's version
// (maintenance_info, through UpgradeInstance), one at a time. The account
// moves its own instance only to the version the catalog offers now:
// instances.manage is what it needs, as for every other change. The same
// request again answers 202 while it runs and 200 once it is done.
func (p *Platform) BrokerUpdate(ctx context.Context, who Principal, in BrokerInstanceInput) (BrokerReply, error) {
	if err := brokerRequire(who, in.Origin); err != nil {
		return BrokerReply{}, err
	}
	r, ok, err := p.ownBrokerRow(ctx, who, in.InstanceID)
	if err != nil {
		return BrokerReply{}, err
	}
	if !ok {
		return BrokerReply{}, brokerFail(BrokerNotFound, "", "no service instance %s", in.InstanceID)
	}
	if in.ServiceID != r.serviceID {
		return BrokerReply{}, brokerFail(BrokerMalformed, "", "service_id must be the instance's, %s", r.serviceID)
	}
	if in.PlanID != "" && in.PlanID != r.planID {
		return BrokerReply{}, brokerFail(BrokerUnprocessable, "", "plan changes are not supported: each service has one plan; change modules in the parameters")
	}
	svc, err := p.brokerService(r.serviceID, r.planID)
	if err != nil {
		return BrokerReply{}, err
	}
	if err := p.checkMaintenanceVersion(ctx, svc, in.MaintenanceVersion); err != nil {
		return BrokerReply{}, err
	}
	var params struct {
		Modules *[]string `json:"modules"`
	}
	if err := decodeStrict(in.Parameters, &params); err != nil {
		return BrokerReply{}, err
	}
	v, err := p.brokerInstance(ctx, r)
	if err != nil {
		return BrokerReply{}, err
	}
	if r.gone(v) || r.operation == brokerOpDeprovision {
		return BrokerReply{}, brokerFail(BrokerUnprocessable, "", "service instance %s is being deprovisioned", in.InstanceID)
	}
	dash := dashboardURL(in.ConsoleURL, r.instanceID)
	upgrade := in.MaintenanceVersion != "" && in.MaintenanceVersion != v.Version
	var wanted []string
	if params.Modules != nil {
		if wanted, err = svc.ResolveModules(v.Version, *params.Modules); err != nil {
			return BrokerReply{}, brokerFail(BrokerUnprocessable, "", "%s", apperr.Message(err))
		}
	}
	// The same request as the one running: still accepted.
	if state, _, err := p.brokerOpState(ctx, r, v, r.operation); err != nil {
		return BrokerReply{}, err
	} else if state == BrokerInProgress {
		sameUpgrade := upgrade && r.operation == brokerOpUpgrade+in.MaintenanceVersion
		sameModules := !upgrade && wanted != nil && r.operation == brokerOpModules && slices.Equal(wanted, r.params.Modules)
		if sameUpgrade || sameModules {
			return BrokerReply{Accepted: true, Operation: r.operation, DashboardURL: dash}, nil
		}
		return BrokerReply{}, brokerConcurrency("another operation on this instance is in progress (%s)", r.operation)
	}
	if v.Status != "ready" {
		return BrokerReply{}, brokerConcurrency("the instance is %s: it can change once it is ready", v.Status)
	}
	var changed bool
	if wanted != nil {
		change := controldb.DiffModules(v.Modules, wanted)
		changed = len(change.Added)+len(change.Removed) > 0
	}
	switch {
	case upgrade && changed:
		return BrokerReply{}, brokerFail(BrokerUnprocessable, "", "change the modules and the version in two updates, one after the other")
	case upgrade:
		if _, err := p.startUpgrade(ctx, who, v, in.MaintenanceVersion); err != nil {
			return BrokerReply{}, brokerError(err)
		}
		return p.brokerStarted(ctx, who, r, in, brokerOpUpgrade+in.MaintenanceVersion, nil, dash)
	case changed:
		if _, err := p.ChangeModules(ctx, who, v.ID, wanted); err != nil {
			return BrokerReply{}, brokerError(err)
		}
		return p.brokerStarted(ctx, who, r, in, brokerOpModules, wanted, dash)
	}
	// Nothing to change: done.
	return BrokerReply{DashboardURL: dash}, nil
}

// brokerError turns a refusal of the operation behind a broker request
// into the broker's answer: a conflict is another operation running.
func brokerError(err error) error {
	switch apperr.KindOf(err) {
	case apperr.KindConflict:
		return brokerConcurrency("%s", apperr.Message(err))
	case apperr.KindInvalid:
		return brokerFail(BrokerUnprocessable, "", "%s", apperr.Message(err))
	}
	return err
}

// brokerStarted records the operation an update started and answers 202.
func (p *Platform) brokerStarted(ctx context.Context, who Principal, r brokerRow, in BrokerInstanceInput, op string, modules []string,
	dash string) (BrokerReply, error) {
	params := r.params
	if modules != nil {
		params.Modules = modules
	}
	stored, _ := json.Marshal(params)
	if _, err := p.DB.Exec(ctx, `UPDATE broker_instances SET operation = $2, parameters = $3, updated_at = now() WHERE osb_id = $1`,
		r.osbID, op, stored); err != nil {
		return BrokerReply{}, err
	}
	return BrokerReply{Accepted: true, Operation: op, DashboardURL: dash},
		p.brokerAudit(ctx, who, "update", r.instanceID, in.Origin, map[string]string{"osb_instance_id": r.osbID, "operation": op})
}

// BrokerDeprovisionInput is a deprovision request.
type BrokerDeprovisionInput struct {
	InstanceID string
	ServiceID  string
	PlanID     string
	Origin     BrokerOrigin
}

// BrokerDeprovision disables the instance through DisableService: its
// host goes offline and billing stops at once; the data is kept for the
// grace period, then dropped. An unknown (or already deprovisioned)
// instance is gone; one whose provisioning failed is forgotten at once.
func (p *Platform) BrokerDeprovision(ctx context.Context, who Principal, in BrokerDeprovisionInput) (BrokerReply, error) {
	if err := brokerRequire(who, in.Origin); err != nil {
		return BrokerReply{}, err
	}
	if in.ServiceID == "" || in.PlanID == "" {
		return BrokerReply{}, brokerFail(BrokerMalformed, "", "service_id and plan_id are required")
	}
	r, ok, err := p.ownBrokerRow(ctx, who, in.InstanceID)
	if err != nil {
		return BrokerReply{}, err
	}
	if !ok {
		return BrokerReply{}, brokerFail(BrokerGone, "", "no service instance %s", in.InstanceID)
	}
	if err := r.checkIDs(in.ServiceID, in.PlanID); err != nil {
		return BrokerReply{}, err
	}
	v, err := p.brokerInstance(ctx, r)
	if err != nil {
		return BrokerReply{}, err
	}
	if r.gone(v) {
		return BrokerReply{}, brokerFail(BrokerGone, "", "service instance %s was deprovisioned", in.InstanceID)
	}
	if r.operation == brokerOpDeprovision {
		return BrokerReply{Accepted: true, Operation: brokerOpDeprovision}, nil
	}
	if r.operation != brokerOpProvision {
		if state, _, err := p.brokerOpState(ctx, r, v, r.operation); err != nil {
			return BrokerReply{}, err
		} else if state == BrokerInProgress {
			return BrokerReply{}, brokerConcurrency("an update of the instance is in progress (%s): deprovision it once that has ended", r.operation)
		}
	}
	var bindings int
	if err := p.DB.QueryRow(ctx, `SELECT count(*) FROM broker_bindings WHERE instance_osb_id = $1 AND state <> 'unbound'`, r.osbID).
		Scan(&bindings); err != nil {
		return BrokerReply{}, err
	}
	if bindings > 0 {
		return BrokerReply{}, brokerFail(BrokerUnprocessable, "", "the instance still has %d binding(s): unbind them first", bindings)
	}
	mark := func() error {
		_, err := p.DB.Exec(ctx, `UPDATE broker_instances SET operation = $2, updated_at = now() WHERE osb_id = $1`, r.osbID, brokerOpDeprovision)
		if err == nil {
			err = p.brokerAudit(ctx, who, "deprovision", r.instanceID, in.Origin, map[string]string{"osb_instance_id": r.osbID})
		}
		return err
	}
	switch v.Status {
	case "failed", "disabled", "deleted":
		// Nothing runs or is billed: forgotten now.
		return BrokerReply{}, mark()
	case "provisioning":
		return BrokerReply{}, brokerConcurrency("the instance is being provisioned: deprovision it once that has ended")
	}
	if _, err := p.Disable(ctx, who, v.ID); err != nil {
		return BrokerReply{}, brokerError(err)
	}
	return BrokerReply{Accepted: true, Operation: brokerOpDeprovision}, mark()
}

// BrokerOperation is where an instance's last operation stands.
// InstanceUsable is set for a failed update or deprovision only: false
// when the instance is left unusable (an upgrade whose swap failed keeps
// it in maintenance).
type BrokerOperation struct {
	State          string
	Description    string
	InstanceUsable *bool
}

// BrokerLastOperation answers a poll of the instance's last operation (or
// the one named, when the platform sends the operation it was given).
func (p *Platform) BrokerLastOperation(ctx context.Context, who Principal, osbID, operation string) (BrokerOperation, error) {
	if err := require(who, access.InstancesRead); err != nil {
		return BrokerOperation{}, err
	}
	r, ok, err := p.ownBrokerRow(ctx, who, osbID)
	if err != nil {
		return BrokerOperation{}, err
	}
	if !ok {
		return BrokerOperation{}, brokerFail(BrokerNotFound, "", "no service instance %s", osbID)
	}
	if operation == "" {
		operation = r.operation
	}
	if operation != brokerOpProvision && operation != brokerOpModules && operation != brokerOpDeprovision &&
		!strings.HasPrefix(operation, brokerOpUpgrade) {
		return BrokerOperation{}, brokerFail(BrokerMalformed, "", "unknown operation %q", operation)
	}
	v, err := p.brokerInstance(ctx, r)
	if err != nil {
		return BrokerOperation{}, err
	}
	state, why, err := p.brokerOpState(ctx, r, v, operation)
	out := BrokerOperation{State: state, Description: why}
	if state == BrokerFailed && operation != brokerOpProvision {
		usable := !v.Maintenance && v.Status == "ready"
		out.InstanceUsable = &usable
	}
	return out, err
}

// brokerOpState works out where an operation of an instance stands, from
// the instance and the operation's workflow.
func (p *Platform) brokerOpState(ctx context.Context, r brokerRow, v Instance, op string) (string, string, error) {
	switch {
	case op == brokerOpProvision:
		switch v.Status {
		case "provisioning":
			// The workflow may end before it recorded the instance.
			if pr, _, err := p.latestProgress(ctx, workflows.EnableID(v.ID)); err == nil {
				switch pr.Status {
				case workflows.StatusWaiting:
					return BrokerInProgress, "waiting for the setup page (the dashboard)", nil
				case workflows.StatusFailed, workflows.StatusCancelled:
					return BrokerFailed, nonEmpty(pr.Error, "provisioning failed"), nil
				}
			}
			return BrokerInProgress, "provisioning the database", nil
		case "failed":
			return BrokerFailed, nonEmpty(v.FailureReason, "provisioning failed"), nil
		}
		return BrokerSucceeded, "ready", nil
	case op == brokerOpDeprovision:
		if v.Status == "disabled" || v.Status == "deleted" || v.Status == "failed" {
			return BrokerSucceeded, "deprovisioned: billing stopped; the data is dropped after the grace period", nil
		}
		return p.workflowState(ctx, workflows.DisableID(v.ID), "disabling")
	case op == brokerOpModules:
		return p.workflowState(ctx, workflows.ChangeModulesID(v.ID), "changing modules")
	case strings.HasPrefix(op, brokerOpUpgrade):
		version := strings.TrimPrefix(op, brokerOpUpgrade)
		return p.workflowState(ctx, workflows.UpgradeInstanceID(v.ID, version), "upgrading to "+version)
	}
	return "", "", brokerFail(BrokerMalformed, "", "unknown operation %q", op)
}

// workflowState is an operation's state from its workflow's latest run.
func (p *Platform) workflowState(ctx context.Context, id, running string) (string, string, error) {
	d, err := p.Temporal.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return BrokerInProgress, running, nil // starting
	}
	if err != nil {
		return "", "", err
	}
	info := d.GetWorkflowExecutionInfo()
	switch info.GetStatus() {
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return BrokerInProgress, running, nil
	case enums.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return BrokerSucceeded, "done", nil
	}
	reason := "the operation failed"
	if pr, err := p.runProgress(ctx, id, info.GetExecution().GetRunId(), true); err == nil && pr.Error != "" {
		reason = pr.Error
	}
	return BrokerFailed, reason, nil
}

func nonEmpty(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// BrokerInstanceView is a fetched service instance.
type BrokerInstanceView struct {
	ServiceID       string                `json:"service_id"`
	PlanID          string                `json:"plan_id"`
	DashboardURL    string                `json:"dashboard_url"`
	Parameters      map[string]any        `json:"parameters"`
	MaintenanceInfo BrokerMaintenanceInfo `json:"maintenance_info"`
}

// BrokerInstance fetches a provisioned instance: not found while it is
// being provisioned, a concurrency error while it is being updated.
func (p *Platform) BrokerInstance(ctx context.Context, who Principal, osbID, consoleURL string) (BrokerInstanceView, error) {
	if err := require(who, access.InstancesRead); err != nil {
		return BrokerInstanceView{}, err
	}
	r, ok, err := p.ownBrokerRow(ctx, who, osbID)
	if err != nil {
		return BrokerInstanceView{}, err
	}
	var v Instance
	if ok {
		v, err = p.brokerInstance(ctx, r)
		if err != nil {
			return BrokerInstanceView{}, err
		}
	}
	if !ok || r.gone(v) || v.Status == "provisioning" || v.Status == "failed" {
		return BrokerInstanceView{}, brokerFail(BrokerNotFound, "", "no provisioned service instance %s", osbID)
	}
	if r.operation != brokerOpProvision {
		state, _, err := p.brokerOpState(ctx, r, v, r.operation)
		if err != nil {
			return BrokerInstanceView{}, err
		}
		if state == BrokerInProgress {
			return BrokerInstanceView{}, brokerConcurrency("the instance is being updated")
		}
	}
	return BrokerInstanceView{ServiceID: r.serviceID, PlanID: r.planID, DashboardURL: dashboardURL(consoleURL, v.ID),
		Parameters: map[string]any{"host": v.Host, "modules": v.Modules}, MaintenanceInfo: BrokerMaintenanceInfo{Version: v.Version}}, nil
}

// checkMaintenanceVersion refuses a request made against a plan's older
// maintenance_info.version (OSB MaintenanceInfoConflict): the platform
// must fetch the catalog again.
func (p *Platform) checkMaintenanceVersion(ctx context.Context, svc *catalog.Service, version string) error {
	if version == "" {
		return nil
	}
	now, err := controldb.EnableVersion(ctx, p.DB, svc)
	if err != nil {
		return err
	}
	if version != now {
		return brokerFail(BrokerUnprocessable, "MaintenanceInfoConflict",
			"the plan's maintenance_info.version is %s now: fetch the catalog again", now)
	}
	return nil
}
