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
// with the meter's flushes, in one statement per flush. A crash loses at
// most the lines not flushed yet; a failed flush keeps them (up to
// maxPending) and retries them under the same (router, seq) keys.
type requestLog struct {
	db         *pgxpool.Pool
	routerID   string
	maxPending int
	log        *slog.Logger

	mu      sync.Mutex
	seq     int64
	pending []controldb.RequestLine
	dropped int64

	flushMu sync.Mutex
}

func newRequestLog(db *pgxpool.Pool, routerID string, log *slog.Logger) *requestLog {
	return &requestLog{db: db, routerID: routerID, maxPending: 100_000, log: log}
}

// add records one request; the path must come without its query string.
func (l *requestLog) add(instance, method, path string, status int, at time.Time, took time.Duration) {
	l.mu.Lock()
	if len(l.pending) >= l.maxPending {
		l.dropped++
		l.mu.Unlock()
		return
	}
	l.seq++
	l.pending = append(l.pending, controldb.RequestLine{InstanceID: instance, At: at, Method: method, Path: path,
		Status: status, Duration: took, Seq: l.seq})
	l.mu.Unlock()
}

// flush writes every pending line; on failure they stay for the next one.
func (l *requestLog) flush(ctx context.Context) error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	l.mu.Lock()
	lines, dropped := l.pending, l.dropped
	l.pending, l.dropped = nil, 0
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Error("instance request log: flushes keep failing, lines dropped", "lines", dropped)
	}
	if err := controldb.InsertRequestLines(ctx, l.db, l.routerID, lines); err != nil {
		l.mu.Lock()
		l.pending = append(lines, l.pending...)
		l.mu.Unlock()
		return err
	}
	return nil
}
