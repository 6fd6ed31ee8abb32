package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"tenantry/internal/apperr"
	"tenantry/workflows"
)

// TestInstanceExpiresUnlessRenewed: on the real dev server, an instance
// with an end is warned about at once (its end is within the week), a
// renewal moves the watch to the new end, and at the end the instance is
// disabled through DisableService.
func TestInstanceExpiresUnlessRenewed(t *testing.T) {
	s := startStack(t, time.Hour)
	ctx := context.Background()
	ada := signupAndLogin(t, s.URL, "ada@expiry.test")
	var inst instance
	ada.must(http.StatusCreated, "POST", "/instances", map[string]any{
		"service": "forum", "modules": []string{"search"}, "host": "acme-expiry.localhost",
		"setup": map[string]string{"admin_email": "admin@expiry.test", "admin_name": "Admin",
			"admin_password": "a long admin secret", "language": "en"}}, &inst)
	path := "/instances/" + inst.ID
	waitStatus(t, ada, path, "ready")

	ada.must(http.StatusUnprocessableEntity, "PUT", path+"/expiry", map[string]any{"expires_at": time.Now().Add(-time.Minute)}, nil)
	soon := time.Now().Add(3 * time.Second).UTC().Truncate(time.Millisecond)
	ada.must(http.StatusOK, "PUT", path+"/expiry", map[string]any{"expires_at": soon}, nil)
	var current struct {
		Expiring []struct {
			InstanceID string `json:"instance_id"`
			Warning    string `json:"warning"`
		} `json:"expiring"`
	}
	eventually(t, 10*time.Second, "the warning", func() bool {
		ada.must(http.StatusOK, "GET", "/billing/current", nil, &current)
		return len(current.Expiring) == 1 && strings.Contains(current.Expiring[0].Warning, "acme-expiry.localhost ends at")
	})

	// Renewed before the end: the watch now waits for the new end.
	later := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	ada.must(http.StatusOK, "PUT", path+"/expiry", map[string]any{"expires_at": later}, nil)
	eventually(t, 10*time.Second, "the watch to take the renewal", func() bool {
		v, err := s.Temporal.QueryWorkflow(ctx, workflows.ExpiryID(inst.ID), "", workflows.ProgressQuery)
		var p workflows.ExpiryProgress
		return err == nil && v.Get(&p) == nil && p.ExpiresAt != nil && p.ExpiresAt.Equal(later)
	})
	// The pages read it as the common Progress: asleep until the new end
	// is waiting, not stuck.
	v, err := s.Temporal.QueryWorkflow(ctx, workflows.ExpiryID(inst.ID), "", workflows.ProgressQuery)
	var p workflows.Progress
	if err != nil || v.Get(&p) != nil || p.Status != workflows.StatusWaiting {
		t.Fatalf("the sleeping watch reports %+v (%v)", p, err)
	}
	if time.Until(soon) > 0 {
		time.Sleep(time.Until(soon) + time.Second) // past the old end: nothing may happen
	}
	ada.must(http.StatusOK, "GET", path, nil, &inst)
	if inst.Status != "ready" {
		t.Fatalf("a renewed instance is %s after its old end", inst.Status)
	}

	// Not renewed: disabled at its end, through DisableService.
	ada.must(http.StatusOK, "PUT", path+"/expiry", map[string]any{"expires_at": time.Now().Add(2 * time.Second).UTC()}, nil)
	waitStatus(t, ada, path, "disabled")
	if _, err := s.Temporal.DescribeWorkflowExecution(ctx, workflows.DisableID(inst.ID), ""); err != nil {
		t.Fatalf("no DisableService for the expired instance: %v", err)
	}
	var result workflows.ExpiryResult
	if err := s.Temporal.GetWorkflow(ctx, workflows.ExpiryID(inst.ID), "").Get(ctx, &result); err != nil || result.Outcome != "disabled" {
		t.Fatalf("the watch ended with %+v, %v", result, err)
	}
	// The disabling keeps the data for the grace period: a second one is
	// refused while it runs, and waking the finished watch is harmless.
	if err := workflows.StartDisable(ctx, s.Temporal, workflows.DisableInput{InstanceID: inst.ID}); apperr.KindOf(err) != apperr.KindConflict {
		t.Fatalf("a second disable during the grace period: %v", err)
	}
	if err := workflows.ExpiryChanged(ctx, s.Temporal, inst.ID); err != nil {
		t.Fatalf("waking a finished watch: %v", err)
	}
	recordHistories(t, s, map[string]string{"instance_expiry": workflows.ExpiryID(inst.ID)})
}
