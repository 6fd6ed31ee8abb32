package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"tenantry/internal/apperr"
)

// What Temporal knows of the Worker Deployments: their versions, each
// version's status, pollers and open pinned workflows, and the two ways to
// route new work to a version (make it current, or ramp it).

// Version statuses, as the Workers page shows them.
const (
	StatusCurrent  = "current"
	StatusRamping  = "ramping"
	StatusDraining = "draining"
	StatusDrained  = "drained"
	StatusInactive = "inactive"
)

// Deployment is one Worker Deployment and its versions, newest first.
type Deployment struct {
	Name string `json:"name"`
	// Current and Ramping are build IDs ("" for none); RampPercentage is
	// the share of new work the ramping version gets.
	Current        string    `json:"current"`
	Ramping        string    `json:"ramping"`
	RampPercentage float32   `json:"ramp_percentage"`
	CreatedAt      time.Time `json:"created_at"`
	Versions       []Version `json:"versions"`
}

// Version is one build of a deployment.
type Version struct {
	BuildID   string    `json:"build_id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	// RampPercentage is set while it ramps.
	RampPercentage float32 `json:"ramp_percentage,omitempty"`
	// DrainageChecked is when the server last counted its open pinned
	// workflows (draining and drained versions).
	DrainageChecked *time.Time `json:"drainage_checked,omitempty"`
	// TaskQueues are the task queues its workers poll.
	TaskQueues []string `json:"task_queues"`
	// Pollers are its workers' recent polls (the server remembers a poll
	// for five minutes).
	Pollers []Poller `json:"pollers"`
	// OpenPinned counts its running pinned workflows.
	OpenPinned int64 `json:"open_pinned"`
}

// Poller is one worker polling one task queue.
type Poller struct {
	Identity   string    `json:"identity"`
	TaskQueue  string    `json:"task_queue"`
	Kind       string    `json:"kind"` // workflow or activity
	LastAccess time.Time `json:"last_access"`
}

// PinnedQuery is the visibility query of a version's running pinned
// workflows (the one the server's drainage check runs).
func PinnedQuery(deployment, buildID string) string {
	return fmt.Sprintf("BuildIds = 'pinned:%s:%s' AND ExecutionStatus = 'Running'", deployment, buildID)
}

// Deployments lists every Worker Deployment of the namespace with its
// versions, DeploymentName first; none before a versioned worker first
// polls. The list comes from visibility, which briefly misses a
// deployment while its entity workflow continues as new (after a routing
// change), so DeploymentName is always asked for by name.
func Deployments(ctx context.Context, c client.Client) ([]Deployment, error) {
	names := []string{DeploymentName}
	it, err := c.WorkerDeploymentClient().List(ctx, client.WorkerDeploymentListOptions{})
	if err != nil {
		return nil, err
	}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		if !slices.Contains(names, e.Name) {
			names = append(names, e.Name)
		}
	}
	var out []Deployment
	for _, name := range names {
		d, err := Describe(ctx, c, name)
		if apperr.KindOf(err) == apperr.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Describe tells one deployment's versions with their status, pollers and
// open pinned workflows; apperr not found when it does not exist.
func Describe(ctx context.Context, c client.Client, name string) (Deployment, error) {
	h := c.WorkerDeploymentClient().GetHandle(name)
	resp, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		return Deployment{}, deploymentError(err, name)
	}
	info := resp.Info
	d := Deployment{Name: info.Name, CreatedAt: info.CreateTime,
		Current: buildOf(info.RoutingConfig.CurrentVersion), Ramping: buildOf(info.RoutingConfig.RampingVersion),
		RampPercentage: info.RoutingConfig.RampingVersionPercentage}
	pollers := map[string][]Poller{}
	described := map[string]bool{}
	for _, s := range info.VersionSummaries {
		v := Version{BuildID: s.Version.BuildID, CreatedAt: s.CreateTime, Pollers: []Poller{}, TaskQueues: []string{}}
		switch {
		case v.BuildID == d.Current:
			v.Status = StatusCurrent
		case v.BuildID == d.Ramping:
			v.Status, v.RampPercentage = StatusRamping, d.RampPercentage
		case s.DrainageStatus == client.WorkerDeploymentVersionDrainageStatusDraining:
			v.Status = StatusDraining
		case s.DrainageStatus == client.WorkerDeploymentVersionDrainageStatusDrained:
			v.Status = StatusDrained
		default:
			v.Status = StatusInactive
		}
		vd, err := h.DescribeVersion(ctx, client.WorkerDeploymentDescribeVersionOptions{BuildID: v.BuildID})
		if err != nil {
			return Deployment{}, deploymentError(err, name)
		}
		if di := vd.Info.DrainageInfo; di != nil && !di.LastCheckedTime.IsZero() {
			checked := di.LastCheckedTime
			v.DrainageChecked = &checked
		}
		for _, tq := range vd.Info.TaskQueuesInfos {
			if !slices.Contains(v.TaskQueues, tq.Name) {
				v.TaskQueues = append(v.TaskQueues, tq.Name)
			}
			key := tq.Name + "/" + kindName(tq.Type)
			if described[key] {
				continue
			}
			described[key] = true
			if err := addPollers(ctx, c, name, tq.Name, tq.Type, pollers); err != nil {
				return Deployment{}, err
			}
		}
		slices.Sort(v.TaskQueues)
		count, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: PinnedQuery(name, v.BuildID)})
		if err != nil {
			return Deployment{}, err
		}
		v.OpenPinned = count.GetCount()
		d.Versions = append(d.Versions, v)
	}
	for i, v := range d.Versions {
		if p := pollers[v.BuildID]; p != nil {
			d.Versions[i].Pollers = p
		}
	}
	slices.SortStableFunc(d.Versions, func(a, b Version) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return d, nil
}

// addPollers adds a task queue's pollers of the deployment, by build ID.
func addPollers(ctx context.Context, c client.Client, deployment, queue string, typ client.TaskQueueType, into map[string][]Poller) error {
	resp, err := c.DescribeTaskQueue(ctx, queue, queueTypes[typ].proto)
	if err != nil {
		return err
	}
	for _, p := range resp.GetPollers() {
		o := p.GetDeploymentOptions()
		if o.GetDeploymentName() != deployment {
			continue
		}
		into[o.GetBuildId()] = append(into[o.GetBuildId()], Poller{Identity: p.GetIdentity(), TaskQueue: queue,
			Kind: kindName(typ), LastAccess: p.GetLastAccessTime().AsTime()})
	}
	return nil
}

// queueTypes maps the SDK's task queue types to the API's and names them.
var queueTypes = map[client.TaskQueueType]struct {
	proto enums.TaskQueueType
	name  string
}{
	client.TaskQueueTypeWorkflow: {enums.TASK_QUEUE_TYPE_WORKFLOW, "workflow"},
	client.TaskQueueTypeActivity: {enums.TASK_QUEUE_TYPE_ACTIVITY, "activity"},
	client.TaskQueueTypeNexus:    {enums.TASK_QUEUE_TYPE_NEXUS, "nexus"},
}

func kindName(t client.TaskQueueType) string {
	if q, ok := queueTypes[t]; ok {
		return q.name
	}
	return "unknown"
}

func buildOf(v *sdkworker.WorkerDeploymentVersion) string {
	if v == nil {
		return ""
	}
	return v.BuildID
}

// SetCurrent makes a version current: new workflows and every auto-upgrade
// workflow's next task run on it; pinned ones stay where they started.
// A version no worker ever polled is not found (apperr); the server
// refuses one whose workers do not poll every task queue the current one
// does (apperr conflict, with the server's reason).
func SetCurrent(ctx context.Context, c client.Client, deployment, buildID, identity string) error {
	_, err := c.WorkerDeploymentClient().GetHandle(deployment).SetCurrentVersion(ctx,
		client.WorkerDeploymentSetCurrentVersionOptions{BuildID: buildID, Identity: identity})
	return deploymentError(err, deployment)
}

// SetRamping sends percentage % of new workflows (and of auto-upgrade
// workflows' tasks) to a version beside the current one; 0 pauses the
// ramp (the version stays ramping and gets nothing).
func SetRamping(ctx context.Context, c client.Client, deployment, buildID string, percentage float32, identity string) error {
	_, err := c.WorkerDeploymentClient().GetHandle(deployment).SetRampingVersion(ctx,
		client.WorkerDeploymentSetRampingVersionOptions{BuildID: buildID, Percentage: percentage, Identity: identity})
	return deploymentError(err, deployment)
}

// deploymentError turns the server's refusals into domain errors.
func deploymentError(err error, deployment string) error {
	var notFound *serviceerror.NotFound
	var precondition *serviceerror.FailedPrecondition
	var invalid *serviceerror.InvalidArgument
	switch {
	case err == nil:
		return nil
	case errors.As(err, &notFound):
		return apperr.NotFound("worker deployment %s: %s", deployment, notFound.Message)
	case errors.As(err, &precondition):
		return apperr.Conflict("worker deployment %s: %s", deployment, precondition.Message)
	case errors.As(err, &invalid):
		return apperr.Invalid("worker deployment %s: %s", deployment, invalid.Message)
	}
	return err
}

// ActivateOptions says when a starting worker routes new work to itself.
type ActivateOptions struct {
	// Orphaned, when set, says a build has no live worker left (the
	// process heartbeats): the current version is then replaced by this
	// one, and the running pinned workflows of orphaned versions are
	// re-pinned to it. The dev stack sets it; a production worker only
	// ever makes itself current when the deployment has no current version.
	Orphaned func(buildID string) bool
	// Log reports what it did.
	Log func(msg string, args ...any)
}

// Activated says what Activate did.
type Activated struct {
	MadeCurrent bool
	// Repinned counts pinned workflows moved from orphaned versions.
	Repinned int
}

// Activate runs once this build's workers poll: it waits until the server
// knows the version with every task queue in queues (a version that does
// not yet list a queue the current one has cannot be made current), then makes it current when the deployment has no
// current version (its first build) or, with Orphaned, when the current
// build's workers are gone; with Orphaned it also re-pins the running
// pinned workflows of versions whose workers are gone, so none is left
// without a worker.
func Activate(ctx context.Context, c client.Client, buildID string, queues []string, o ActivateOptions) (Activated, error) {
	var done Activated
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
	d, err := waitForVersion(ctx, c, buildID, queues)
	if err != nil {
		return done, err
	}
	if d.Current != buildID && (d.Current == "" || o.Orphaned != nil && o.Orphaned(d.Current)) {
		if err := SetCurrent(ctx, c, DeploymentName, buildID, "tenantry worker "+buildID); err != nil {
			return done, err
		}
		done.MadeCurrent = true
		o.Log("made this build current", "build", buildID, "previous", d.Current)
	}
	if o.Orphaned == nil {
		return done, nil
	}
	for _, v := range d.Versions {
		if v.BuildID == buildID || v.OpenPinned == 0 || !o.Orphaned(v.BuildID) {
			continue
		}
		n, err := repin(ctx, c, v.BuildID, buildID)
		done.Repinned += n
		if err != nil {
			return done, err
		}
		o.Log("re-pinned the running workflows of a build without workers", "from", v.BuildID, "to", buildID, "workflows", n)
	}
	return done, nil
}

// waitForVersion waits (up to a minute) until the deployment lists the
// build with every one of queues, which happens after its workers' first
// polls of each.
func waitForVersion(ctx context.Context, c client.Client, buildID string, queues []string) (Deployment, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := Describe(ctx, c, DeploymentName)
		if err == nil && slices.ContainsFunc(d.Versions, func(v Version) bool {
			return v.BuildID == buildID && !slices.ContainsFunc(queues, func(q string) bool { return !slices.Contains(v.TaskQueues, q) })
		}) {
			return d, nil
		}
		if err != nil && apperr.KindOf(err) != apperr.KindNotFound {
			return d, err
		}
		if time.Now().After(deadline) {
			return d, fmt.Errorf("worker deployment %s: version %s not registered with its task queues %v after a minute of polling",
				DeploymentName, buildID, queues)
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// repin moves the running pinned workflows of one build to another.
func repin(ctx context.Context, c client.Client, from, to string) (int, error) {
	moved := 0
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: PinnedQuery(DeploymentName, from), NextPageToken: token})
		if err != nil {
			return moved, err
		}
		for _, e := range resp.GetExecutions() {
			_, err := c.UpdateWorkflowExecutionOptions(ctx, client.UpdateWorkflowExecutionOptionsRequest{
				WorkflowId: e.GetExecution().GetWorkflowId(), RunId: e.GetExecution().GetRunId(),
				WorkflowExecutionOptionsChanges: client.WorkflowExecutionOptionsChanges{
					VersioningOverride: &client.VersioningOverrideChange{Value: &client.PinnedVersioningOverride{Version: DeploymentVersion(to)}}},
			})
			var notFound *serviceerror.NotFound
			if err != nil && !errors.As(err, &notFound) { // one that closed meanwhile needs no move
				return moved, err
			}
			moved++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return moved, nil
		}
	}
}
