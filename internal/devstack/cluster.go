package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ClusterOptions configures a Temporal server persisted in PostgreSQL: the
// real server (go.temporal.io/server/cmd/server) and its schema tool, both
// built from the module temporal-dev/ pins.
type ClusterOptions struct {
	// ModuleDir is the temporal-dev folder whose go.mod pins the tools.
	ModuleDir string
	// AdminURL is a PostgreSQL superuser URL (any database): the server's
	// databases are created on that server and the server connects with the
	// same credentials.
	AdminURL string
	// Database and VisibilityDatabase name the server's two databases
	// (default "temporal" and "temporal_visibility"). Reusing them resumes
	// every workflow.
	Database, VisibilityDatabase string
	// StateDir holds the generated server and dynamic configuration.
	StateDir string
	// Shards is the number of history shards (default 4). It is fixed when
	// the database is first set up; a later start must pass the same.
	Shards int
	// MaxConns caps the default store's connections (default 20; the
	// visibility store gets a quarter, at least 2).
	MaxConns int
	// Port is the frontend's gRPC port (0 picks a free one); UIPort 0 runs
	// no Web UI.
	Port, UIPort int
	// Namespace is registered with the search attributes, beside
	// "default"; empty means "default" only.
	Namespace string
	// Dynamic adds or overrides dynamic configuration values.
	Dynamic map[string]any
	Log     io.Writer
}

// Cluster is a running PostgreSQL-backed Temporal server (every service in
// one process) and, when asked, its Web UI.
type Cluster struct {
	HostPort string
	UIURL    string
	// MetricsURL serves the server's Prometheus metrics (persistence
	// latencies, task counts).
	MetricsURL string
	// PID is the server process's, to read its CPU time.
	PID    int
	server *process
	ui     *process
}

// clusterDynamic are the settings every cluster start writes, as for the
// dev server (see StartTemporal): eager activities and workflow starts,
// updates, queue readers that poll as fast as work arrives, one partition
// per task queue (a handful of pollers), and search attributes read from
// the namespace cache rather than the database on every use. And, measured
// with bench:billing -cluster: each shard may have 8 persistence calls in
// flight (default 1: a shard's writes queue behind one PostgreSQL round
// trip), and its events cache holds 16 MB (default 512 KB rereads the
// history of a few thousand waiting workflows when their timers fire).
var clusterDynamic = map[string]any{
	"history.shardIOConcurrency":                     8,
	"history.eventsCacheMaxSizeBytes":                16 << 20,
	"system.enableActivityEagerExecution":            true,
	"system.enableEagerWorkflowStart":                true,
	"frontend.enableUpdateWorkflowExecution":         true,
	"history.transferProcessorMaxPollRPS":            1000,
	"history.timerProcessorMaxPollRPS":               1000,
	"history.visibilityProcessorMaxPollRPS":          1000,
	"history.outboundProcessorMaxPollRPS":            1000,
	"matching.numTaskqueueReadPartitions":            1,
	"matching.numTaskqueueWritePartitions":           1,
	"system.forceSearchAttributesCacheRefreshOnRead": false,
	"limit.maxIDLength":                              1000,
}

// ClusterBinaries are the built tools a cluster start runs.
type ClusterBinaries struct {
	Server, SQL, UI string
	// Schema is the server module's schema/postgresql/v12 folder.
	Schema string
}

// FindClusterBinaries builds (first time: minutes) and locates the server,
// the schema tool and the UI, and the server module's schema folder.
func FindClusterBinaries(ctx context.Context, moduleDir string) (ClusterBinaries, error) {
	var b ClusterBinaries
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, job := range []struct {
		out  *string
		tool string
	}{{&b.Server, "server"}, {&b.SQL, "sql"}, {&b.UI, "temporal-ui"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*job.out, errs[i] = goTool(ctx, moduleDir, job.tool)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		cmd := exec.CommandContext(ctx, "go", "list", "-m", "-json", "go.temporal.io/server")
		cmd.Dir = moduleDir
		out, err := cmd.Output()
		if err != nil {
			errs[3] = fmt.Errorf("find go.temporal.io/server in %s: %w", moduleDir, err)
			return
		}
		var m struct{ Dir string }
		if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
			errs[3] = fmt.Errorf("go.temporal.io/server is not in the module cache (go mod download in %s): %v", moduleDir, err)
			return
		}
		b.Schema = filepath.Join(m.Dir, "schema", "postgresql", "v12")
	}()
	wg.Wait()
	return b, errors.Join(errs...)
}

