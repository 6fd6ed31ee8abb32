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
	v, err := c.follow(id, platform.KindEnable, "tenantry instance "+id+" --wait", provisioned(stopAtSetup))
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

// followAgainAndReport follows an instance brought back by enable-again
// (its DisableService's steps, where re-enabling replaces the rest) until
// it is ready again, and reports it; a re-enable that failed is an error.
func (c *call) followAgainAndReport(id string) error {
	v, err := c.follow(id, platform.KindDisable, "tenantry instance "+id, func(v platform.Instance, p *workflows.Progress) (bool, error) {
		switch {
		case v.Status == "ready":
			return true, nil
		case p != nil && (p.Status == workflows.StatusFailed || p.Status == workflows.StatusCancelled):
			return false, fmt.Errorf("enabling %s again failed: %s", v.ID, p.Error)
		case v.Status != "disabled":
			return false, fmt.Errorf("%s is %s, not coming back", v.ID, v.Status)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return c.print(v, func(w io.Writer) { fmt.Fprintf(w, "Ready again: %s answers at %s with its data.\n", v.ID, v.Host) })
}

// provisioned says when following a provisioning is over: ready, failed
// (an error) or, with stopAtSetup, waiting for its setup.
func provisioned(stopAtSetup bool) func(platform.Instance, *workflows.Progress) (bool, error) {
	return func(v platform.Instance, p *workflows.Progress) (bool, error) {
		switch {
		case v.Status == "ready":
			return true, nil
		case v.Status == "failed":
			reason := v.FailureReason
			if reason == "" && p != nil {
				reason = p.Error
			}
			return false, fmt.Errorf("provisioning of %s failed: %s", v.ID, reason)
		case v.Status != "provisioning":
			return false, fmt.Errorf("%s is %s, not provisioning", v.ID, v.Status)
		case stopAtSetup && p != nil && stepState(p, workflows.EnableStepSetup) == workflows.StepWaiting:
			return true, nil
		}
		return false, nil
	}
}

// follow polls the instance, showing the steps of its workflow of kind as
// they change, until over says it is (or fails); Ctrl-C stops following,
// naming resume, the command that looks again.
func (c *call) follow(id, kind, resume string, over func(platform.Instance, *workflows.Progress) (bool, error)) (platform.Instance, error) {
	d := &display{w: c.out, quiet: c.json, seen: map[string]workflows.StepState{}}
	_, d.tty = terminal(c.out)
	tick := time.NewTicker(PollInterval)
	defer tick.Stop()
	stopped := errors.New("stopped following; the work goes on: " + resume)
	for {
		v, err := c.client.Instance(c.ctx, id)
		if c.ctx.Err() != nil {
			return v, stopped
		}
		if err != nil {
			return v, err
		}
		p := workflowProgress(v, kind)
		if p != nil {
			d.show(p.Steps)
		}
		if done, err := over(v, p); done || err != nil {
			return v, err
		}
		select {
		case <-c.ctx.Done():
			return v, stopped
		case <-tick.C:
		}
	}
}

// workflowProgress is the progress of the instance's workflow of kind.
func workflowProgress(v platform.Instance, kind string) *workflows.Progress {
	for _, f := range v.Workflows {
		if f.Kind == kind {
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
