package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/dbserver"
	"tenantry/internal/secret"
)

// bindingConnectionLimit caps each binding's role: a platform's app, not
// the tenant's own service, so fewer than the tenant role.
const bindingConnectionLimit = 5

// BindingRef names one Open Service Broker binding (its Tenantry id, never
// its credentials).
type BindingRef struct {
	BindingID string
}

// binding is what the bind and unbind steps read of a binding.
type binding struct {
	role, state, database, server, instance string
	sealed                                  []byte
}

func (a *Activities) loadBinding(ctx context.Context, id string) (binding, error) {
	var b binding
	var database, server *string
	err := a.DB.QueryRow(ctx, `
		SELECT b.role_name, b.state, b.password_encrypted, b.instance_id::text, i.database_name, i.database_server_id::text
		FROM broker_bindings b JOIN instances i ON i.id = b.instance_id WHERE b.id = $1`, id).
		Scan(&b.role, &b.state, &b.sealed, &b.instance, &database, &server)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, apperr.NotFound("binding %s does not exist", id)
	}
	if database != nil && server != nil {
		b.database, b.server = *database, *server
	}
	return b, err
}

// CreateBindingRole gives a binding its login role, read-only on the
// instance's database: it generates the password once and stores it
// sealed, creates the role (or resets it on a retry) with the password's
// SCRAM verifier, grants CONNECT, USAGE and SELECT on the tables there are
// and will be, and marks the binding bound. Retried, it does the same.
func (a *Activities) CreateBindingRole(ctx context.Context, in BindingRef) error {
	return apperr.ForTemporal(a.createBindingRole(ctx, in))
}

func (a *Activities) createBindingRole(ctx context.Context, in BindingRef) error {
	b, err := a.loadBinding(ctx, in.BindingID)
	if err != nil || b.state == "bound" {
		return err
	}
	if b.state != "binding" {
		return apperr.Conflict("the binding is %s", b.state)
	}
	if b.database == "" {
		return apperr.Conflict("the instance has no database yet")
	}
	if b.sealed == nil {
		sealed := a.Cipher.Seal([]byte(secret.NewDatabasePassword()), controldb.BindingAAD(in.BindingID))
		if _, err := a.DB.Exec(ctx, `UPDATE broker_bindings SET password_encrypted = $2 WHERE id = $1 AND password_encrypted IS NULL`,
			in.BindingID, sealed); err != nil {
			return err
		}
		if b, err = a.loadBinding(ctx, in.BindingID); err != nil {
			return err
		}
	}
	password, err := a.Cipher.Open(b.sealed, controldb.BindingAAD(in.BindingID))
	if err != nil {
		return err
	}
	admin, err := a.Servers.Admin(ctx, b.server)
	if err != nil {
		return err
	}
	role := pgx.Identifier{b.role}.Sanitize()
	// The verifier, not the password, reaches the server (and its log).
	attrs := fmt.Sprintf("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT %d PASSWORD '%s'",
		bindingConnectionLimit, secret.ScramVerifier(string(password)))
	_, err = admin.Exec(ctx, "CREATE ROLE "+role+" "+attrs)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42710" { // duplicate_object: a retry
		_, err = admin.Exec(ctx, "ALTER ROLE "+role+" "+attrs)
	}
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "ALTER ROLE "+role+" SET default_transaction_read_only = on"); err != nil {
		return err
	}
	// The tenant's own role owns the database and its tables: it grants.
	cfg, _, err := a.tenantConfig(ctx, b.instance)
	if err != nil {
		return err
	}
	err = withTenantConn(ctx, cfg, func(conn *pgx.Conn) error {
		for _, stmt := range []string{
			"GRANT CONNECT ON DATABASE " + pgx.Identifier{b.database}.Sanitize() + " TO " + role,
			"GRANT USAGE ON SCHEMA public TO " + role,
			"GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + role,
			"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO " + role,
		} {
			if err := dbserver.ExecPrivileges(ctx, conn, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = a.DB.Exec(ctx, `UPDATE broker_bindings SET state = 'bound', bound_at = coalesce(bound_at, now()) WHERE id = $1 AND state = 'binding'`,
		in.BindingID)
	return err
}

// DropBindingRole takes a binding's access away: it revokes what the role
// was granted, ends its sessions, drops the role, erases the sealed
// password and marks the binding unbound. A role that never existed, or an
// instance whose database is gone, is fine.
func (a *Activities) DropBindingRole(ctx context.Context, in BindingRef) error {
	return apperr.ForTemporal(a.dropBindingRole(ctx, in))
}

func (a *Activities) dropBindingRole(ctx context.Context, in BindingRef) error {
	b, err := a.loadBinding(ctx, in.BindingID)
	if err != nil || b.state == "unbound" {
		return err
	}
	if b.server != "" {
		admin, err := a.Servers.Admin(ctx, b.server)
		if err != nil {
			return err
		}
		var exists bool
		if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, b.role).Scan(&exists); err != nil {
			return err
		}
		if exists {
			if err := a.revokeBinding(ctx, b); err != nil {
				return err
			}
			if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, b.role); err != nil {
				return err
			}
			if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{b.role}.Sanitize()); err != nil {
				return err
			}
		}
	}
	_, err = a.DB.Exec(ctx, `UPDATE broker_bindings SET state = 'unbound', password_encrypted = NULL, unbound_at = coalesce(unbound_at, now())
		WHERE id = $1`, in.BindingID)
	return err
}

// revokeBinding revokes, as the tenant's role, what createBindingRole
// granted; without a database (dropped already) there is nothing to revoke.
func (a *Activities) revokeBinding(ctx context.Context, b binding) error {
	cfg, _, err := a.tenantConfig(ctx, b.instance)
	if apperr.KindOf(err) == apperr.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	role := pgx.Identifier{b.role}.Sanitize()
	return withTenantConn(ctx, cfg, func(conn *pgx.Conn) error {
		for _, stmt := range []string{
			"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT ON TABLES FROM " + role,
			"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM " + role,
			"REVOKE USAGE ON SCHEMA public FROM " + role,
			"REVOKE CONNECT ON DATABASE " + pgx.Identifier{b.database}.Sanitize() + " FROM " + role,
		} {
			if err := dbserver.ExecPrivileges(ctx, conn, stmt); err != nil {
				return err
			}
		}
		return nil
	})
}
