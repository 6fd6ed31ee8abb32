package platform

import (
	"context"
	"fmt"
	"strings"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/worker"
)

// Shipping Tenantry's own worker builds: the Worker Deployments, their
// versions (one per build) and moving new work from one build to another.

// WorkerDeployment is a Worker Deployment as the developers see it.
type WorkerDeployment struct {
	Name           string          `json:"name"`
	Current        string          `json:"current"`
	Ramping        string          `json:"ramping"`
	RampPercentage float32         `json:"ramp_percentage"`
	Versions       []WorkerVersion `json:"versions"`
	// Describe is the CLI command that shows the same.
	Describe string `json:"describe_command"`
}

// WorkerVersion is one build of a deployment: Temporal's view (status,
// pollers, open pinned workflows) beside the live worker processes that
// say, by their heartbeat, they run it.
type WorkerVersion struct {
	worker.Version
	Processes []controldb.Process `json:"processes"`
	// MayStop: no new or open workflow needs the build any more (drained,
	// neither current nor ramping); its workers may stop.
	MayStop bool `json:"may_stop"`
	// Stranded: open pinned workflows wait for it and none of its workers
	// polls: start a worker of this build.
	Stranded bool `json:"stranded"`
	// The CLI commands: list its open pinned workflows, make it current,
	// ramp it (with PERCENT to fill in).
	ListPinned string `json:"list_pinned_command"`
	SetCurrent string `json:"set_current_command"`
	SetRamping string `json:"set_ramping_command"`
}

// Workers lists the Worker Deployments with their versions, newest first.
func (p *Platform) Workers(ctx context.Context, who Principal) ([]WorkerDeployment, error) {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return nil, err
	}
	deployments, err := worker.Deployments(ctx, p.Temporal)
	if err != nil {
		return nil, err
	}
	procs, err := controldb.LiveProcesses(ctx, p.DB)
	if err != nil {
		return nil, err
	}
	out := []WorkerDeployment{}
	for _, d := range deployments {
		wd := WorkerDeployment{Name: d.Name, Current: d.Current, Ramping: d.Ramping, RampPercentage: d.RampPercentage,
			Versions: []WorkerVersion{}, Describe: "go tool temporal worker deployment describe --name " + d.Name}
		for _, v := range d.Versions {
			wv := WorkerVersion{Version: v, Processes: []controldb.Process{},
				MayStop:    v.Status == worker.StatusDrained,
				Stranded:   v.OpenPinned > 0 && len(v.Pollers) == 0,
				ListPinned: fmt.Sprintf("go tool temporal workflow list --query %q", worker.PinnedQuery(d.Name, v.BuildID)),
				SetCurrent: fmt.Sprintf("go tool temporal worker deployment set-current-version --deployment-name %s --build-id %s", d.Name, v.BuildID),
				SetRamping: fmt.Sprintf("go tool temporal worker deployment set-ramping-version --deployment-name %s --build-id %s --percentage PERCENT", d.Name, v.BuildID),
			}
			for _, proc := range procs {
				if proc.Kind == controldb.ProcessWorker && proc.Build == v.BuildID {
					wv.Processes = append(wv.Processes, proc)
				}
			}
			wd.Versions = append(wd.Versions, wv)
		}
		out = append(out, wd)
	}
	return out, nil
}

// SetCurrentBuild makes a build the current version of a deployment: new
// workflows and the auto-upgrade ones' next tasks run on it, pinned ones
// finish where they started. A build no worker ever polled is not found;
// Temporal refuses one whose workers do not poll every task queue of the
// current one (conflict, with its reason).
func (p *Platform) SetCurrentBuild(ctx context.Context, who Principal, deployment, buildID string) error {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return err
	}
	deployment, buildID, err := deploymentVersion(deployment, buildID)
	if err != nil {
		return err
	}
	if err := worker.SetCurrent(ctx, p.Temporal, deployment, buildID, identity(who)); err != nil {
		return err
	}
	p.Log.Info("worker build made current", "deployment", deployment, "build", buildID, "by", who.Email)
	return nil
}

// RampBuild sends a percentage (0 to 100; 0 pauses the ramp) of new
// workflows, and of the auto-upgrade ones' tasks, to a build beside the
// current one.
func (p *Platform) RampBuild(ctx context.Context, who Principal, deployment, buildID string, percentage float32) error {
	if err := require(who, access.ConsoleAdmin); err != nil {
		return err
	}
	deployment, buildID, err := deploymentVersion(deployment, buildID)
	if err != nil {
		return err
	}
	if !(percentage >= 0 && percentage <= 100) {
		return apperr.Invalid("the ramp percentage is from 0 to 100 (0 pauses the ramp), not %v", percentage)
	}
	if err := worker.SetRamping(ctx, p.Temporal, deployment, buildID, percentage, identity(who)); err != nil {
		return err
	}
	p.Log.Info("worker build ramping", "deployment", deployment, "build", buildID, "percentage", percentage, "by", who.Email)
	return nil
}

// deploymentVersion checks a deployment name and build ID.
func deploymentVersion(deployment, buildID string) (string, string, error) {
	deployment, buildID = strings.TrimSpace(deployment), strings.TrimSpace(buildID)
	if deployment == "" || buildID == "" {
		return "", "", apperr.Invalid("name the deployment and the build")
	}
	return deployment, buildID, nil
}

// identity is who changed a deployment, as Temporal records it.
func identity(who Principal) string { return "tenantry console: " + who.Email }
