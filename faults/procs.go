package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// proc is one tenantry process (web, worker, router) run from the binary
// built once; it can be killed, stopped and started again with the same
// environment, appending to the same log.
type proc struct {
	name string
	bin  string
	cmd  string // tenantry sub-command
	env  []string
	log  string

	p    *exec.Cmd
	done chan struct{}
}

func (s *suite) newProc(name, cmd string, extra ...string) *proc {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	env = append(env, s.env...)
	env = append(env, extra...)
	return &proc{name: name, bin: s.bin, cmd: cmd, env: env, log: filepath.Join(s.dir, name+".log")}
}

func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "--- start %s\n", time.Now().Format(time.RFC3339Nano))
	c := exec.Command(p.bin, p.cmd)
	c.Env, c.Stdout, c.Stderr = p.env, f, f
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		f.Close()
		return err
	}
	p.p, p.done = c, make(chan struct{})
	go func() { _ = c.Wait(); f.Close(); close(p.done) }()
	return nil
}

func (p *proc) alive() bool {
	if p.p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill is SIGKILL: no cleanup at all.
func (p *proc) kill() {
	if p.alive() {
		_ = p.p.Process.Kill()
		<-p.done
	}
}

// stop is SIGTERM, the graceful stop, killed after grace.
func (p *proc) stop(grace time.Duration) (graceful bool) {
	if !p.alive() {
		return true
	}
	_ = p.p.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.p.ProcessState.ExitCode() == 0
	case <-time.After(grace):
		p.kill()
		return false
	}
}

func (p *proc) pid() int {
	if p.p == nil {
		return 0
	}
	return p.p.Process.Pid
}

// tail is the end of the process's log, for a failure's report.
func (p *proc) tail(n int64) string {
	f, err := os.Open(p.log)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
