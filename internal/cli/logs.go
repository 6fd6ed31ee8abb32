package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"tenantry/internal/controldb"
	"tenantry/internal/platform"
)

func logsCommand(env *Env) *cobra.Command {
	var g globals
	var follow bool
	var since string
	var limit int
	cmd := &cobra.Command{
		Use:   "logs INSTANCE_ID [--follow] [--since 1h|RFC3339] [--limit N]",
		Short: "An instance's own log: the requests its host served and its events",
		Long: "An instance's log, the oldest line first: a line per request its host served (method, path without\n" +
			"the query, status, duration, router) and its events (provisioning steps, module changes,\n" +
			"maintenance, failures). Without --since, the newest lines (200, or --limit). --follow then prints\n" +
			"new lines as they come, until Ctrl-C. With --output json: the page as one object, or with\n" +
			"--follow one JSON object a line.",
		Args: exactArgs("INSTANCE_ID"),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "print new lines as they come, until Ctrl-C")
	cmd.Flags().StringVar(&since, "since", "", "the lines from this instant on (RFC 3339, or a duration back from now such as 1h)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many lines (1 to 1000; default 200)")
	g.add(cmd)
	cmd.RunE = g.run(env, true, func(c *call, args []string) error {
		q := platform.LogQuery{Limit: limit}
		if since != "" {
			t, err := sinceFlag(since, time.Now())
			if err != nil {
				return err
			}
			q.Since = &t
		}
		if !follow {
			page, err := c.client.Logs(c.ctx, args[0], q)
			if err != nil {
				return err
			}
			return c.print(page, func(w io.Writer) {
				for _, l := range page.Lines {
					fmt.Fprintln(w, logLine(l))
				}
			})
		}
		enc := json.NewEncoder(c.out)
		err := c.client.FollowLogs(c.ctx, args[0], q, func(l controldb.LogLine) error {
			if c.json {
				return enc.Encode(l)
			}
			_, err := fmt.Fprintln(c.out, logLine(l))
			return err
		})
		if errors.Is(err, context.Canceled) {
			return nil // Ctrl-C: the end the user asked for
		}
		return err
	})
	return cmd
}

// sinceFlag reads --since: an RFC 3339 instant or a duration before now.
func sinceFlag(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, fmt.Errorf("--since %q: want an RFC 3339 instant (2026-12-01T08:00:00Z) or a duration such as 90m", v)
	}
	return t, nil
}

// logLine is one line of the log as text: a request's method, path,
// status, duration and router, or an event with its detail.
func logLine(l controldb.LogLine) string {
	at := l.At.UTC().Format("2006-01-02 15:04:05.000Z")
	if l.Kind == controldb.LogEventKind {
		line := at + "  " + l.Event
		keys := make([]string, 0, len(l.Detail))
		for k := range l.Detail {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			line += fmt.Sprintf(" %s=%v", k, l.Detail[k])
		}
		return line
	}
	parts := []string{l.Method, l.Path, fmt.Sprint(l.Status)}
	if l.DurationMS != nil {
		parts = append(parts, fmt.Sprintf("%.1fms", *l.DurationMS))
	}
	if l.Router != "" {
		parts = append(parts, l.Router)
	}
	return at + "  " + strings.Join(parts, " ")
}
