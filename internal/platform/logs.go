package platform

import (
	"context"
	"time"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
)

// LogQuery says which lines of an instance's log to read.
type LogQuery struct {
	// After reads the lines after this line ID (a follow's cursor).
	After int64
	// Since reads the lines at or after this instant.
	Since *time.Time
	// Limit caps the lines read (default 200, at most 1000).
	Limit int
}

// LogPage is a page of an instance's log, the oldest line first, with the
// cursor to read on from.
type LogPage struct {
	Lines []controldb.LogLine `json:"lines"`
	// Next is the ID of the last line returned (or After when none was):
	// pass it as after to read what came since.
	Next int64 `json:"next"`
}

// InstanceLogs reads one of the principal's account's instance's log:
// its request lines and events in one stream. Without After or Since it
// is the newest Limit lines (a tail).
func (p *Platform) InstanceLogs(ctx context.Context, who Principal, id string, q LogQuery) (LogPage, error) {
	v, err := p.ownInstance(ctx, who, access.InstancesRead, id)
	if err != nil {
		return LogPage{}, err
	}
	switch {
	case q.Limit == 0:
		q.Limit = 200
	case q.Limit < 0 || q.Limit > 1000:
		return LogPage{}, apperr.Invalid("limit must be from 1 to 1000")
	}
	if q.After < 0 {
		return LogPage{}, apperr.Invalid("after must be a line id from an earlier answer")
	}
	tail := q.After == 0 && q.Since == nil
	lines, err := controldb.InstanceLogs(ctx, p.DB, v.ID, q.After, q.Since, q.Limit, tail)
	if err != nil {
		return LogPage{}, err
	}
	page := LogPage{Lines: lines, Next: q.After}
	if lines == nil {
		page.Lines = []controldb.LogLine{}
	}
	if n := len(lines); n > 0 {
		page.Next = lines[n-1].ID
	}
	return page, nil
}
