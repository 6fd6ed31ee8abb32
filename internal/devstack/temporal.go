package devstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SearchAttributes are registered at server start; workflows set them so an
// operator can list a tenant's workflows.
var SearchAttributes = []string{"TenantId", "ServiceName", "InstanceId"}

// TemporalOptions configures the dev server.
type TemporalOptions struct {
	// ModuleDir is the temporal-dev folder whose go.mod pins the CLI.
	ModuleDir string
	// DBFile keeps state across restarts; empty keeps it in memory.
	DBFile string
	// Port is the gRPC port (0 picks a free one); UIPort 0 means headless.
	Port, UIPort int
	// Namespace is created beside "default", with the search attributes;
	// empty or "default" adds none.
	Namespace string
	Log       io.Writer
}

// Temporal is a running dev server.
type Temporal struct {
	HostPort string
	UIURL    string
	cmd      *exec.Cmd
	done     chan struct{}
	tail     *tailBuffer
}

// TemporalBinary resolves the pinned CLI through `go tool -n`, building it on
// first use (minutes on two cores), so the server runs as our direct child.
func TemporalBinary(ctx context.Context, moduleDir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "-n", "temporal")
	cmd.Dir = moduleDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build the temporal CLI in %s: %w\n%s", moduleDir, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// StartTemporal starts `temporal server start-dev` with our search
// attributes and eager activities, and waits until it answers.
func StartTemporal(ctx context.Context, opts TemporalOptions) (*Temporal, error) {
	bin, err := TemporalBinary(ctx, opts.ModuleDir)
	if err != nil {
		return nil, err
	}
	port := opts.Port
	ports, err := FreePorts(3, port)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		port = ports[2]
	}
	httpPort, metricsPort := ports[0], ports[1]
	args := []string{"server", "start-dev", "--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--http-port", strconv.Itoa(httpPort), "--metrics-port", strconv.Itoa(metricsPort),
		"--log-level", "warn",
		"--dynamic-config-value", "system.enableActivityEagerExecution=true",
		"--dynamic-config-value", "system.enableEagerWorkflowStart=true",
		"--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true",
		// The history service's queue readers poll at most 20 times a
		// second by default: past a short burst, every workflow task and
		// child start then waits ~50 ms for its turn. One developer's
		// server can afford to poll as fast as work arrives.
		"--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
		"--dynamic-config-value", "history.timerProcessorMaxPollRPS=1000",
		"--dynamic-config-value", "history.visibilityProcessorMaxPollRPS=1000",
		"--dynamic-config-value", "history.outboundProcessorMaxPollRPS=1000",
		// The dev server keeps everything in SQLite behind one connection,
		// so a burst (every account's period closing at once) is bounded
		// by how few statements each workflow task costs and how well the
		// history shard keeps that connection busy (bench:billing, 2,000
		// closes: 93 → 126 invoices/s with the settings below):
		//  - its one history shard runs one persistence call at a time by
		//    default; sixteen in flight overlap encoding with SQL;
		//  - the CLI re-reads search attributes from the database on every
		//    use so that ones added at run time show at once; ours are all
		//    declared at start (--search-attribute), so the cache is safe;
		//  - a 512 KB events cache misses for a few thousand workflows and
		//    rereads history (the start event that continue-as-new copies);
		//  - the CLI caches 8,096 workflows' state, fewer than a burst of
		//    10,000 closes (bench:billing -large) touches twice.
		"--dynamic-config-value", "history.shardIOConcurrency=16",
		"--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=false",
		"--dynamic-config-value", "history.eventsCacheMaxSizeBytes=67108864",
		"--dynamic-config-value", "history.hostLevelCacheMaxSize=32768",
		// One partition per task queue: with a handful of pollers, tasks
		// and polls on different partitions otherwise meet only through
		// forwarding, which now and then costs seconds.
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
		// Worker Deployments (versioning v3) are on by default in server
		// 1.29 (system.enableDeploymentVersions, frontend.
		// workerVersioningWorkflowAPIs); a version no longer current is
		// checked for open pinned workflows first after a grace period
		// for visibility to catch up, then at intervals, both 3 minutes by
		// default. The dev server's visibility is its own SQLite, written
		// with the workflow, so a few seconds are enough: a drained
		// version shows as drained a few seconds after its last pinned
		// workflow closes instead of 3 to 6 minutes.
		"--dynamic-config-value", `matching.wv.VersionDrainageStatusVisibilityGracePeriod="5s"`,
		"--dynamic-config-value", `matching.wv.VersionDrainageStatusRefreshInterval="5s"`,
	}
	for _, sa := range SearchAttributes {
		args = append(args, "--search-attribute", sa+"=Keyword")
	}
	if opts.Namespace != "" && opts.Namespace != "default" {
		args = append(args, "--namespace", opts.Namespace)
	}
	if opts.DBFile != "" {
		args = append(args, "--db-filename", opts.DBFile)
	}
	t := &Temporal{HostPort: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan struct{})}
	if opts.UIPort == 0 {
		args = append(args, "--headless")
	} else {
		args = append(args, "--ui-port", strconv.Itoa(opts.UIPort))
		t.UIURL = fmt.Sprintf("http://127.0.0.1:%d", opts.UIPort)
	}
	t.cmd = exec.Command(bin, args...)
	t.cmd.Dir = opts.ModuleDir
	t.tail = &tailBuffer{max: 4096}
	out := io.MultiWriter(logOrDiscard(opts.Log), t.tail)
	t.cmd.Stdout, t.cmd.Stderr = out, out
	dieWithParent(t.cmd)
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start temporal dev server: %w", err)
	}
	go func() { _ = t.cmd.Wait(); close(t.done) }()
	if err := t.waitReady(ctx); err != nil {
		t.Stop()
		return nil, err
	}
	return t, nil
}

func (t *Temporal) waitReady(ctx context.Context) error {
	return waitHealthy(ctx, t.HostPort, &process{cmd: t.cmd, done: t.done, tail: t.tail}, "temporal dev server")
}

// Stop shuts the server down, giving SQLite time to close cleanly.
func (t *Temporal) Stop() {
	stopProcess(t.cmd, t.done, syscall.SIGINT, 15*time.Second)
}

// Kill ends the server with SIGKILL, for the fault suite; StartTemporal
// with the same DBFile and Port brings it back with its state.
func (t *Temporal) Kill() {
	stopProcess(t.cmd, t.done, syscall.SIGKILL, 10*time.Second)
}

// ModuleDirFrom finds temporal-dev/ from a folder inside the repository.
func ModuleDirFrom(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if m, _ := filepath.Glob(filepath.Join(d, "temporal-dev", "go.mod")); len(m) == 1 {
			return filepath.Join(d, "temporal-dev")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(dir, "temporal-dev")
		}
	}
}

type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

// PID is the dev server process's, to read its CPU time.
func (t *Temporal) PID() int { return t.cmd.Process.Pid }
