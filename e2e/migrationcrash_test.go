package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"

	"tenantry/internal/config"
	"tenantry/internal/migrator"
	"tenantry/internal/stack"
	"tenantry/internal/testenv"
	"tenantry/workflows"
)

// The end-to-end crash tests of issue 15: a real `tenantry worker` process
// is SIGKILLed while its tenant migration is held at a crash point by the
// test's own database locks (no timing luck, no code hooks), the server
// drops the orphaned migration, and a new worker process carries the
// enable or upgrade to its end with every file applied exactly once.

// TestEnableSurvivesAWorkerKilledInItsMigration: a forum's setup arrives
// while the test holds an uncommitted table named member_sessions in the
// new tenant database, so migration 000001 stops inside its file at that
// CREATE TABLE, the five tables before it created but not committed. The
// worker is SIGKILLed there; the server drops the orphaned backend (its
// file rolls back), a new worker retries the step and the enable reaches
// ready, the database migrated and seeded once.
func TestEnableSurvivesAWorkerKilledInItsMigration(t *testing.T) {
	c := startCrashStack(t)
	ctx := context.Background()
	ada := signupAndLogin(t, c.web.URL, "ada@acme.test")
	inst := enableWaitingForSetup(t, ada, "acme-crash.localhost")
	admin := c.tenantAdmin(inst.ID)

	hold, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hold.Rollback(ctx) }()
	if _, err := hold.Exec(ctx, `CREATE TABLE member_sessions (held_by_the_test int)`); err != nil {
		t.Fatal(err)
	}
	ada.must(http.StatusAccepted, "POST", "/instances/"+inst.ID+"/setup", map[string]string{
		"admin_email": "admin@acme.test", "admin_name": "Admin", "admin_password": "a long admin secret", "language": "en"}, nil)
	watch := c.tenantAdmin(inst.ID)
	pid := blockedMigration(t, watch, "000001_init.up.sql")
	// The file's earlier statements ran: their new relations (tables,
	// sequences, indexes) are locked by it and invisible to others.
	var created int
	if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_locks l WHERE pid = $1 AND locktype = 'relation'
		AND mode = 'AccessExclusiveLock' AND granted AND NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = l.relation)`, pid).Scan(&created); err != nil {
		t.Fatal(err)
	}
	if created < 5 {
		t.Fatalf("the blocked migration created %d relations, want the five tables before member_sessions at least", created)
	}
	t.Logf("the migration waits inside 000001 with %d relations created, uncommitted", created)

	// Version 1 is dirty, the file's tables gone, and so is the ledger the
	// first file makes.
	c.crash(watch, pid, crashState{version: 1, dirty: true, ledger: nil, absent: []string{"tenant_settings", "posts", "schema_migrations_applied"}}, func() {
		if err := hold.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	})
	waitStatusWithin(t, ada, "/instances/"+inst.ID, "ready", 2*time.Minute)
	t.Logf("the enable was ready %s", c.recovered())
	retriedOnce(t, c.web, workflows.EnableID(inst.ID))

	v := c.schemaVersion("forum", "1.0.0")
	c.checkMigrated(watch, "forum", v)
	seeded(t, watch, "admin@acme.test")
}

// TestUpgradeSurvivesAWorkerKilledInItsMigration upgrades a ready forum
// holding rows twice, SIGKILLing the worker in each migration:
//   - to 1.1.0 inside file 000002: its ALTER TABLE posts (a rewrite of
//     every post) and index ran, and its CREATE TABLE attachments waits on
//     the test's uncommitted table of that name;
//   - to 1.2.0 after file 000003 committed: the test's ACCESS SHARE lock on
//     threads holds the file until a second transaction of the test reads
//     schema_migrations; the file then commits and golang-migrate's own
//     clean mark (TRUNCATE schema_migrations) waits on that reader.
//
// Each upgrade completes on a new worker, the rows all there.
func TestUpgradeSurvivesAWorkerKilledInItsMigration(t *testing.T) {
	c := startCrashStack(t)
	ctx := context.Background()
	lin := signupAndLogin(t, c.web.URL, "lin@forum.test")
	inst := enableWithSetup(lin, "forum", "lin-crash.localhost")
	path := "/instances/" + inst.ID
	waitStatusWithin(t, lin, path, "ready", time.Minute)
	if _, err := c.web.Platform.BootstrapPlatformRole(ctx, "lin@forum.test", "developer"); err != nil {
		t.Fatal(err)
	}
	tenant := tenantConn(t, c.web, inst.ID)
	fillForum(t, tenant)
	before := forumDigest(t, tenant)
	watch := c.tenantAdmin(inst.ID)

	// 1.1.0, killed inside file 000002.
	hold, err := c.tenantAdmin(inst.ID).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hold.Exec(ctx, `CREATE TABLE attachments (held_by_the_test int)`); err != nil {
		t.Fatal(err)
	}
	upgrade := lin.startUpgrade(inst.ID, "1.1.0")
	pid := blockedMigration(t, watch, "000002_search_and_attachments.up.sql")
	var postsLock string
	if err := watch.QueryRow(ctx, `SELECT coalesce(string_agg(mode, ',' ORDER BY mode), '') FROM pg_locks
		WHERE pid = $1 AND relation = 'posts'::regclass AND granted`, pid).Scan(&postsLock); err != nil {
		t.Fatal(err)
	}
	// ALTER TABLE posts took the first, CREATE INDEX posts_search_idx the
	// second: both ran, uncommitted.
	if postsLock != "AccessExclusiveLock,ShareLock" {
		t.Fatalf("the blocked migration holds %q on posts: it has not run its ALTER TABLE posts and CREATE INDEX", postsLock)
	}
	c.crash(watch, pid, crashState{version: 2, dirty: true, ledger: []int64{1}, absent: []string{"posts.search", "posts_search_idx"}}, func() {
		if err := hold.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	})
	c.upgraded(lin, inst.ID, upgrade, "1.1.0", watch)
	if got := forumDigest(t, tenant); got != before {
		t.Fatalf("the forum's rows changed in the upgrade to 1.1.0:\nbefore %s\nafter  %s", before, got)
	}
	if _, err := tenant.Exec(ctx, `INSERT INTO attachments (post_id, file_name, byte_size)
		SELECT id, 'file-' || id || '.txt', id * 10 FROM posts WHERE id % 7 = 0`); err != nil {
		t.Fatal(err)
	}
	attached := tableDigest(t, tenant, "attachments", "id, post_id, file_name, byte_size, created_at")

	// 1.2.0, killed after file 000003 committed, before golang-migrate's
	// clean mark.
	holdThreads, err := c.tenantAdmin(inst.ID).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holdThreads.Rollback(ctx) }()
	if _, err := holdThreads.Exec(ctx, `LOCK TABLE threads IN ACCESS SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	upgrade = lin.startUpgrade(inst.ID, "1.2.0")
	pid = blockedMigration(t, watch, "000003_pinned_threads_retire_attachments.up.sql")
	if v, dirty := versionIn(t, watch); v != 3 || !dirty {
		t.Fatalf("while file 000003 waits: schema_migrations %d dirty %t, want 3 dirty", v, dirty)
	}
	reader, err := c.tenantAdmin(inst.ID).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reader.Rollback(ctx) }()
	if v, dirty := versionIn(t, reader); v != 3 || !dirty {
		t.Fatalf("the reader sees schema_migrations %d dirty %t, want 3 dirty", v, dirty)
	}
	if err := holdThreads.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := blockedStatement(t, watch, `TRUNCATE %schema_migrations%`); got != pid {
		t.Fatalf("golang-migrate's clean mark waits on backend %d, the file ran on %d", got, pid)
	}
	// The file committed with its record and its own clean mark; reading
	// the ledger takes no lock the waiting TRUNCATE conflicts with, and
	// the reader holds its lock on schema_migrations already.
	if got := ledger(t, watch); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("the ledger lists %v once file 000003 committed", got)
	}
	if v, dirty := versionIn(t, reader); v != 3 || dirty {
		t.Fatalf("once file 000003 committed the reader sees schema_migrations %d dirty %t, want 3 clean", v, dirty)
	}
	// The file marked the version clean itself: nothing is left to settle.
	c.crash(watch, pid, crashState{version: 3, ledger: []int64{1, 2, 3}, absent: []string{"attachments"}}, func() {
		if err := reader.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
	})
	c.upgraded(lin, inst.ID, upgrade, "1.2.0", watch)
	if got := forumDigest(t, tenant); got != before {
		t.Fatalf("the forum's rows changed in the upgrade to 1.2.0:\nbefore %s\nafter  %s", before, got)
	}
	if got := tableDigest(t, tenant, "retired_attachments", "id, post_id, file_name, byte_size, created_at"); got != attached {
		t.Fatalf("the attachments retired by 1.2.0: %s, before %s", got, attached)
	}
}

