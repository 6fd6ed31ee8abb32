package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/platform"
)

// followPoll is how often a follow asks for new lines; followFor bounds
// one follow (the client reconnects with the last id as after).
const (
	followPoll = time.Second
	followFor  = 10 * time.Minute
)

// instanceLogs answers a page of the instance's log, or with follow=true
// streams its lines as they come, one JSON object a line (NDJSON).
func (a *API) instanceLogs(c *gin.Context) {
	q, err := logQuery(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	ctx, id := c.Request.Context(), c.Param("id")
	page, err := a.P.InstanceLogs(ctx, who(c), id, q)
	if err != nil || c.Query("follow") != "true" {
		a.answer(c, http.StatusOK, page, err)
		return
	}
	c.Header("Content-Type", "application/x-ndjson")
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	enc := json.NewEncoder(c.Writer)
	end := time.After(followFor)
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		for _, l := range page.Lines {
			if enc.Encode(l) != nil {
				return
			}
		}
		c.Writer.Flush()
		select {
		case <-ctx.Done():
			return
		case <-end:
			return
		case <-tick.C:
		}
		next, err := a.P.InstanceLogs(ctx, who(c), id, platform.LogQuery{After: page.Next, Limit: q.Limit})
		if err != nil {
			a.Log.Warn("follow instance logs", "instance", id, "err", err)
			return
		}
		page = next
	}
}

func logQuery(c *gin.Context) (platform.LogQuery, error) {
	var q platform.LogQuery
	var err error
	if v := c.Query("after"); v != "" {
		if q.After, err = strconv.ParseInt(v, 10, 64); err != nil {
			return q, apperr.Invalid("after must be a line id from an earlier answer")
		}
	}
	if v := c.Query("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return q, apperr.Invalid("since must be an RFC 3339 instant like 2026-12-01T08:00:00Z")
		}
		q.Since = &t
	}
	if v := c.Query("limit"); v != "" {
		if q.Limit, err = strconv.Atoi(v); err != nil {
			return q, apperr.Invalid("limit must be a number from 1 to 1000")
		}
	}
	return q, nil
}
