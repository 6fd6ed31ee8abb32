package platform

import (
	"context"
	"time"
)

// Usage is an instance's metered usage in the current calendar month
// (UTC), as the host routers flushed it: "requests" and one
// "feature.<module>" count per metered module feature.
type Usage struct {
	Month  string           `json:"month"`
	Counts map[string]int64 `json:"counts"`
}

func (p *Platform) monthUsage(ctx context.Context, instanceID string) (*Usage, error) {
	rows, err := p.DB.Query(ctx, `
		SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC'), 'YYYY-MM'), metric, sum(count)::bigint
		FROM usage_counts
		WHERE instance_id = $1 AND window_start >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
		GROUP BY metric`, instanceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	v := &Usage{Month: time.Now().UTC().Format("2006-01"), Counts: map[string]int64{}}
	for rows.Next() {
		var metric string
		var n int64
		if err := rows.Scan(&v.Month, &metric, &n); err != nil {
			return nil, err
		}
		v.Counts[metric] = n
	}
	return v, rows.Err()
}
