package platform

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/dbserver"
	"tenantry/workflows"
)

// The fleet of database servers: operators register servers, see their
// load, drain them, check them and move instances between them. A
// server's admin connection is sealed when it is registered and never
// shown or logged again.

// Server states as operators name them.
const (
	ServerActive   = "active"   // takes new instances
	ServerDraining = "draining" // takes none; its instances stay unless moved
)

// Server is one database server with its load.
type Server struct {
	controldb.Server
	State string `json:"state"`
	// Load is measured on the server now; LoadError says why it could not be.
	Load      *dbserver.Load `json:"load,omitempty"`
	LoadError string         `json:"load_error,omitempty"`
}

// ServerDetail is a server with the instances on it and the servers they
// may move to.
type ServerDetail struct {
	Server
	Instances []controldb.ServerInstance `json:"instances"`
	// Targets are the other active servers with room.
	Targets []string `json:"targets"`
	// DrainWorkflow is the ID a drain of this server runs under.
	DrainWorkflow string `json:"drain_workflow"`
}

// NewServer is a server to register.
type NewServer struct {
	Name string `json:"name"`
	// AdminURL connects as a role that may CREATE ROLE and CREATE
	// DATABASE (postgres://user:password@host:port/database).
	AdminURL string `json:"admin_url"`
	// Capacity is how many instances it takes; zero means
	// controldb.DefaultServerCapacity.
	Capacity int `json:"capacity"`
}

// Move is a started move of an instance to another server.
type Move struct {
	WorkflowID string `json:"workflow_id"`
	InstanceID string `json:"instance_id"`
	FromServer string `json:"from_server"`
	ToServer   string `json:"to_server"`
}

var serverNameRe = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// Servers lists the fleet with each server's load.
func (p *Platform) Servers(ctx context.Context, who Principal) ([]Server, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return nil, err
	}
	list, err := controldb.Servers(ctx, p.DB)
	if err != nil {
		return nil, err
	}
	out := make([]Server, len(list))
	for i, s := range list {
		out[i] = p.withLoad(ctx, s)
	}
	return out, nil
}

// Server is one server of the fleet with its instances.
func (p *Platform) Server(ctx context.Context, who Principal, name string) (ServerDetail, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return ServerDetail{}, err
	}
	s, err := controldb.ServerByName(ctx, p.DB, name)
	if err != nil {
		return ServerDetail{}, err
	}
	d := ServerDetail{Server: p.withLoad(ctx, s), DrainWorkflow: workflows.DrainServerID(s.Name), Targets: []string{}}
	if d.Instances, err = controldb.InstancesOn(ctx, p.DB, s.ID); err != nil {
		return d, err
	}
	all, err := controldb.Servers(ctx, p.DB)
	for _, t := range all {
		if t.ID != s.ID && t.Active && t.Instances < t.Capacity {
			d.Targets = append(d.Targets, t.Name)
		}
	}
	return d, err
}

// withLoad measures a server through its admin pool; an unreachable
// server is listed with why.
func (p *Platform) withLoad(ctx context.Context, s controldb.Server) Server {
	out := Server{Server: s, State: ServerDraining}
	if s.Active {
		out.State = ServerActive
	}
	if s.CheckProblems == nil {
		out.CheckProblems = []string{}
	}
	if p.Fleet == nil {
		out.LoadError = "this process has no access to the servers"
		return out
	}
	admin, err := p.Fleet.Admin(ctx, s.ID)
	if err == nil {
		var l dbserver.Load
		if l, err = dbserver.Measure(ctx, admin, s.Databases); err == nil {
			out.Load = &l
		}
	}
	if err != nil {
		out.LoadError = "unreachable: " + apperr.Message(err)
		if apperr.KindOf(err) == apperr.KindInternal {
			out.LoadError = "unreachable: " + firstLine(err.Error())
		}
	}
	return out
}

// RegisterServer adds a database server to the fleet after checking it
// (reachable, its admin role can create roles and databases, every
// database but the tenants' closed to PUBLIC, which it does). A server
// that fails the check is refused with every problem found. The admin
// URL is stored sealed and never shown again.
func (p *Platform) RegisterServer(ctx context.Context, who Principal, in NewServer) (Server, dbserver.Check, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return Server{}, dbserver.Check{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case !serverNameRe.MatchString(in.Name):
		return Server{}, dbserver.Check{}, apperr.Invalid("name: 1 to 40 lowercase letters, digits or dashes, starting with a letter")
	case strings.TrimSpace(in.AdminURL) == "":
		return Server{}, dbserver.Check{}, apperr.Invalid("admin_url is required")
	case in.Capacity < 0 || in.Capacity > 1_000_000:
		return Server{}, dbserver.Check{}, apperr.Invalid("capacity: a number of instances from 1 to 1000000 (0 for the default %d)", controldb.DefaultServerCapacity)
	case p.Cipher == nil:
		return Server{}, dbserver.Check{}, fmt.Errorf("the platform has no cipher to seal admin connections")
	}
	if _, err := controldb.ServerByName(ctx, p.DB, in.Name); err == nil {
		return Server{}, dbserver.Check{}, apperr.Conflict("a database server is already named %s", in.Name)
	}
	conn, err := dbserver.Dial(ctx, in.AdminURL)
	if err != nil {
		return Server{}, dbserver.Check{}, apperr.Invalid("cannot connect with the admin URL: %s", firstLine(err.Error()))
	}
	check := dbserver.CheckServer(ctx, conn)
	_ = conn.Close(context.Background())
	if !check.OK() {
		return Server{}, check, apperr.Invalid("%s cannot take tenants: %s", in.Name, strings.Join(check.Problems, "; "))
	}
	id, err := controldb.RegisterServerWithCapacity(ctx, p.DB, p.Cipher, in.Name, in.AdminURL, in.Capacity)
	if err != nil {
		return Server{}, check, err
	}
	if err := controldb.RecordServerCheck(ctx, p.DB, id, nil, p.Clock()); err != nil {
		return Server{}, check, err
	}
	if err := p.audit(ctx, who, "server.registered", "database_server", id, map[string]string{"name": in.Name}); err != nil {
		return Server{}, check, err
	}
	s, err := controldb.ServerByName(ctx, p.DB, in.Name)
	return p.withLoad(ctx, s), check, err
}

