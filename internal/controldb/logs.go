package controldb

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Kinds of an instance's log lines.
const (
	LogRequest   = "request"
	LogEventKind = "event"
)

// Retention of instance logs: lines older than LogMaxAge go, and an
// instance keeps at most LogMaxLines of the newest.
const (
	LogMaxAge   = 7 * 24 * time.Hour
	LogMaxLines = 10000
)

// RequestLine is one request a host router served for an instance.
type RequestLine struct {
	InstanceID string
	At         time.Time
	Method     string
	// Path never holds the query string, which may carry secrets.
	Path     string
	Status   int
	Duration time.Duration
}

// InsertRequestLines writes one batch of a router's request lines once: a
// retried batch (same router, same batch number) writes nothing again, and
// lines of instances that no longer exist are dropped. Batches older than
// a day are forgotten on the way.
func InsertRequestLines(ctx context.Context, db *pgxpool.Pool, routerID string, batch int64, lines []RequestLine) error {
	if len(lines) == 0 {
		return nil
	}
	instances, methods, paths := make([]string, len(lines)), make([]string, len(lines)), make([]string, len(lines))
	ats, statuses, durations := make([]time.Time, len(lines)), make([]int32, len(lines)), make([]int64, len(lines))
	for i, l := range lines {
		instances[i], methods[i], paths[i] = l.InstanceID, l.Method, l.Path
		ats[i], statuses[i], durations[i] = l.At, int32(l.Status), l.Duration.Microseconds()
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO instance_log_batches (router_id, batch) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			routerID, batch)
		if err != nil || tag.RowsAffected() == 0 {
			return err // written already
		}
		if _, err := tx.Exec(ctx, `DELETE FROM instance_log_batches WHERE router_id = $1 AND flushed_at < now() - interval '1 day'`,
			routerID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO instance_logs (instance_id, at, kind, method, path, status, duration_us, router_id)
			SELECT l.i, l.a, 'request', l.m, l.p, l.s, l.d, $1
			FROM unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::int[], $7::bigint[])
				WITH ORDINALITY AS l(i, a, m, p, s, d, n)
			WHERE EXISTS (SELECT 1 FROM instances WHERE id = l.i)
			ORDER BY l.n -- ids follow the order the router served them`,
			routerID, instances, ats, methods, paths, statuses, durations)
		return err
	})
}

// LogEvent adds an event to an instance's log once per key.
func LogEvent(ctx context.Context, q Execer, instanceID, key, event string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := q.Exec(ctx, `
		INSERT INTO instance_logs (instance_id, at, kind, event, detail, event_key) VALUES ($1, now(), 'event', $2, $3, $4)
		ON CONFLICT (event_key) WHERE kind = 'event' DO NOTHING`, instanceID, event, detail, key)
	return err
}

// LogLine is one line of an instance's log, a request or an event.
type LogLine struct {
	// ID orders the lines; pass the last one seen as after to read on.
	ID   int64     `json:"id"`
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
	// A request's.
	Method     string   `json:"method,omitempty"`
	Path       string   `json:"path,omitempty"`
	Status     int      `json:"status,omitempty"`
	DurationMS *float64 `json:"duration_ms,omitempty"`
	Router     string   `json:"router,omitempty"`
	// An event's.
	Event  string         `json:"event,omitempty"`
	Detail map[string]any `json:"detail,omitempty"`
}

// InstanceLogs reads an instance's log lines after the line with ID after
// (0: from the start, or since when it is set), the oldest first, at most
// limit of them. tail reads the newest limit lines instead (after and
// since still apply).
func InstanceLogs(ctx context.Context, q Querier, instanceID string, after int64, since *time.Time, limit int, tail bool) ([]LogLine, error) {
	order := "ASC"
	if tail {
		order = "DESC"
	}
	rows, err := q.Query(ctx, `
		SELECT * FROM (
			SELECT id, at, kind, coalesce(method, ''), coalesce(path, ''), coalesce(status, 0), duration_us,
			       coalesce(router_id, ''), coalesce(event, ''), detail
			FROM instance_logs
			WHERE instance_id = $1 AND id > $2 AND ($3::timestamptz IS NULL OR at >= $3)
			ORDER BY id `+order+` LIMIT $4) l ORDER BY id`, instanceID, after, since, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (LogLine, error) {
		var l LogLine
		var us *int64
		err := r.Scan(&l.ID, &l.At, &l.Kind, &l.Method, &l.Path, &l.Status, &us, &l.Router, &l.Event, &l.Detail)
		if us != nil {
			ms := float64(*us) / 1000
			l.DurationMS = &ms
		}
		l.At = l.At.UTC()
		return l, err
	})
}

// PruneLogs deletes up to batch lines that are older than before or beyond
// an instance's newest LogMaxLines; it returns how many it deleted, so a
// caller repeats until none are left.
func PruneLogs(ctx context.Context, q Execer, before time.Time, batch int) (int64, error) {
	tag, err := q.Exec(ctx, `
		DELETE FROM instance_logs WHERE id IN (
			SELECT id FROM instance_logs WHERE at < $1
			UNION ALL
			SELECT id FROM (
				SELECT id, row_number() OVER (PARTITION BY instance_id ORDER BY id DESC) AS n
				FROM instance_logs WHERE instance_id IN (
					SELECT instance_id FROM instance_logs GROUP BY instance_id HAVING count(*) > $2)
			) ranked WHERE n > $2
			LIMIT $3)`, before, LogMaxLines, batch)
	return tag.RowsAffected(), err
}
