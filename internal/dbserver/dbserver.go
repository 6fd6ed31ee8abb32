// Package dbserver owns what Tenantry does on a database server of the
// fleet as that server's admin role: the admin pools, closing every
// database to tenant roles but their own, checking that a server can take
// tenants, measuring its load, and copying and counting a tenant database
// from one server to another (pg_dump and pg_restore). The control
// database's side of the fleet (the registry) is in internal/controldb.
package dbserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Admin is an admin connection to a server: a pool or one connection.
type Admin interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ClosePublic takes CONNECT and TEMPORARY away from PUBLIC on every
// database of the server that accepts connections (postgres, template1,
// the control database when it shares the server, anything else found
// there), so a tenant role reaches its own database only: CreateDatabase
// closes each tenant database the same way. Where the admin role is
// neither a superuser nor the owner, it grants itself CONNECT first so it
// keeps its way in. It returns the databases it could not close (the
// admin role lacks the right), which a superuser must close by hand.
func ClosePublic(ctx context.Context, q Admin) (open []string, err error) {
	rows, err := q.Query(ctx, `
		SELECT datname, pg_has_role(current_user, datdba, 'USAGE')
			OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
		FROM pg_database
		WHERE datallowconn AND (has_database_privilege('public', oid, 'CONNECT') OR has_database_privilege('public', oid, 'TEMPORARY'))
		ORDER BY datname`)
	if err != nil {
		return nil, err
	}
	type db struct {
		name  string
		owner bool
	}
	dbs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (db, error) {
		var d db
		return d, r.Scan(&d.name, &d.owner)
	})
	if err != nil {
		return nil, err
	}
	for _, d := range dbs {
		name := pgx.Identifier{d.name}.Sanitize()
		if !d.owner {
			// Fails without the grant option; then the REVOKE fails too.
			_ = ExecPrivileges(ctx, q, "GRANT CONNECT ON DATABASE "+name+" TO CURRENT_USER")
		}
		if err := ExecPrivileges(ctx, q, "REVOKE CONNECT, TEMPORARY ON DATABASE "+name+" FROM PUBLIC"); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
				open = append(open, d.name)
				continue
			}
			return open, err
		}
		// A REVOKE by a non-owner without the grant option only warns.
		var still bool
		if err := q.QueryRow(ctx, `SELECT has_database_privilege('public', $1, 'CONNECT')`, d.name).Scan(&still); err != nil {
			return open, err
		}
		if still {
			open = append(open, d.name)
		}
	}
	return open, nil
}

// Check is what checking a server found: its version and every problem
// that keeps it from taking tenants safely (none: it may).
type Check struct {
	Version  string   `json:"version"`
	Problems []string `json:"problems"`
}

// OK says the server may take tenants.
func (c Check) OK() bool { return len(c.Problems) == 0 }

// CheckServer checks a server through its admin connection: it answers,
// its admin role can create (and drop) a role and a database, and no
// database is left open to PUBLIC (closing what it can).
func CheckServer(ctx context.Context, q Admin) Check {
	var c Check
	var user string
	if err := q.QueryRow(ctx, `SELECT current_setting('server_version'), current_user`).Scan(&c.Version, &user); err != nil {
		c.Problems = append(c.Problems, "unreachable: "+firstLine(err))
		return c
	}
	probe := "tenantry_check_" + randomHex(6)
	role, db := pgx.Identifier{probe}.Sanitize(), pgx.Identifier{probe}.Sanitize()
	if _, err := q.Exec(ctx, "CREATE ROLE "+role+" NOLOGIN"); err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("the admin role %s cannot CREATE ROLE (%s): give it CREATEROLE", user, firstLine(err)))
	} else if _, err := q.Exec(ctx, "DROP ROLE "+role); err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("the admin role %s cannot drop the role it made (%s)", user, firstLine(err)))
	}
	if _, err := q.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("the admin role %s cannot CREATE DATABASE (%s): give it CREATEDB", user, firstLine(err)))
	} else if _, err := q.Exec(ctx, "DROP DATABASE "+db); err != nil {
		c.Problems = append(c.Problems, fmt.Sprintf("the admin role %s cannot drop the database it made (%s)", user, firstLine(err)))
	}
	open, err := ClosePublic(ctx, q)
	if err != nil {
		c.Problems = append(c.Problems, "closing the databases to tenants failed: "+firstLine(err))
	}
	if len(open) > 0 {
		c.Problems = append(c.Problems, fmt.Sprintf("PUBLIC can still connect to %s and the admin role %s may not change that: as a superuser, REVOKE CONNECT, TEMPORARY ON DATABASE … FROM PUBLIC for each",
			strings.Join(open, ", "), user))
	}
	return c
}

// Load is how busy a server is with its tenants.
type Load struct {
	// DatabaseBytes is the size of the tenant databases given.
	DatabaseBytes int64 `json:"database_bytes"`
	// TenantConnections are open to those databases; Connections to any
	// database, of MaxConnections.
	TenantConnections int `json:"tenant_connections"`
	Connections       int `json:"connections"`
	MaxConnections    int `json:"max_connections"`
}

// Measure reads the load of a server whose tenant databases are named.
func Measure(ctx context.Context, q Admin, databases []string) (Load, error) {
	var l Load
	err := q.QueryRow(ctx, `
		SELECT coalesce((SELECT sum(pg_database_size(oid)) FROM pg_database WHERE datname = ANY($1)), 0)::bigint,
			(SELECT count(*) FROM pg_stat_activity WHERE datname = ANY($1)),
			(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
			current_setting('max_connections')::int`, databases).
		Scan(&l.DatabaseBytes, &l.TenantConnections, &l.Connections, &l.MaxConnections)
	return l, err
}

// Dial opens one admin connection from a DSN, before the server is
// registered. A DSN that does not parse is reported without its text.
func Dial(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("the admin connection is not a PostgreSQL URL or DSN")
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// firstLine is an error's message without what follows its first line.
func firstLine(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return msg
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SameCluster says whether two admin connections reach one PostgreSQL
// cluster (by its system identifier), which a move must refuse: the
// "copy" would replace the database it copies.
func SameCluster(ctx context.Context, a, b Admin) (bool, error) {
	id := func(q Admin) (string, error) {
		var s string
		err := q.QueryRow(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&s)
		return s, err
	}
	x, err := id(a)
	if err != nil {
		return false, err
	}
	y, err := id(b)
	return x == y, err
}
