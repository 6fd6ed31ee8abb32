package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/platform"
	"tenantry/worker"
)

// WorkersView is the developers' Workers page: each Worker Deployment
// with its versions (one per build).
type WorkersView struct {
	Deployments []WorkerDeploymentView
}

// WorkerDeploymentView is one Worker Deployment.
type WorkerDeploymentView struct {
	Name, Current, Ramping, Describe string
	Versions                         []WorkerVersionView
}

// WorkerVersionView is one build of a deployment.
type WorkerVersionView struct {
	Deployment, BuildID, Status string
	Created                     string
	Ramp                        string // "25 %" while it ramps
	DrainageChecked             string
	OpenPinned                  int64
	Pollers                     []WorkerPollerView
	Processes                   []string // host, pid, since
	// Advice says what the status means for its workers.
	Advice              string
	MayStop, Stranded   bool
	CanMakeCurrent      bool
	CanRamp             bool
	ListPinned          string
	SetCurrent, SetRamp string
}

// WorkerPollerView is one worker's polls of one task queue.
type WorkerPollerView struct {
	Identity, Queue, LastPoll string
}

func (k *Console) devWorkersPage(c *gin.Context) { k.showWorkers(c, http.StatusOK, "") }

func (k *Console) showWorkers(c *gin.Context, status int, errMsg string) {
	list, err := k.P.Workers(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	p := k.page(c, "Workers")
	p.Error = errMsg
	k.render(c, status, DevWorkersPage(p, WorkersViewOf(list, k.Clock())))
}

func (k *Console) devSetCurrentBuild(c *gin.Context) {
	deployment, build := c.Param("deployment"), c.Param("build")
	if err := k.P.SetCurrentBuild(c.Request.Context(), who(c), deployment, build); err != nil {
		k.showWorkers(c, apperr.HTTPStatus(err), apperr.Message(err))
		return
	}
	k.redirect(c, "/dev/workers", "Build "+build+" is current: new workflows run on it; pinned ones finish on the build they started on.")
}

func (k *Console) devRampBuild(c *gin.Context) {
	deployment, build := c.Param("deployment"), c.Param("build")
	pct, err := strconv.ParseFloat(strings.TrimSpace(c.PostForm("percentage")), 32)
	if err != nil {
		k.showWorkers(c, http.StatusUnprocessableEntity, "The ramp percentage is a number from 0 to 100.")
		return
	}
	if err := k.P.RampBuild(c.Request.Context(), who(c), deployment, build, float32(pct)); err != nil {
		k.showWorkers(c, apperr.HTTPStatus(err), apperr.Message(err))
		return
	}
	notice := "Build " + build + " gets " + percent(float32(pct)) + " of new workflows."
	if pct == 0 {
		notice = "Build " + build + "'s ramp is paused at 0 %: it gets no new workflow."
	}
	k.redirect(c, "/dev/workers", notice)
}

// WorkersViewOf turns the platform's deployments into the page's view.
func WorkersViewOf(list []platform.WorkerDeployment, now time.Time) WorkersView {
	var v WorkersView
	for _, d := range list {
		dv := WorkerDeploymentView{Name: d.Name, Current: d.Current, Ramping: d.Ramping, Describe: d.Describe}
		for _, ver := range d.Versions {
			vv := WorkerVersionView{Deployment: d.Name, BuildID: ver.BuildID, Status: ver.Status,
				Created: ver.CreatedAt.UTC().Format(time.DateTime), OpenPinned: ver.OpenPinned,
				MayStop: ver.MayStop, Stranded: ver.Stranded,
				CanMakeCurrent: ver.Status != worker.StatusCurrent, CanRamp: ver.Status != worker.StatusCurrent,
				ListPinned: ver.ListPinned, SetCurrent: ver.SetCurrent, SetRamp: ver.SetRamping}
			if ver.Status == worker.StatusRamping {
				vv.Ramp = percent(ver.RampPercentage)
			}
			if ver.DrainageChecked != nil {
				vv.DrainageChecked = ago(now, *ver.DrainageChecked)
			}
			for _, p := range ver.Pollers {
				vv.Pollers = append(vv.Pollers, WorkerPollerView{Identity: p.Identity, Queue: p.TaskQueue + " (" + p.Kind + ")",
					LastPoll: ago(now, p.LastAccess)})
			}
			for _, p := range ver.Processes {
				vv.Processes = append(vv.Processes, p.Host+" pid "+strconv.Itoa(p.PID)+", up since "+p.StartedAt.UTC().Format(time.DateTime))
			}
			vv.Advice = advice(ver)
			dv.Versions = append(dv.Versions, vv)
		}
		v.Deployments = append(v.Deployments, dv)
	}
	return v
}

// advice says what a version's status means for its workers.
func advice(v platform.WorkerVersion) string {
	switch {
	case v.Stranded:
		return "Open pinned workflows wait for this build and none of its workers polls: start a worker of this build."
	case v.Status == worker.StatusCurrent:
		return "New workflows run on this build. Keep its workers running."
	case v.Status == worker.StatusRamping:
		return "It gets part of the new workflows. Keep its workers running."
	case v.Status == worker.StatusDraining:
		return "Pinned workflows that started on it still run: keep its workers running until it shows drained."
	case v.MayStop:
		return "Drained: no open workflow needs this build. Its workers may stop."
	}
	return "It gets no workflow until it is made current or ramped."
}

func percent(p float32) string {
	return strconv.FormatFloat(float64(p), 'f', -1, 32) + " %"
}

// ago is "12 s ago" for recent instants, a date otherwise.
func ago(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	if d < time.Hour {
		return d.String() + " ago"
	}
	return t.UTC().Format(time.DateTime)
}
