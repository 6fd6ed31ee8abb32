package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/platform"
	"tenantry/web/api"
	"tenantry/workflows"
)

// Rollouts is the developers' rollouts page: a form that starts one and
// every rollout, running and past.
type Rollouts struct {
	Targets []string // "forum 1.2.0", the versions one may roll out
	Rows    []RolloutLine
}

// RolloutLine is one rollout in the list.
type RolloutLine struct {
	ID, Title, StartedBy, Started, Outcome, Counts string
	Running                                        bool
}

// RolloutPage is one rollout, with its live part.
type RolloutPage struct {
	ID, Title, WorkflowID, StartedBy, Started string
	Live                                      RolloutLive
}

// RolloutLive is the part of a rollout's page that htmx refreshes while it
// runs.
type RolloutLive struct {
	ID            string
	Running       bool // refreshed every 2 s while true
	Status, Stage string
	Outcome       string
	Error         string
	ProgressError string
	Paused        string // why, when paused
	Approval      string
	Plan          []string
	Ready         bool
	ReadyReason   string
	Processes     []RolloutProcess
	Jobs          string
	Counts        []RolloutCount
	Percent       int
	InFlight      []string
	// Moving are instances left for last: a move holds their maintenance.
	Moving   []string
	Failures []RolloutFailureLine
	Steps    []RolloutStep
	Controls []RolloutControlView
}

// RolloutProcess is one live process in the readiness table.
type RolloutProcess struct {
	Kind, Host, PID, Build, Serves, LastSeen string
	CanServe                                 bool
}

// RolloutCount is the number of the rollout's instances in one state.
type RolloutCount struct {
	State string
	N     int
}

// RolloutFailureLine is one failed instance.
type RolloutFailureLine struct {
	InstanceID, Host, Reason string
}

// RolloutStep is one step of the rollout.
type RolloutStep struct {
	Title, State, Error string
}

// RolloutControlView is one control: its button and the command line that
// does the same.
type RolloutControlView struct {
	Name, Command string
	Decisions     []string // the drain's choices
}

func (k *Console) rolloutsPage(c *gin.Context) {
	rows, err := k.P.Rollouts(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	var v Rollouts
	for _, name := range k.P.ServiceNames() {
		svc, err := k.P.Service(name)
		if err != nil {
			continue
		}
		for i := len(svc.Versions) - 1; i >= 0; i-- { // newest first
			v.Targets = append(v.Targets, name+" "+svc.Versions[i].Version)
		}
	}
	for _, r := range rows {
		line := RolloutLine{ID: r.ID, Title: r.Service + " → " + r.Version, StartedBy: r.StartedBy,
			Started: r.StartedAt.UTC().Format(time.DateTime), Outcome: r.Outcome, Running: r.EndedAt == nil}
		if line.Running {
			line.Outcome = "running"
		}
		var parts []string
		for _, s := range []string{"done", "failed", "queued", "pending", "skipped"} {
			if n := r.Counts[s]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, s))
			}
		}
		line.Counts = strings.Join(parts, " · ")
		v.Rows = append(v.Rows, line)
	}
	k.render(c, http.StatusOK, RolloutsPage(k.page(c, "Rollouts"), v))
}

// rolloutSubmit starts a rollout from the form.
func (k *Console) rolloutSubmit(c *gin.Context) {
	service, version, _ := strings.Cut(c.PostForm("target"), " ")
	num := func(field string) (int, error) {
		s := strings.TrimSpace(c.PostForm(field))
		if s == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, apperr.Invalid("%s must be a whole number", strings.ReplaceAll(field, "_", " "))
		}
		return n, nil
	}
	var nums [4]int
	for i, f := range []string{"batch_size", "max_in_flight", "failure_threshold", "failure_threshold_percent"} {
		n, err := num(f)
		if err != nil {
			k.redirect(c, "/dev/rollouts", "Not started: "+apperr.Message(err))
			return
		}
		nums[i] = n
	}
	req, err := api.RolloutRequest(service, version, nums[0], nums[1], nums[2], nums[3],
		strings.TrimSpace(c.PostForm("instance_deadline")), strings.TrimSpace(c.PostForm("drain_deadline")), c.PostForm("auto_approve") != "")
	if err == nil {
		var started platform.RolloutStarted
		if started, err = k.P.StartRollout(c.Request.Context(), who(c), req); err == nil {
			k.redirect(c, "/dev/rollouts/"+started.ID, "Rollout "+started.WorkflowID+" started.")
			return
		}
	}
	if apperr.HTTPStatus(err) >= 500 {
		k.fail(c, err)
		return
	}
	k.redirect(c, "/dev/rollouts", "Not started: "+apperr.Message(err))
}

