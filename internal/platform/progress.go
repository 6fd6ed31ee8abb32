package platform

import (
	"context"
	"errors"
	"sync"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"tenantry/workflows"
)

// closedRuns remembers the progress of workflow runs that have closed: it
// can no longer change, and asking a closed run for it makes a worker
// replay the run's whole history. It forgets everything when full.
type closedRuns struct {
	mu sync.Mutex
	m  map[string]workflows.Progress
}

const closedRunsMax = 4096

// runProgress answers a run's progress query, once per process for a run
// that has closed.
func (p *Platform) runProgress(ctx context.Context, workflowID, runID string, closed bool) (workflows.Progress, error) {
	key := workflowID + "/" + runID
	if closed {
		p.closed.mu.Lock()
		pr, ok := p.closed.m[key]
		p.closed.mu.Unlock()
		if ok {
			return pr, nil
		}
	}
	var pr workflows.Progress
	v, err := p.Temporal.QueryWorkflow(ctx, workflowID, runID, workflows.ProgressQuery)
	if err == nil {
		err = v.Get(&pr)
	}
	if err != nil || !closed {
		return pr, err
	}
	p.closed.mu.Lock()
	if p.closed.m == nil || len(p.closed.m) >= closedRunsMax {
		p.closed.m = map[string]workflows.Progress{}
	}
	p.closed.m[key] = pr
	p.closed.mu.Unlock()
	return pr, nil
}

// latestProgress describes the latest run of a workflow and answers its
// progress; found is false when the workflow never ran.
func (p *Platform) latestProgress(ctx context.Context, workflowID string) (pr *workflows.Progress, found bool, err error) {
	d, err := p.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return nil, false, err
	}
	info := d.GetWorkflowExecutionInfo()
	progress, err := p.runProgress(ctx, workflowID, info.GetExecution().GetRunId(),
		info.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING)
	if err != nil {
		return nil, true, err
	}
	return &progress, true, nil
}

// instanceWorkflows asks each of the instance's workflows, at once, for
// its progress; one that never ran is left out, one that does not answer
// is listed without progress.
func (p *Platform) instanceWorkflows(ctx context.Context, id string) []InstanceWorkflow {
	all := []InstanceWorkflow{
		{Kind: KindEnable, WorkflowID: workflows.EnableID(id)},
		{Kind: KindChangeModules, WorkflowID: workflows.ChangeModulesID(id)},
		{Kind: KindDisable, WorkflowID: workflows.DisableID(id)},
	}
	ran := make([]bool, len(all))
	var wg sync.WaitGroup
	for i := range all {
		wg.Go(func() {
			pr, found, err := p.latestProgress(ctx, all[i].WorkflowID)
			var notFound *serviceerror.NotFound
			ran[i] = found || !errors.As(err, &notFound)
			if pr != nil {
				// The client's own page: operators' causes stay out.
				own := pr.ForClients()
				pr = &own
			}
			all[i].Progress = pr
		})
	}
	wg.Wait()
	var out []InstanceWorkflow
	for i, w := range all {
		if ran[i] {
			out = append(out, w)
		}
	}
	return out
}
