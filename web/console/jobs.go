package console

import (
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/access"
	"tenantry/internal/controldb"
	"tenantry/internal/platform"
)

// JobsView is the jobs part of an instance's page.
type JobsView struct {
	InstanceID, Service, Version string
	// CanStart: the principal may start jobs and the instance is ready.
	CanStart  bool
	Available []JobChoice
	Runs      []JobRow
	// Live keeps the part polling: some run has not finished.
	Live bool
}

// JobChoice is a job the instance's version offers.
type JobChoice struct{ Name, Title, Description string }

// JobRow is one run: the version whose code it runs, where it stands
// ("held by rollout …" while held), how long it took and what it did.
type JobRow struct {
	ID, Title, CodeOf, Status, StatusText, Queued, Took, Outcome, Error string
}

func jobsView(v platform.Instance, jobs platform.InstanceJobs, canManage bool) JobsView {
	out := JobsView{InstanceID: v.ID, Service: v.Service, Version: v.Version,
		CanStart: canManage && v.Status == "ready" && !v.Maintenance}
	for _, j := range jobs.Available {
		out.Available = append(out.Available, JobChoice{Name: j.Name, Title: j.Title, Description: j.Description})
	}
	for _, j := range jobs.Jobs {
		r := JobRow{ID: j.ID, Title: j.Title, CodeOf: j.Version + " (schema " + itoa(int(j.SchemaVersion)) + ")",
			Status: j.Status, StatusText: j.Status, Queued: j.QueuedAt.UTC().Format("2 Jan 15:04:05 UTC"), Error: j.Error}
		if j.Status == controldb.JobHeld || j.HeldBy != "" && j.Live() {
			r.Status, r.StatusText = controldb.JobHeld, "held by rollout "+j.HeldBy
		}
		if j.StartedAt != nil && j.FinishedAt != nil {
			r.Took = j.FinishedAt.Sub(*j.StartedAt).Round(time.Millisecond).String()
		}
		if j.Result != nil {
			r.Outcome = j.Result.Summary
		}
		out.Live = out.Live || j.Live()
		out.Runs = append(out.Runs, r)
	}
	return out
}

// instanceJobs loads the jobs part of an instance's page.
func (k *Console) instanceJobs(c *gin.Context, v platform.Instance) (JobsView, error) {
	u := who(c)
	jobs, err := k.P.InstanceJobs(c.Request.Context(), u, v.ID)
	if err != nil {
		return JobsView{}, err
	}
	return jobsView(v, jobs, u.Can(access.InstancesManage)), nil
}

// jobsFragment is the htmx fragment of the jobs part.
func (k *Console) jobsFragment(c *gin.Context) {
	v, err := k.P.Instance(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	view, err := k.instanceJobs(c, v)
	if err != nil {
		k.fail(c, err)
		return
	}
	k.render(c, 200, Jobs(view))
}

// jobSubmit starts a job from the instance's page and comes back to it.
func (k *Console) jobSubmit(c *gin.Context) {
	k.instanceAction(c, func(id string) (string, error) {
		j, err := k.P.StartJob(c.Request.Context(), who(c), id, c.PostForm("job"))
		return "The job “" + j.Title + "” is queued: follow it below.", err
	})
}