// SetServerState marks a server active (it takes new instances) or
// draining (it takes none; its instances stay until moved).
func (p *Platform) SetServerState(ctx context.Context, who Principal, name, state string) (Server, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return Server{}, err
	}
	if state != ServerActive && state != ServerDraining {
		return Server{}, apperr.Invalid("state: %s or %s", ServerActive, ServerDraining)
	}
	if err := controldb.SetServerActive(ctx, p.DB, name, state == ServerActive); err != nil {
		return Server{}, err
	}
	s, err := controldb.ServerByName(ctx, p.DB, name)
	if err != nil {
		return Server{}, err
	}
	if err := p.audit(ctx, who, "server."+state, "database_server", s.ID, map[string]string{"name": name}); err != nil {
		return Server{}, err
	}
	return p.withLoad(ctx, s), nil
}

// CheckServer checks a registered server as RegisterServer does (closing
// to PUBLIC what it can) and keeps what it found.
func (p *Platform) CheckServer(ctx context.Context, who Principal, name string) (dbserver.Check, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return dbserver.Check{}, err
	}
	s, err := controldb.ServerByName(ctx, p.DB, name)
	if err != nil {
		return dbserver.Check{}, err
	}
	var check dbserver.Check
	if p.Fleet == nil {
		return check, fmt.Errorf("the platform has no access to the servers")
	}
	if admin, err := p.Fleet.Admin(ctx, s.ID); err != nil {
		check.Problems = []string{"unreachable: " + firstLine(err.Error())}
	} else {
		check = dbserver.CheckServer(ctx, admin)
	}
	if check.Problems == nil {
		check.Problems = []string{}
	}
	return check, controldb.RecordServerCheck(ctx, p.DB, s.ID, check.Problems, p.Clock())
}

// MoveInstance starts moving any account's instance to another server
// (MoveInstance workflow). The move is checked first (controldb.CheckMove)
// so bad requests are answered at once.
func (p *Platform) MoveInstance(ctx context.Context, who Principal, instanceID, toServer string) (Move, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return Move{}, err
	}
	v, err := p.loadInstance(ctx, instanceID)
	if err != nil {
		return Move{}, err
	}
	plan, err := controldb.CheckMove(ctx, p.DB, v.ID, toServer)
	if err != nil {
		return Move{}, err
	}
	id, err := workflows.StartMove(ctx, p.Temporal, workflows.MoveInput{InstanceID: v.ID, AccountID: plan.AccountID,
		Service: plan.Service, ActorID: who.UserID, ToServer: plan.ToServer, Grace: p.MoveGrace})
	return Move{WorkflowID: id, InstanceID: v.ID, FromServer: plan.FromServer, ToServer: plan.ToServer}, err
}

// DrainServer marks a server draining and starts moving every instance off
// it, a few at a time (DrainServer workflow); it returns the workflow's ID.
func (p *Platform) DrainServer(ctx context.Context, who Principal, name string) (string, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return "", err
	}
	s, err := controldb.ServerByName(ctx, p.DB, name)
	if err != nil {
		return "", err
	}
	if err := controldb.SetServerActive(ctx, p.DB, name, false); err != nil {
		return "", err
	}
	id, err := workflows.StartDrain(ctx, p.Temporal, workflows.DrainInput{ServerID: s.ID, Server: s.Name, ActorID: who.UserID,
		Grace: p.MoveGrace})
	if err != nil {
		return id, err
	}
	return id, p.audit(ctx, who, "server.drain_started", "database_server", s.ID, map[string]string{"name": name})
}

// WaitingForRoom lists the provisionings that wait for room on a database
// server (every active one is full or draining), for the problems page.
func (p *Platform) WaitingForRoom(ctx context.Context, who Principal) ([]WorkflowRun, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return nil, err
	}
	rows, err := p.DB.Query(ctx, `SELECT id::text FROM instances
		WHERE status = 'provisioning' AND database_server_id IS NULL ORDER BY created_at LIMIT 100`)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, "'"+workflows.EnableID(id)+"'")
	}
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return []WorkflowRun{}, err
	}
	runs, err := p.workflowRuns(ctx, "ExecutionStatus = 'Running' AND WorkflowId IN ("+strings.Join(ids, ", ")+")")
	waiting := []WorkflowRun{}
	for _, r := range runs {
		if r.Progress == string(workflows.StatusWaiting) && r.Note == workflows.WaitingForRoom {
			waiting = append(waiting, r)
		}
	}
	return waiting, err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
