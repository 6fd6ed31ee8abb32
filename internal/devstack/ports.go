// Package devstack starts the parts Tenantry needs on a developer's machine
// and in tests: a private PostgreSQL cluster, and the Temporal dev server or
// the real Temporal server persisted in PostgreSQL (with its Web UI), all as
// child processes bound to loopback that stop with their parent.
package devstack

import (
	"fmt"
	"net"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// FreePort asks the kernel for an unused loopback port.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts asks the kernel for n unused loopback ports, distinct from one
// another and from except (ports already promised to a server that has not
// bound them yet). Asked one at a time, the kernel may hand out a port it
// just gave back: a dev server once got the same port for gRPC and HTTP and
// failed to start. Every listener stays open until all are chosen.
func FreePorts(n int, except ...int) ([]int, error) {
	var open []net.Listener
	defer func() {
		for _, l := range open {
			l.Close()
		}
	}()
	var ports []int
	for len(ports) < n {
		if len(open) > n+len(except)+8 {
			return nil, fmt.Errorf("no %d free loopback ports apart from %v", n, except)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		open = append(open, l)
		if port := l.Addr().(*net.TCPAddr).Port; !slices.Contains(except, port) {
			ports = append(ports, port)
		}
	}
	return ports, nil
}

// portFree tells whether a loopback port can be bound now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// dieWithParent makes the kernel stop a child when this process dies, so a
// killed test run leaves no servers behind.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// stopProcess asks a child to stop with sig and kills it after grace.
func stopProcess(cmd *exec.Cmd, done <-chan struct{}, sig syscall.Signal, grace time.Duration) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// tailBuffer keeps the last max bytes written, to quote a child's last words
// when it dies during start.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
