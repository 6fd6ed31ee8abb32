package platform

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// The broker's bindings: a login role per binding, read-only on the
// instance's database, made and dropped by the Bind and Unbind workflows.

// BrokerBindInput is a bind request.
type BrokerBindInput struct {
	InstanceID string
	BindingID  string
	ServiceID  string
	PlanID     string
	Parameters json.RawMessage
	Origin     BrokerOrigin
}

// BrokerBinding is a binding's answer. Credentials carry the password
// only the first time they are given.
type BrokerBinding struct {
	Credentials map[string]any   `json:"credentials"`
	Endpoints   []BrokerEndpoint `json:"endpoints"`
	Parameters  map[string]any   `json:"parameters,omitempty"`
}

// BrokerEndpoint is a network endpoint an app connects to.
type BrokerEndpoint struct {
	Host     string   `json:"host"`
	Ports    []string `json:"ports"`
	Protocol string   `json:"protocol"`
}

// bindWait bounds how long a bind or unbind waits for its workflow.
const bindWait = 30 * time.Second

// BrokerBind creates a binding: a login role of its own, read-only on the
// instance's database, made by the Bind workflow, whose activity generates
// the password and stores it sealed. The answer carries the credentials
// once (Created); the same request again answers 200 without the password.
func (p *Platform) BrokerBind(ctx context.Context, who Principal, in BrokerBindInput) (BrokerBinding, bool, error) {
	if err := brokerRequire(who, in.Origin); err != nil {
		return BrokerBinding{}, false, err
	}
	if in.BindingID == "" || len(in.BindingID) > 200 {
		return BrokerBinding{}, false, brokerFail(BrokerMalformed, "", "binding_id must be 1 to 200 characters")
	}
	r, ok, err := p.ownBrokerRow(ctx, who, in.InstanceID)
	if err != nil {
		return BrokerBinding{}, false, err
	}
	if !ok {
		return BrokerBinding{}, false, brokerFail(BrokerNotFound, "", "no service instance %s", in.InstanceID)
	}
	if err := r.checkIDs(in.ServiceID, in.PlanID); err != nil {
		return BrokerBinding{}, false, err
	}
	var params map[string]any
	if err := decodeStrict(in.Parameters, &params); err != nil {
		return BrokerBinding{}, false, err
	}
	if len(params) > 0 {
		return BrokerBinding{}, false, brokerFail(BrokerMalformed, "", "bindings take no parameters")
	}
	v, err := p.brokerInstance(ctx, r)
	if err != nil {
		return BrokerBinding{}, false, err
	}
	if r.gone(v) || v.Status != "ready" {
		return BrokerBinding{}, false, brokerConcurrency("the instance is %s: bind it once it is ready", v.Status)
	}
	id := uuid.NewString()
	tag, err := p.DB.Exec(ctx, `INSERT INTO broker_bindings (id, osb_id, instance_osb_id, instance_id, role_name)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (osb_id) DO NOTHING`,
		id, in.BindingID, r.osbID, r.instanceID, "tb_"+strings.ReplaceAll(id, "-", ""))
	if err != nil {
		return BrokerBinding{}, false, err
	}
	if tag.RowsAffected() == 0 {
		b, err := p.loadBinding(ctx, in.BindingID)
		if err != nil {
			return BrokerBinding{}, false, err
		}
		if b.instanceOSB != r.osbID || b.state == "unbinding" || b.state == "unbound" {
			return BrokerBinding{}, false, brokerFail(BrokerConflict, "", "binding %s exists already for another instance, or was removed", in.BindingID)
		}
		id = b.id
		if b.state == "bound" {
			return p.bindingCredentials(ctx, id)
		}
	} else if err := p.brokerAudit(ctx, who, "bind", r.instanceID, in.Origin,
		map[string]string{"osb_instance_id": r.osbID, "osb_binding_id": in.BindingID}); err != nil {
		return BrokerBinding{}, false, err
	}
	wf := workflows.BindInput{BindingID: id, InstanceID: r.instanceID, AccountID: who.AccountID, Service: v.Service}
	if err := p.runBindingWorkflow(ctx, workflows.StartBind, workflows.BindID(wf.InstanceID, id), wf); err != nil {
		return BrokerBinding{}, false, err
	}
	return p.bindingCredentials(ctx, id)
}

// runBindingWorkflow starts a binding's workflow, or joins the run going,
// and waits for its end.
func (p *Platform) runBindingWorkflow(ctx context.Context,
	start func(context.Context, client.Client, workflows.BindInput) (client.WorkflowRun, error), id string, in workflows.BindInput) error {
	ctx, cancel := context.WithTimeout(ctx, bindWait)
	defer cancel()
	run, err := start(ctx, p.Temporal, in)
	if apperr.KindOf(err) == apperr.KindConflict {
		run, err = p.Temporal.GetWorkflow(ctx, id, ""), nil
	}
	if err != nil {
		return err
	}
	return run.Get(ctx, nil)
}

// brokerBindingRow is a binding as the broker keeps it.
type brokerBindingRow struct {
	id, instanceOSB, instanceID, state string
}

func (p *Platform) loadBinding(ctx context.Context, osbID string) (brokerBindingRow, error) {
	var b brokerBindingRow
	err := p.DB.QueryRow(ctx, `SELECT id::text, instance_osb_id, instance_id::text, state FROM broker_bindings WHERE osb_id = $1`, osbID).
		Scan(&b.id, &b.instanceOSB, &b.instanceID, &b.state)
	return b, err
}

