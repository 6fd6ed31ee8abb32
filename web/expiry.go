package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/activities"
	"tenantry/workflows"
)

type expiryRequest struct {
	// ExpiresAt is the instance's end (RFC 3339); null removes it. A later
	// end renews the instance.
	ExpiresAt *time.Time `json:"expires_at"`
}

// setExpiry gives an instance an end (a trial, a prepaid term), moves it or
// removes it, and wakes the watch that warns before it and disables at it.
func (s *Server) setExpiry(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req expiryRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	u := userOf(c)
	ctx := c.Request.Context()
	if err := s.Checks.SetInstanceExpiry(ctx, activities.SetExpiryInput{InstanceID: v.ID, ActorID: u.ID, ExpiresAt: req.ExpiresAt}); err != nil {
		s.fail(c, err)
		return
	}
	if req.ExpiresAt != nil {
		err = workflows.WatchExpiry(ctx, s.Temporal, workflows.ExpiryInput{InstanceID: v.ID, AccountID: u.AccountID, Service: v.Service,
			Warning: s.expiryWarning(), GracePeriod: s.GracePeriod})
	} else {
		// A running watch re-reads, finds no end and stops; none running is fine.
		_ = workflows.ExpiryChanged(ctx, s.Temporal, v.ID)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"id": v.ID, "expires_at": req.ExpiresAt, "workflow_id": workflows.ExpiryID(v.ID)})
}