// goTool resolves a tool of moduleDir's go.mod through `go tool -n`,
// building it on first use.
func goTool(ctx context.Context, moduleDir, name string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "-n", name)
	cmd.Dir = moduleDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build %s in %s: %w\n%s", name, moduleDir, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// StartTemporalCluster creates the server's databases (first time), sets up
// and updates their schema with the SQL tool, writes the server's
// configuration into StateDir, starts the server, registers the namespaces
// and search attributes, and starts the Web UI when UIPort is set. A start
// that loses a port to another process in between is retried.
func StartTemporalCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	if opts.Database == "" {
		opts.Database = "temporal"
	}
	if opts.VisibilityDatabase == "" {
		opts.VisibilityDatabase = "temporal_visibility"
	}
	if opts.Shards == 0 {
		opts.Shards = 4
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = 20
	}
	if err := os.MkdirAll(filepath.Join(opts.StateDir, "config"), 0o755); err != nil {
		return nil, err
	}
	bins, err := FindClusterBinaries(ctx, opts.ModuleDir)
	if err != nil {
		return nil, err
	}
	pg, err := pgx.ParseConfig(opts.AdminURL)
	if err != nil {
		return nil, fmt.Errorf("cluster database URL: %w", err)
	}
	if err := setupClusterSchema(ctx, opts, bins, pg); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		c, err := startClusterServer(ctx, opts, bins, pg)
		if err == nil {
			if err = c.register(ctx, opts); err == nil {
				if opts.UIPort != 0 {
					err = c.startUI(bins, opts)
				}
				if err == nil {
					return c, nil
				}
			}
			c.Stop()
			return nil, err
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

// setupClusterSchema creates both databases unless they exist and brings
// their schema to the server module's version: setup-schema -v 0.0 only
// adds the version tables when missing, update-schema applies what is new.
func setupClusterSchema(ctx context.Context, opts ClusterOptions, bins ClusterBinaries, pg *pgx.ConnConfig) error {
	for _, db := range []struct{ name, dir string }{
		{opts.Database, "temporal"}, {opts.VisibilityDatabase, "visibility"},
	} {
		if err := EnsureDatabase(ctx, opts.AdminURL, db.name); err != nil {
			return fmt.Errorf("create database %s: %w", db.name, err)
		}
		base := []string{"--plugin", "postgres12", "--ep", pg.Host, "-p", strconv.Itoa(int(pg.Port)),
			"-u", pg.User, "--db", db.name}
		for _, step := range [][]string{
			{"setup-schema", "-v", "0.0"},
			{"update-schema", "-d", filepath.Join(bins.Schema, db.dir, "versioned")},
		} {
			cmd := exec.CommandContext(ctx, bins.SQL, append(base, step...)...)
			// The password travels in the environment, not on a command
			// line that ps shows.
			cmd.Env = append(os.Environ(), "SQL_PASSWORD="+pg.Password)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("temporal sql tool %s on %s: %w\n%s", step[0], db.name, err, out)
			}
		}
	}
	return nil
}

// clusterPorts are the listeners one all-in-one server process opens.
type clusterPorts struct {
	Frontend, FrontendHTTP, FrontendMembership             int
	History, HistoryMembership                             int
	Matching, MatchingMembership, Worker, WorkerMembership int
	Metrics                                                int
}