// crashBuild is the build of every worker process of a crash test: the
// workflows are pinned to it, so the new worker takes them over.
const crashBuild = "build-crash"

// crashStack is a web process without a worker (the test's own) beside a
// `tenantry worker` process the test kills and replaces.
type crashStack struct {
	t      *testing.T
	bin    string
	cfg    stack.Config
	web    *stack.Stack
	worker workerProcess
	// killed is when the worker was last killed, restarted when the new
	// one was up.
	killed, restarted time.Time
}

func startCrashStack(t *testing.T) *crashStack {
	t.Helper()
	c := &crashStack{t: t, cfg: stackEnv(t, stack.Config{Config: config.Config{GracePeriod: time.Hour}}), bin: buildTenantry(t)}
	c.worker = startKillableWorker(t, c.bin, c.cfg, crashBuild)
	web := c.cfg
	web.Listen, web.BuildID = "127.0.0.1:0", "web"
	var err error
	if c.web, err = stack.Start(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.web.Stop)
	return c
}

// tenantAdmin connects to an instance's database as the cluster's
// superuser, closed at the test's end.
func (c *crashStack) tenantAdmin(instanceID string) *pgx.Conn {
	c.t.Helper()
	ctx := context.Background()
	var db string
	if err := c.web.DB.QueryRow(ctx, `SELECT database_name FROM instances WHERE id = $1`, instanceID).Scan(&db); err != nil {
		c.t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, testenv.WithDatabase(c.t, c.cfg.TenantServerURL, db))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// crashState is what a killed migration leaves in the database:
// golang-migrate's mark, the ledger, and objects of the killed file that
// rolled back ("table", "index" or "table.column").
type crashState struct {
	version int64
	dirty   bool
	ledger  []int64
	absent  []string
}

// crash SIGKILLs the worker while its migration's backend pid waits on a
// lock of the test, waits until the server has dropped that orphaned
// backend, checks what it left, then releases the test's locks and starts
// a new worker of the same build.
func (c *crashStack) crash(watch *pgx.Conn, pid int32, left crashState, release func()) {
	c.t.Helper()
	c.worker.kill()
	c.killed = time.Now()
	backendGone(c.t, watch, pid, 15*time.Second)
	c.t.Logf("the orphaned migration backend %d was gone %s after the SIGKILL", pid, time.Since(c.killed).Round(10*time.Millisecond))
	if v, dirty := versionIn(c.t, watch); v != left.version || dirty != left.dirty {
		c.t.Fatalf("the killed migration left schema_migrations %d dirty %t, want %d dirty %t", v, dirty, left.version, left.dirty)
	}
	if got := ledger(c.t, watch); !slices.Equal(got, left.ledger) {
		c.t.Fatalf("the killed migration left the ledger listing %v, want %v", got, left.ledger)
	}
	for _, name := range left.absent {
		if exists(c.t, watch, name) {
			c.t.Fatalf("%s, which the killed file made, is still there", name)
		}
	}
	release()
	c.worker = startKillableWorker(c.t, c.bin, c.cfg, crashBuild)
	c.restarted = time.Now()
	c.t.Logf("a new worker ran %s after the SIGKILL", c.restarted.Sub(c.killed).Round(100*time.Millisecond))
}

// recovered says how long since the kill and since the new worker.
func (c *crashStack) recovered() string {
	return fmt.Sprintf("%s after the SIGKILL, %s after the new worker started",
		time.Since(c.killed).Round(100*time.Millisecond), time.Since(c.restarted).Round(100*time.Millisecond))
}

// exists says whether a table or index ("name") or a column
// ("table.column") is in the database's public schema.
func exists(t *testing.T, conn *pgx.Conn, name string) bool {
	t.Helper()
	table, column, isColumn := strings.Cut(name, ".")
	q, args := `SELECT to_regclass('public.' || $1) IS NOT NULL`, []any{table}
	if isColumn {
		q, args = `SELECT EXISTS (SELECT 1 FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2)`, []any{table, column}
	}
	var ok bool
	if err := conn.QueryRow(context.Background(), q, args...).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// startUpgrade asks for an instance's upgrade through the API (as a
// developer) and returns its workflow ID.
func (a *api) startUpgrade(instanceID, version string) string {
	a.t.Helper()
	var started struct {
		WorkflowID string `json:"workflow_id"`
	}
	a.must(http.StatusAccepted, "POST", "/instances/"+instanceID+"/upgrade", map[string]string{"version": version}, &started)
	return started.WorkflowID
}

// upgraded waits for an upgrade killed in its migration to complete, then
// checks the instance is ready on the version, out of maintenance, and
// its database migrated to the version once.
func (c *crashStack) upgraded(dev *api, instanceID, workflowID, version string, watch *pgx.Conn) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.web.Temporal.GetWorkflow(ctx, workflowID, "").Get(ctx, nil); err != nil {
		c.t.Fatalf("upgrade to %s: %v", version, err)
	}
	c.t.Logf("the upgrade to %s completed %s", version, c.recovered())
	retriedOnce(c.t, c.web, workflows.MigrateAndSeedID(instanceID, version))
	var after struct {
		Status      string `json:"status"`
		Version     string `json:"version"`
		Maintenance bool   `json:"maintenance"`
	}
	dev.must(http.StatusOK, "GET", "/instances/"+instanceID, nil, &after)
	if after.Status != "ready" || after.Version != version || after.Maintenance {
		c.t.Fatalf("after the upgrade to %s: %+v", version, after)
	}
	c.checkMigrated(watch, "forum", c.schemaVersion("forum", version))
}

func (c *crashStack) schemaVersion(service, version string) uint {
	c.t.Helper()
	svc, err := c.web.Catalog.Service(service)
	if err != nil {
		c.t.Fatal(err)
	}
	v, err := svc.Version(version)
	if err != nil {
		c.t.Fatal(err)
	}
	return v.SchemaVersion
}

// checkMigrated checks a tenant database is on schema version v, clean,
// with the ledger listing exactly the service's versions up to v, and that
// its tables, columns, indexes and constraints are those a migration
// without a crash gives a fresh database.
func (c *crashStack) checkMigrated(watch *pgx.Conn, service string, v uint) {
	c.t.Helper()
	ctx := context.Background()
	svc, err := c.web.Catalog.Service(service)
	if err != nil {
		c.t.Fatal(err)
	}
	var want []int64
	ups, err := fs.Glob(svc.Migrations, "*.up.sql")
	if err != nil {
		c.t.Fatal(err)
	}
	for _, name := range ups {
		n, err := strconv.ParseInt(name[:strings.IndexByte(name, '_')], 10, 64)
		if err != nil {
			c.t.Fatal(err)
		}
		if n <= int64(v) {
			want = append(want, n)
		}
	}
	slices.Sort(want)
	rows, err := watch.Query(ctx, `SELECT version, dirty FROM schema_migrations`)
	if err != nil {
		c.t.Fatal(err)
	}
	marks, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		Version int64
		Dirty   bool
	}])
	if err != nil {
		c.t.Fatal(err)
	}
	if len(marks) != 1 || marks[0].Version != int64(v) || marks[0].Dirty {
		c.t.Fatalf("schema_migrations holds %+v, want version %d clean", marks, v)
	}
	if got := ledger(c.t, watch); !slices.Equal(got, want) {
		c.t.Fatalf("schema_migrations_applied lists %v, want %v", got, want)
	}

	clean := testenv.NewDatabase(c.t, "clean_")
	cfg, err := pgx.ParseConfig(clean)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := migrator.Migrate(ctx, cfg, svc.Migrations, v); err != nil {
		c.t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if got, want := schemaOf(c.t, watch), schemaOf(c.t, conn); got != want {
		c.t.Fatalf("the tenant's schema after the crash:\n%s\nwithout a crash:\n%s", got, want)
	}
}