func (k *Console) rolloutPage(c *gin.Context) {
	v, err := k.P.Rollout(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	page := RolloutPage{ID: v.ID, Title: v.Service + " → " + v.Version, WorkflowID: v.WorkflowID, StartedBy: v.StartedBy,
		Started: v.StartedAt.UTC().Format(time.DateTime), Live: rolloutLive(v)}
	k.render(c, http.StatusOK, RolloutPageView(k.page(c, "Rollout of "+page.Title), page))
}

// rolloutLivePart is the htmx fragment of a rollout's page.
func (k *Console) rolloutLivePart(c *gin.Context) {
	v, err := k.P.Rollout(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	k.render(c, http.StatusOK, RolloutLivePart(rolloutLive(v)))
}

// rolloutControl sends a control from its button and comes back to the
// page with the answer.
func (k *Console) rolloutControl(c *gin.Context) {
	id, control := c.Param("id"), c.Param("control")
	to := "/dev/rollouts/" + id
	err := k.P.ControlRollout(c.Request.Context(), who(c), id, control, c.PostForm("decision"))
	switch {
	case err == nil:
		k.redirect(c, to, strings.ToUpper(control[:1])+control[1:]+": done.")
	case apperr.HTTPStatus(err) >= 500:
		k.fail(c, err)
	default:
		k.redirect(c, to, strings.ToUpper(control[:1])+control[1:]+" refused: "+apperr.Message(err))
	}
}

// rolloutLive turns the platform's view into the live part's view.
func rolloutLive(v platform.RolloutView) RolloutLive {
	l := RolloutLive{ID: v.ID, Running: v.EndedAt == nil, Outcome: v.Outcome, ProgressError: v.ProgressError,
		Ready: v.Readiness.Ready, ReadyReason: v.Readiness.Reason}
	for _, p := range v.Readiness.Processes {
		l.Processes = append(l.Processes, RolloutProcess{Kind: p.Kind, Host: p.Host, PID: strconv.Itoa(p.PID), Build: p.Build,
			Serves: strings.Join(p.Serves, ", "), CanServe: p.CanServe, LastSeen: p.LastSeen.UTC().Format(time.TimeOnly)})
	}
	jobs := "not held"
	if v.Jobs.Held {
		jobs = "held by " + v.Jobs.HeldBy
	}
	l.Jobs = fmt.Sprintf("%s · %d in flight", jobs, v.Jobs.InFlight)
	counts := map[string]int{}
	for s, n := range v.Counts {
		counts[s] = n
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if p := v.Progress; p != nil {
		l.Status, l.Stage, l.Error = string(p.Status), p.Stage, p.Error
		if p.Paused != nil {
			l.Paused = p.Paused.Reason
		}
		if p.Approval != nil {
			l.Approval = "approved by " + p.Approval.By + " at " + p.Approval.At.UTC().Format(time.DateTime)
		}
		if pl := p.Plan; pl != nil {
			l.Plan = append(l.Plan, fmt.Sprintf("%d instances to move to schema %d (%d disabled in their grace period: upgraded in place)",
				pl.Total, pl.TargetSchema, pl.Disabled))
			for _, f := range pl.From {
				line := fmt.Sprintf("%d on %s (schema %d)", f.Instances, f.Version, f.Schema)
				if len(f.Dropped) > 0 {
					line += fmt.Sprintf("; drops %s: %d of them have it, billed up to their own swap", strings.Join(f.Dropped, ", "), f.WithDropped)
				}
				l.Plan = append(l.Plan, line)
			}
		}
		switch {
		case p.Jobs.Released:
			l.Jobs += " · released"
		case p.Jobs.Drained:
			l.Jobs += " · drained"
		case p.Jobs.Proceeded:
			l.Jobs += " · went on past the drain deadline"
		case p.Jobs.DrainDeadline != nil:
			l.Jobs += " · draining until " + p.Jobs.DrainDeadline.UTC().Format(time.DateTime)
		}
		counts["running"] = p.Counts.Running
		counts["queued"] = max(0, counts["queued"]-p.Counts.Running)
		l.InFlight, l.Moving = p.InFlight, p.Moving
		for _, s := range p.Steps {
			l.Steps = append(l.Steps, RolloutStep{Title: s.Title, State: string(s.State), Error: s.Error})
		}
		total = max(total, p.Counts.Total)
	}
	for _, s := range []string{"pending", "queued", "running", "done", "failed", "skipped"} {
		l.Counts = append(l.Counts, RolloutCount{State: s, N: counts[s]})
	}
	if total > 0 {
		l.Percent = 100 * (counts["done"] + counts["failed"] + counts["skipped"]) / total
	}
	for _, f := range v.Failed {
		l.Failures = append(l.Failures, RolloutFailureLine{InstanceID: f.InstanceID, Host: f.Host, Reason: f.Error})
	}
	if l.Running {
		for _, name := range workflows.RolloutControls {
			cv := RolloutControlView{Name: name, Command: v.Commands[name]}
			if name == workflows.RolloutDrain {
				cv.Decisions = []string{workflows.DrainWait, workflows.DrainProceed}
			}
			l.Controls = append(l.Controls, cv)
		}
	}
	return l
}
