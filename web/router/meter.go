package router

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MetricRequests counts every request routed to an instance; metered
// module features count as "feature.<module>".
const MetricRequests = "requests"

type meterKey struct{ instance, metric string }

// batch is one flush window's counts. Its key (router, window start) is
// what makes a retried flush write nothing twice.
type batch struct {
	start, end time.Time
	counts     map[meterKey]int64
}

// meter counts in memory and flushes aggregated windows to the control
// database. A crash loses at most the window not yet flushed; a failed
// flush keeps its batches (up to maxPending) and retries them with the
// same keys.
type meter struct {
	db         *pgxpool.Pool
	routerID   string
	maxPending int
	log        *slog.Logger
	now        func() time.Time

	mu          sync.Mutex
	counts      map[meterKey]int64
	windowStart time.Time

	flushMu sync.Mutex
	pending []batch
}

func newMeter(db *pgxpool.Pool, routerID string, log *slog.Logger) *meter {
	m := &meter{db: db, routerID: routerID, maxPending: 720, log: log, now: time.Now, counts: map[meterKey]int64{}}
	m.windowStart = m.now().UTC().Truncate(time.Microsecond)
	return m
}

// add counts n uses of metric on an instance.
func (m *meter) add(instance, metric string, n int64) {
	m.mu.Lock()
	m.counts[meterKey{instance, metric}] += n
	m.mu.Unlock()
}

// cut closes the current window and queues it.
func (m *meter) cut() {
	m.mu.Lock()
	counts := m.counts
	start, end := m.windowStart, m.now().UTC().Truncate(time.Microsecond)
	if !end.After(start) {
		end = start.Add(time.Microsecond)
	}
	m.counts, m.windowStart = map[meterKey]int64{}, end
	m.mu.Unlock()
	if len(counts) == 0 {
		return
	}
	m.flushMu.Lock()
	m.pending = append(m.pending, batch{start: start, end: end, counts: counts})
	if over := len(m.pending) - m.maxPending; over > 0 {
		m.log.Error("usage flushes keep failing: dropping the oldest windows", "windows", over)
		m.pending = m.pending[over:]
	}
	m.flushMu.Unlock()
}

// flush cuts the window and writes every pending batch in one statement.
func (m *meter) flush(ctx context.Context) error {
	m.cut()
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	if len(m.pending) == 0 {
		return nil
	}
	var starts, ends []time.Time
	var instances, metrics []string
	var counts []int64
	for _, b := range m.pending {
		for k, n := range b.counts {
			starts, ends = append(starts, b.start), append(ends, b.end)
			instances, metrics, counts = append(instances, k.instance), append(metrics, k.metric), append(counts, n)
		}
	}
	// Truncated to microseconds like timestamptz, so a retry sends the
	// exact key it sent before.
	_, err := m.db.Exec(ctx, `
		INSERT INTO usage_counts (router_id, window_start, window_end, instance_id, metric, count)
		SELECT $1, w.s, w.e, w.i, w.m, w.n
		FROM unnest($2::timestamptz[], $3::timestamptz[], $4::uuid[], $5::text[], $6::bigint[]) AS w(s, e, i, m, n)
		WHERE EXISTS (SELECT 1 FROM instances WHERE id = w.i)
		ON CONFLICT (router_id, window_start, instance_id, metric) DO NOTHING`,
		m.routerID, starts, ends, instances, metrics, counts)
	if err != nil {
		return err
	}
	m.pending = nil
	return nil
}
