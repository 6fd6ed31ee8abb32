package web

import (
	"context"
	"sync"

	"go.temporal.io/api/enums/v1"

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
func (s *Server) runProgress(ctx context.Context, workflowID, runID string, closed bool) (workflows.Progress, error) {
	key := workflowID + "/" + runID
	if closed {
		s.closed.mu.Lock()
		p, ok := s.closed.m[key]
		s.closed.mu.Unlock()
		if ok {
			return p, nil
		}
	}
	var p workflows.Progress
	v, err := s.Temporal.QueryWorkflow(ctx, workflowID, runID, workflows.ProgressQuery)
	if err == nil {
		err = v.Get(&p)
	}
	if err != nil || !closed {
		return p, err
	}
	s.closed.mu.Lock()
	if s.closed.m == nil || len(s.closed.m) >= closedRunsMax {
		s.closed.m = map[string]workflows.Progress{}
	}
	s.closed.m[key] = p
	s.closed.mu.Unlock()
	return p, nil
}

// latestProgress describes the latest run of a workflow and answers its
// progress; found is false when the workflow never ran.
func (s *Server) latestProgress(ctx context.Context, workflowID string) (p *workflows.Progress, found bool, err error) {
	d, err := s.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return nil, false, err
	}
	info := d.GetWorkflowExecutionInfo()
	progress, err := s.runProgress(ctx, workflowID, info.GetExecution().GetRunId(),
		info.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING)
	if err != nil {
		return nil, true, err
	}
	return &progress, true, nil
}