// ownBinding loads a binding of one of the principal's account's
// instances; anything else is not found.
func (p *Platform) ownBinding(ctx context.Context, who Principal, instanceOSB, bindingOSB string) (brokerBindingRow, brokerRow, bool, error) {
	r, ok, err := p.ownBrokerRow(ctx, who, instanceOSB)
	if err != nil || !ok {
		return brokerBindingRow{}, r, false, err
	}
	b, err := p.loadBinding(ctx, bindingOSB)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && b.instanceOSB != r.osbID) {
		return b, r, false, nil
	}
	return b, r, err == nil, err
}

// bindingCredentials reads a bound binding's credentials back; the sealed
// password is handed out once and erased in the same statement.
func (p *Platform) bindingCredentials(ctx context.Context, bindingID string) (BrokerBinding, bool, error) {
	var role, database, host, instanceHost, state string
	var port int
	var sealed []byte
	err := p.DB.QueryRow(ctx, `
		WITH old AS (SELECT id, password_encrypted FROM broker_bindings WHERE id = $1 FOR UPDATE),
		taken AS (UPDATE broker_bindings b SET password_encrypted = NULL, delivered_at = now()
			FROM old WHERE b.id = old.id AND b.state = 'bound' AND old.password_encrypted IS NOT NULL RETURNING old.password_encrypted)
		SELECT b.role_name, b.state, i.database_name, s.host, s.port, i.host, (SELECT password_encrypted FROM taken)
		FROM broker_bindings b JOIN instances i ON i.id = b.instance_id JOIN database_servers s ON s.id = i.database_server_id
		WHERE b.id = $1`, bindingID).Scan(&role, &state, &database, &host, &port, &instanceHost, &sealed)
	if err != nil {
		return BrokerBinding{}, false, err
	}
	if state != "bound" {
		return BrokerBinding{}, false, brokerFail(BrokerNotFound, "", "the binding is %s", state)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	creds := map[string]any{"host": host, "port": port, "database": database, "username": role, "user": role,
		"url": "http://" + instanceHost, "read_only": true}
	if sealed != nil {
		password, err := p.Cipher.Open(sealed, controldb.BindingAAD(bindingID))
		if err != nil {
			return BrokerBinding{}, false, err
		}
		creds["password"] = string(password)
		creds["uri"] = (&url.URL{Scheme: "postgres", User: url.UserPassword(role, string(password)), Host: addr, Path: "/" + database}).String()
	}
	return BrokerBinding{Credentials: creds, Endpoints: []BrokerEndpoint{{Host: host, Ports: []string{strconv.Itoa(port)}, Protocol: "tcp"}}},
		sealed != nil, nil
}

// BrokerGetBinding fetches a binding: its connection details, without the
// password once it has been given.
func (p *Platform) BrokerGetBinding(ctx context.Context, who Principal, instanceOSB, bindingOSB string) (BrokerBinding, error) {
	if err := require(who, access.InstancesManage); err != nil {
		return BrokerBinding{}, err
	}
	b, _, ok, err := p.ownBinding(ctx, who, instanceOSB, bindingOSB)
	if err != nil {
		return BrokerBinding{}, err
	}
	if !ok || b.state != "bound" {
		return BrokerBinding{}, brokerFail(BrokerNotFound, "", "no binding %s", bindingOSB)
	}
	out, _, err := p.bindingCredentials(ctx, b.id)
	out.Parameters = map[string]any{}
	return out, err
}

// BrokerUnbindInput is an unbind request.
type BrokerUnbindInput struct {
	InstanceID string
	BindingID  string
	ServiceID  string
	PlanID     string
	Origin     BrokerOrigin
}

// BrokerUnbind drops a binding's role through the Unbind workflow and
// waits for it; an unknown or removed binding is gone.
func (p *Platform) BrokerUnbind(ctx context.Context, who Principal, in BrokerUnbindInput) error {
	if err := brokerRequire(who, in.Origin); err != nil {
		return err
	}
	if in.ServiceID == "" || in.PlanID == "" {
		return brokerFail(BrokerMalformed, "", "service_id and plan_id are required")
	}
	b, r, ok, err := p.ownBinding(ctx, who, in.InstanceID, in.BindingID)
	if err != nil {
		return err
	}
	if !ok || b.state == "unbound" {
		return brokerFail(BrokerGone, "", "no binding %s", in.BindingID)
	}
	if b.state != "unbinding" {
		if _, err := p.DB.Exec(ctx, `UPDATE broker_bindings SET state = 'unbinding' WHERE id = $1 AND state IN ('binding', 'bound')`, b.id); err != nil {
			return err
		}
		if err := p.brokerAudit(ctx, who, "unbind", r.instanceID, in.Origin,
			map[string]string{"osb_instance_id": r.osbID, "osb_binding_id": in.BindingID}); err != nil {
			return err
		}
	}
	v, err := p.brokerInstance(ctx, r)
	if err != nil {
		return err
	}
	wf := workflows.BindInput{BindingID: b.id, InstanceID: r.instanceID, AccountID: who.AccountID, Service: v.Service}
	return p.runBindingWorkflow(ctx, workflows.StartUnbind, workflows.UnbindID(wf.InstanceID, b.id), wf)
}