// schemaOf lists a database's tables with their columns, indexes and
// constraints, one line each, sorted.
func schemaOf(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), `SELECT string_agg(line, E'\n' ORDER BY line) FROM (
		SELECT format('column %s.%s %s null=%s default=%s generated=%s', table_name, column_name, data_type,
			is_nullable, column_default, generation_expression) AS line
		FROM information_schema.columns WHERE table_schema = 'public'
		UNION ALL
		SELECT format('index %s', indexdef) FROM pg_indexes WHERE schemaname = 'public'
		UNION ALL
		SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
		FROM pg_constraint WHERE connamespace = 'public'::regnamespace) l`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// blockedMigration waits until a statement of one migration file (its
// file name, which the migrator puts on the file's first line) waits on a
// lock in the database, and returns its backend.
func blockedMigration(t *testing.T, watch *pgx.Conn, file string) int32 {
	t.Helper()
	return blockedStatement(t, watch, "-- tenantry:file "+file+"%")
}

// blockedStatement waits until exactly one backend of the database runs a
// statement LIKE pattern and waits on a lock, and returns it.
func blockedStatement(t *testing.T, watch *pgx.Conn, pattern string) int32 {
	t.Helper()
	var pids []int32
	eventually(t, 30*time.Second, "a statement like "+pattern+" waiting on a lock", func() bool {
		rows, err := watch.Query(context.Background(), `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, pattern)
		if err != nil {
			t.Fatal(err)
		}
		if pids, err = pgx.CollectRows(rows, pgx.RowTo[int32]); err != nil {
			t.Fatal(err)
		}
		if len(pids) > 1 {
			t.Fatalf("backends %v all run a statement like %s", pids, pattern)
		}
		return len(pids) == 1
	})
	return pids[0]
}

// backendGone waits until a backend has left pg_stat_activity; past the
// deadline it fails with what the database's backends are doing.
func backendGone(t *testing.T, watch *pgx.Conn, pid int32, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	for {
		var n int
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			rows, _ := watch.Query(ctx, `SELECT format('pid=%s state=%s wait=%s/%s xact_start=%s query=%s', pid, state,
				wait_event_type, wait_event, xact_start, left(query, 120))
				FROM pg_stat_activity WHERE datname = current_database()`)
			activity, err := pgx.CollectRows(rows, pgx.RowTo[string])
			t.Fatalf("backend %d still there %s after the worker was killed (%v):\n%s", pid, within, err, strings.Join(activity, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// retriedOnce checks that a workflow's MigrateTenant completed on its
// second attempt, the first having timed out on its heartbeat: the one
// the killed worker ran.
func retriedOnce(t *testing.T, s *stack.Stack, workflowID string) {
	t.Helper()
	ctx := context.Background()
	migrate := map[int64]bool{}
	it := s.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var attempts []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "MigrateTenant" {
			migrate[e.GetEventId()] = true
		}
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil && migrate[a.GetScheduledEventId()] {
			f := a.GetLastFailure()
			attempts = append(attempts, fmt.Sprintf("attempt %d after %q (%s)", a.GetAttempt(), f.GetMessage(),
				f.GetTimeoutFailureInfo().GetTimeoutType()))
			if a.GetAttempt() != 2 || f.GetTimeoutFailureInfo().GetTimeoutType() != enumspb.TIMEOUT_TYPE_HEARTBEAT {
				t.Fatalf("%s: MigrateTenant started %s, want its second attempt after a heartbeat timeout", workflowID, attempts[len(attempts)-1])
			}
		}
	}
	if len(attempts) != 1 {
		t.Fatalf("%s: MigrateTenant ran %v, want one activity", workflowID, attempts)
	}
	t.Logf("%s: MigrateTenant ran its %s", workflowID, attempts[0])
}

// seeded checks the forum's seed ran once: the admin member, the two
// settings and the general board, each inserted once (its INSERT … ON
// CONFLICT takes a sequence value even when the row exists).
func seeded(t *testing.T, watch *pgx.Conn, adminEmail string) {
	t.Helper()
	var got string
	if err := watch.QueryRow(context.Background(), `SELECT concat_ws(' ',
		(SELECT string_agg(format('%s:%s:%s', id, email, is_admin::text), ',') FROM members),
		(SELECT string_agg(key || '=' || value::text, ',' ORDER BY key) FROM tenant_settings),
		(SELECT string_agg(format('%s:%s', id, slug), ',') FROM boards),
		(SELECT format('members_id_seq=%s', last_value) FROM members_id_seq),
		(SELECT format('boards_id_seq=%s', last_value) FROM boards_id_seq))`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`1:%s:true language="en",modules=["core"] 1:general members_id_seq=1 boards_id_seq=1`, adminEmail)
	if got != want {
		t.Fatalf("the seed left %s, want %s", got, want)
	}
}

// fillForum writes members, threads and posts into a forum on 1.0.0, as
// its own role.
func fillForum(t *testing.T, tenant *pgx.Conn) {
	t.Helper()
	if _, err := tenant.Exec(context.Background(), `
		INSERT INTO members (email, display_name, password_hash)
			SELECT 'member' || g || '@lin.test', 'Member ' || g, 'hash-' || md5(g::text) FROM generate_series(1, 20) g;
		INSERT INTO boards (slug, title, description, position) VALUES ('news', 'News', 'What is new.', 1);
		INSERT INTO threads (board_id, author_id, title)
			SELECT b.id, m.id, b.title || ' by ' || m.display_name FROM boards b, members m;
		INSERT INTO posts (thread_id, author_id, body, hidden)
			SELECT th.id, th.author_id, 'Post ' || g || ' of ' || th.title || ': ' || repeat(md5(g::text), 4), g % 9 = 0
			FROM threads th, generate_series(1, 25) g;`); err != nil {
		t.Fatal(err)
	}
}

// forumDigest is the count and a checksum of the rows of each table of
// 1.0.0 that holds the forum's content, in 1.0.0's columns.
func forumDigest(t *testing.T, tenant *pgx.Conn) string {
	t.Helper()
	var parts []string
	for _, table := range []struct{ name, columns string }{
		{"members", "id, email, display_name, password_hash, is_admin, created_at"},
		{"boards", "id, slug, title, description, position"},
		{"threads", "id, board_id, author_id, title, created_at"},
		{"posts", "id, thread_id, author_id, body, hidden, created_at"},
	} {
		parts = append(parts, table.name+"="+tableDigest(t, tenant, table.name, table.columns))
	}
	d := strings.Join(parts, " ")
	if strings.Contains(d, "posts=0:") {
		t.Fatalf("the forum holds no posts: %s", d)
	}
	return d
}

// tableDigest is "count:md5" over columns of every row of a table, in the
// order of the first column.
func tableDigest(t *testing.T, conn *pgx.Conn, table, columns string) string {
	t.Helper()
	first, _, _ := strings.Cut(columns, ",")
	var n int
	var sum string
	q := fmt.Sprintf(`SELECT count(*), coalesce(md5(string_agg(row(%s)::text, E'\n' ORDER BY %s)), '') FROM %s`, columns, first, table)
	if err := conn.QueryRow(context.Background(), q).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%s", n, sum)
}

// versionIn is golang-migrate's version mark as q sees it.
func versionIn(t *testing.T, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int64, bool) {
	t.Helper()
	var v int64
	var dirty bool
	if err := q.QueryRow(context.Background(), `SELECT version, dirty FROM schema_migrations`).Scan(&v, &dirty); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	return v, dirty
}

// ledger is the versions schema_migrations_applied lists, ascending; none
// before the first file made it.
func ledger(t *testing.T, conn *pgx.Conn) []int64 {
	t.Helper()
	if !exists(t, conn, "schema_migrations_applied") {
		return nil
	}
	rows, err := conn.Query(context.Background(), `SELECT version FROM schema_migrations_applied ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return got
}
