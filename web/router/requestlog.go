package router

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/controldb"
)

// requestLog keeps each instance's request lines in memory and writes them
// with the meter's flushes, one batch per flush. A crash loses at most the
// lines not flushed yet; a failed flush keeps its batch and retries it
// under the same (router, batch) key before any newer lines.
type requestLog struct {
	db         *pgxpool.Pool
	routerID   string
	maxPending int
	log        *slog.Logger

	mu      sync.Mutex
	lines   []controldb.RequestLine
	dropped int64

	flushMu sync.Mutex
	batch   int64
	failed  []controldb.RequestLine // the batch a failed flush keeps
}

func newRequestLog(db *pgxpool.Pool, routerID string, log *slog.Logger) *requestLog {
	// Batch numbers start from the clock, so a router restarted under the
	// same ID never reuses one.
	return &requestLog{db: db, routerID: routerID, maxPending: 100_000, log: log, batch: time.Now().UnixNano()}
}

// add records one request; the path must come without its query string.
func (l *requestLog) add(instance, method, path string, status int, at time.Time, took time.Duration) {
	l.mu.Lock()
	if len(l.lines) >= l.maxPending {
		l.dropped++
		l.mu.Unlock()
		return
	}
	l.lines = append(l.lines, controldb.RequestLine{InstanceID: instance, At: at, Method: method, Path: path,
		Status: status, Duration: took})
	l.mu.Unlock()
}

// flush writes the batch a failed flush kept, then the lines logged since
// as the next batch.
func (l *requestLog) flush(ctx context.Context) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if l.failed != nil {
		if err := controldb.InsertRequestLines(ctx, l.db, l.routerID, l.batch, l.failed); err != nil {
			return err
		}
		l.failed = nil
	}
	l.mu.Lock()
	lines, dropped := l.lines, l.dropped
	l.lines, l.dropped = nil, 0
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Error("instance request log: flushes keep failing, lines dropped", "lines", dropped)
	}
	if len(lines) == 0 {
		return nil
	}
	l.batch++
	if err := controldb.InsertRequestLines(ctx, l.db, l.routerID, l.batch, lines); err != nil {
		l.failed = lines
		return err
	}
	return nil
}
