package dbserver

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/devstack"
)

// Copy copies one database's schema and data from one server to another
// with pg_dump piped into pg_restore (the PostgreSQL binaries the dev
// stack runs, devstack.PostgresBinDir): every object is restored as owned
// by role, in one transaction, without the source's grants. from and to
// are admin connections to the database on each server; to must exist,
// empty, owned by role. Cancelling ctx kills both programs. Passwords
// reach them in their environment, never on a command line.
func Copy(ctx context.Context, from, to *pgx.ConnConfig, role string) error {
	pgDump, err := tool("pg_dump")
	if err != nil {
		return err
	}
	pgRestore, err := tool("pg_restore")
	if err != nil {
		return err
	}
	dump := exec.CommandContext(ctx, pgDump, "--format=custom", "--no-owner", "--no-privileges")
	dump.Env = pgEnv(from)
	restore := exec.CommandContext(ctx, pgRestore, "--no-owner", "--no-privileges",
		"--role="+role, "--single-transaction", "--exit-on-error", "--dbname="+to.Database)
	restore.Env = pgEnv(to)
	pipe, err := dump.StdoutPipe()
	if err != nil {
		return err
	}
	restore.Stdin = pipe
	var dumpErr, restoreErr strings.Builder
	dump.Stderr, restore.Stderr = limit(&dumpErr), limit(&restoreErr)
	if err := dump.Start(); err != nil {
		return fmt.Errorf("start pg_dump: %w", err)
	}
	if err := restore.Run(); err != nil {
		_ = dump.Process.Kill()
		_ = dump.Wait()
		return fmt.Errorf("pg_restore: %w: %s", err, strings.TrimSpace(restoreErr.String()))
	}
	if err := dump.Wait(); err != nil {
		return fmt.Errorf("pg_dump: %w: %s", err, strings.TrimSpace(dumpErr.String()))
	}
	return nil
}

// tool finds a PostgreSQL program beside the server's binaries (following
// a symbolic link to them), or else on PATH.
func tool(name string) (string, error) {
	bin, err := devstack.PostgresBinDir()
	if err == nil {
		if real, err := filepath.EvalSymlinks(filepath.Join(bin, "postgres")); err == nil {
			bin = filepath.Dir(real)
		}
		if p := filepath.Join(bin, name); isFile(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found: install the PostgreSQL client programs (Debian: apt-get install postgresql-client)", name)
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// pgEnv is the environment libpq reads a connection from.
func pgEnv(c *pgx.ConnConfig) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "LC_ALL=C",
		"PGHOST=" + c.Host, "PGPORT=" + strconv.Itoa(int(c.Port)), "PGUSER=" + c.User,
		"PGPASSWORD=" + c.Password, "PGDATABASE=" + c.Database, "PGSSLMODE=prefer", "PGAPPNAME=tenantry-move",
	}
}

// limit keeps the first 4 KiB written to w (a program's error output).
func limit(w *strings.Builder) io.Writer { return &limited{w: w, left: 4096} }

type limited struct {
	w    *strings.Builder
	left int
}

func (l *limited) Write(p []byte) (int, error) {
	if l.left > 0 {
		n := min(len(p), l.left)
		l.w.Write(p[:n])
		l.left -= n
	}
	return len(p), nil
}

// CountRows counts the rows of every table of the connected database
// (schema.table → rows), calling each with the table's name first.
func CountRows(ctx context.Context, conn *pgx.Conn, each func(table string)) (map[string]int64, error) {
	rows, err := conn.Query(ctx, `
		SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
		ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int64, len(tables))
	for _, t := range tables {
		each(t)
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		counts[t] = n
	}
	return counts, nil
}

// CompareCounts names every table whose rows differ between two counts,
// or that only one has; empty when they agree.
func CompareCounts(src, dst map[string]int64) string {
	var diffs []string
	for t, n := range src {
		m, ok := dst[t]
		switch {
		case !ok:
			diffs = append(diffs, t+" is missing")
		case m != n:
			diffs = append(diffs, fmt.Sprintf("%s has %d rows instead of %d", t, m, n))
		}
	}
	for t := range dst {
		if _, ok := src[t]; !ok {
			diffs = append(diffs, t+" should not be there")
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}
