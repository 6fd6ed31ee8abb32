package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"tenantry/internal/platform"
	"tenantry/workflows"
)

// PollInterval is how often --wait asks for the instance's progress.
const PollInterval = 250 * time.Millisecond

// followAndReport follows an instance's provisioning (GET
// /api/instances/{id}) and reports the outcome: ready, or waiting for
// its setup when stopAtSetup (both fine), or the failure (an error).
func (c *call) followAndReport(id string, stopAtSetup bool) error {
	d := &display{w: c.out, quiet: c.json, seen: map[string]workflows.StepState{}}
	_, d.tty = terminal(c.out)
	v, err := c.follow(id, stopAtSetup, d)
	if err != nil {
		return err
	}
	return c.print(v, func(w io.Writer) {
		if v.Status == "ready" {
			fmt.Fprintf(w, "Ready: %s answers at %s.\n", v.ID, v.Host)
			return
		}
		fmt.Fprintf(w, "Provisioning waits for the setup page (the service's first admin and language). Send it with:\n  %s\n", setupHint(v.ID))
	})
}

// follow polls until the instance is ready, failed or (stopAtSetup) waits
// for its setup, showing the enable workflow's steps as they change.
func (c *call) follow(id string, stopAtSetup bool, d *display) (platform.Instance, error) {
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	for {
		v, err := c.client.Instance(c.ctx, id)
		if c.ctx.Err() != nil {
			return v, errStopped(id)
		}
		if err != nil {
			return v, err
		}
		p := enableProgress(v)
		if p != nil {
			d.show(p.Steps)
		}
		switch {
		case v.Status == "ready":
			return v, nil
		case v.Status == "failed":
			reason := v.FailureReason
			if reason == "" && p != nil {
				reason = p.Error
			}
			return v, fmt.Errorf("provisioning of %s failed: %s", v.ID, reason)
		case v.Status != "provisioning":
			return v, fmt.Errorf("%s is %s, not provisioning", v.ID, v.Status)
		case stopAtSetup && p != nil && stepState(p, workflows.EnableStepSetup) == workflows.StepWaiting:
			return v, nil
		}
		select {
		case <-c.ctx.Done():
			return v, errStopped(id)
		case <-tick.C:
		}
	}
}

// errStopped: Ctrl-C ends the display, not the provisioning.
func errStopped(id string) error {
	return errors.New("stopped following; provisioning goes on: tenantry instance " + id + " --wait")
}

func enableProgress(v platform.Instance) *workflows.Progress {
	for _, f := range v.Workflows {
		if f.Kind == platform.KindEnable {
			return f.Progress
		}
	}
	return nil
}

func stepState(p *workflows.Progress, name string) workflows.StepState {
	for _, s := range p.Steps {
		if s.Name == name {
			return s.State
		}
	}
	return ""
}

// display shows steps as they change: on a terminal the whole list,
// redrawn in place; elsewhere (a pipe, a log) one line per step that
// starts, waits or ends.
type display struct {
	w     io.Writer
	tty   bool
	quiet bool
	drawn int
	seen  map[string]workflows.StepState
}

func (d *display) show(steps []workflows.Step) {
	if d.quiet {
		return
	}
	now := time.Now()
	if d.tty {
		var b strings.Builder
		if d.drawn > 0 {
			fmt.Fprintf(&b, "\x1b[%dA", d.drawn)
		}
		for _, s := range steps {
			fmt.Fprintf(&b, "\x1b[2K  %s\n", stepLine(s, now))
		}
		d.drawn = len(steps)
		_, _ = io.WriteString(d.w, b.String())
		return
	}
	for _, s := range steps {
		if s.State == workflows.StepPending || d.seen[s.Name] == s.State {
			continue
		}
		d.seen[s.Name] = s.State
		fmt.Fprintf(d.w, "  %s\n", stepLine(s, now))
	}
}

// marks are the steps' states at a glance.
var marks = map[workflows.StepState]string{
	workflows.StepPending: " ", workflows.StepRunning: ">", workflows.StepWaiting: "…", workflows.StepDone: "✓",
	workflows.StepFailed: "✗", workflows.StepCompensated: "↺", workflows.StepSkipped: "-",
}

// stepLine is one step: its mark, title, state and how long it took (or
// has been running), and its error.
func stepLine(s workflows.Step, now time.Time) string {
	mark := marks[s.State]
	if mark == "" {
		mark = "?"
	}
	line := fmt.Sprintf("%s %-50s %-11s", mark, s.Title, s.State)
	if s.StartedAt != nil {
		end := now
		if s.EndedAt != nil {
			end = *s.EndedAt
		}
		line += " " + end.Sub(*s.StartedAt).Round(time.Millisecond).String()
	}
	if s.Error != "" {
		line += ": " + s.Error
	}
	return strings.TrimRight(line, " ")
}
