package servicejobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The forum's jobs (schemas/services/forum/manifest.json).
var forum = []Impl{
	{Service: "forum", Job: "refresh_board_stats", From: 1, To: 2, Run: boardStats(false)},
	// Schema 3 (1.2.0) pins threads: the statistics count them too.
	{Service: "forum", Job: "refresh_board_stats", From: 3, Run: boardStats(true)},
	{Service: "forum", Job: "rebuild_search_index", From: 2, Run: rebuildSearchIndex},
}

// boardStats writes every board's thread, post and hidden-post counts
// (and pinned threads, from schema 3) into tenant_settings.board_stats.
func boardStats(pinned bool) Run {
	pinnedCol := `0`
	if pinned {
		pinnedCol = `count(DISTINCT t.id) FILTER (WHERE t.pinned)`
	}
	return func(ctx context.Context, db *pgx.Conn) (Result, error) {
		var boards, threads, posts, pins int64
		err := db.QueryRow(ctx, `
			WITH s AS (
				SELECT b.slug, count(DISTINCT t.id) AS threads, count(p.id) AS posts,
					count(p.id) FILTER (WHERE p.hidden) AS hidden, `+pinnedCol+` AS pinned
				FROM boards b LEFT JOIN threads t ON t.board_id = b.id LEFT JOIN posts p ON p.thread_id = t.id
				GROUP BY b.slug),
			w AS (
				INSERT INTO tenant_settings (key, value)
				SELECT 'board_stats', coalesce(jsonb_object_agg(slug, jsonb_build_object(
					'threads', threads, 'posts', posts, 'hidden', hidden, 'pinned', pinned)), '{}'::jsonb) FROM s
				ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value)
			SELECT count(*), coalesce(sum(threads), 0), coalesce(sum(posts), 0), coalesce(sum(pinned), 0) FROM s`).
			Scan(&boards, &threads, &posts, &pins)
		if err != nil {
			return Result{}, err
		}
		r := Result{Counts: map[string]int64{"boards": boards, "threads": threads, "posts": posts}}
		r.Summary = fmt.Sprintf("counted %d boards: %d threads, %d posts", boards, threads, posts)
		if pinned {
			r.Counts["pinned"] = pins
			r.Summary += fmt.Sprintf(", %d pinned", pins)
		}
		return r, nil
	}
}

// rebuildSearchIndex rebuilds the full-text index over the posts (schema
// 2 added it) and refreshes the planner's statistics of the table.
func rebuildSearchIndex(ctx context.Context, db *pgx.Conn) (Result, error) {
	if _, err := db.Exec(ctx, `REINDEX INDEX posts_search_idx`); err != nil {
		return Result{}, err
	}
	if _, err := db.Exec(ctx, `ANALYZE posts`); err != nil {
		return Result{}, err
	}
	posts, err := count(ctx, db, `SELECT count(*) FROM posts`)
	if err != nil {
		return Result{}, err
	}
	return Result{Summary: fmt.Sprintf("rebuilt the search index over %d posts", posts), Counts: map[string]int64{"posts": posts}}, nil
}