func pickClusterPorts(frontend int) (clusterPorts, error) {
	p := clusterPorts{Frontend: frontend}
	ports, err := FreePorts(6, frontend)
	if err != nil {
		return p, err
	}
	for i, f := range []*int{&p.Frontend, &p.FrontendHTTP, &p.History, &p.Matching, &p.Worker, &p.Metrics} {
		if *f == 0 {
			*f = ports[i]
		}
	}
	// The server records membership ports in a smallint column: they come
	// from below the kernel's ephemeral range.
	for _, f := range []*int{&p.FrontendMembership, &p.HistoryMembership, &p.MatchingMembership, &p.WorkerMembership} {
		port, err := freeLowPort()
		if err != nil {
			return p, err
		}
		*f = port
	}
	return p, nil
}

// freeLowPort is a free loopback port from 20000 to 32767.
func freeLowPort() (int, error) {
	for range 100 {
		if p := 20000 + rand.IntN(12768); portFree(p) {
			return p, nil
		}
	}
	return 0, errors.New("no free port from 20000 to 32767")
}

func startClusterServer(ctx context.Context, opts ClusterOptions, bins ClusterBinaries, pg *pgx.ConnConfig) (*Cluster, error) {
	ports, err := pickClusterPorts(opts.Port)
	if err != nil {
		return nil, err
	}
	dynFile := filepath.Join(opts.StateDir, "dynamicconfig.yaml")
	if err := writeDynamicConfig(dynFile, opts.Dynamic); err != nil {
		return nil, err
	}
	conf := clusterConfig(opts, pg, ports, dynFile)
	if err := os.WriteFile(filepath.Join(opts.StateDir, "config", "development.yaml"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	c := &Cluster{
		HostPort:   fmt.Sprintf("127.0.0.1:%d", ports.Frontend),
		MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports.Metrics),
	}
	c.server, err = startProcess(bins.Server, opts.Log, "--root", opts.StateDir, "--config", "config",
		"--env", "development", "--allow-no-auth", "start")
	if err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	c.PID = c.server.cmd.Process.Pid
	if err := waitHealthy(ctx, c.HostPort, c.server, "temporal server"); err != nil {
		c.server.stop()
		return nil, err
	}
	return c, nil
}

// clusterConfig is the server's YAML configuration: every service on
// loopback, persistence and SQL visibility on PostgreSQL, Prometheus
// metrics, dynamic configuration from file.
func clusterConfig(opts ClusterOptions, pg *pgx.ConnConfig, p clusterPorts, dynFile string) string {
	visConns := max(2, opts.MaxConns/4)
	store := func(name, db string, conns int) string {
		return fmt.Sprintf(`    %s:
      sql:
        pluginName: postgres12_pgx
        databaseName: %q
        connectAddr: %q
        connectProtocol: tcp
        user: %q
        password: %q
        maxConns: %d
        maxIdleConns: %d
        maxConnLifetime: 1h
`, name, db, fmt.Sprintf("%s:%d", pg.Host, pg.Port), pg.User, pg.Password, conns, conns)
	}
	service := func(name string, grpc, membership, http int) string {
		s := fmt.Sprintf("  %s:\n    rpc:\n      grpcPort: %d\n      membershipPort: %d\n      bindOnLocalHost: true\n", name, grpc, membership)
		if http != 0 {
			s += fmt.Sprintf("      httpPort: %d\n", http)
		}
		return s
	}
	return `log:
  stdout: true
  level: warn

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ` + strconv.Itoa(opts.Shards) + `
  datastores:
` + store("postgres-default", opts.Database, opts.MaxConns) + store("postgres-visibility", opts.VisibilityDatabase, visConns) + `
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: "127.0.0.1:` + strconv.Itoa(p.Metrics) + `"

services:
` + service("frontend", p.Frontend, p.FrontendMembership, p.FrontendHTTP) +
		service("history", p.History, p.HistoryMembership, 0) +
		service("matching", p.Matching, p.MatchingMembership, 0) +
		service("worker", p.Worker, p.WorkerMembership, 0) + `
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:` + strconv.Itoa(p.Frontend) + `"
      httpAddress: "127.0.0.1:` + strconv.Itoa(p.FrontendHTTP) + `"

dcRedirectionPolicy:
  policy: noop

dynamicConfigClient:
  filepath: ` + strconv.Quote(dynFile) + `
  pollInterval: 10s
`
}

// writeDynamicConfig writes the defaults and extra as the server's dynamic
// configuration file (each key a list of one unconstrained value).
func writeDynamicConfig(file string, extra map[string]any) error {
	values := map[string]any{}
	for k, v := range clusterDynamic {
		values[k] = v
	}
	for k, v := range extra {
		values[k] = v
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		v, _ := json.Marshal(values[k]) // JSON scalars are YAML
		fmt.Fprintf(&b, "%s:\n  - value: %s\n", k, v)
	}
	return os.WriteFile(file, []byte(b.String()), 0o644)
}

// register creates the namespaces (one day of retention) and their search
// attributes unless they exist, then waits until the frontend resolves
// them (its namespace cache refreshes every two seconds).
func (c *Cluster) register(ctx context.Context, opts ClusterOptions) error {
	cl, err := client.Dial(client.Options{HostPort: c.HostPort, Logger: quietLogger{}})
	if err != nil {
		return err
	}
	defer cl.Close()
	namespaces := []string{"default"}
	if opts.Namespace != "" && opts.Namespace != "default" {
		namespaces = append(namespaces, opts.Namespace)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, ns := range namespaces {
		for {
			err := c.registerNamespace(ctx, cl, ns)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("register namespace %s: %w", ns, err)
			}
			select {
			case <-c.server.done:
				return fmt.Errorf("temporal server exited: %w\n%s", err, c.server.tail.String())
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

func (c *Cluster) registerNamespace(ctx context.Context, cl client.Client, ns string) error {
	_, err := cl.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return err
	}
	resp, err := cl.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		return err
	}
	missing := map[string]enumspb.IndexedValueType{}
	for _, sa := range SearchAttributes {
		if _, ok := resp.GetCustomAttributes()[sa]; !ok {
			missing[sa] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		}
	}
	if len(missing) > 0 {
		if _, err := cl.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: ns, SearchAttributes: missing}); err != nil {
			return err
		}
	}
	// Usable once the frontend's namespace cache has them.
	_, err = cl.WorkflowService().CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: ns, Query: "TenantId = 'probe' AND ServiceName = 'probe' AND InstanceId = 'probe'"})
	return err
}

func (c *Cluster) startUI(bins ClusterBinaries, opts ClusterOptions) error {
	ns := opts.Namespace
	if ns == "" {
		ns = "default"
	}
	var err error
	c.ui, err = startProcess(bins.UI, opts.Log, "--address", c.HostPort, "--port", strconv.Itoa(opts.UIPort),
		"--namespace", ns)
	if err != nil {
		return fmt.Errorf("start temporal web UI: %w", err)
	}
	c.UIURL = fmt.Sprintf("http://127.0.0.1:%d", opts.UIPort)
	deadline := time.Now().Add(30 * time.Second)
	for !portOpen(opts.UIPort) {
		select {
		case <-c.ui.done:
			return fmt.Errorf("temporal web UI exited during start:\n%s", c.ui.tail.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("temporal web UI not listening after 30s")
		}
	}
	return nil
}

// Stop stops the UI and the server (SIGINT: the server leaves its ring and
// closes its shards).
func (c *Cluster) Stop() {
	if c.ui != nil {
		c.ui.stop()
	}
	if c.server != nil {
		c.server.stop()
	}
}

// process is a child that stops with its parent.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	tail *tailBuffer
}

func startProcess(bin string, log io.Writer, args ...string) (*process, error) {
	p := &process{cmd: exec.Command(bin, args...), done: make(chan struct{}), tail: &tailBuffer{max: 4096}}
	out := io.MultiWriter(logOrDiscard(log), p.tail)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	dieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *process) stop() { stopProcess(p.cmd, p.done, syscall.SIGINT, 15*time.Second) }

// portOpen tells whether something listens on a loopback port.
func portOpen(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// waitHealthy waits until the frontend at hostPort answers a health check.
func waitHealthy(ctx context.Context, hostPort string, p *process, what string) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := client.Dial(client.Options{HostPort: hostPort, Logger: quietLogger{}})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start: %w\n%s", what, err, p.tail.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 90s: %w", what, err)
		}
	}
}
