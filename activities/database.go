package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/dbserver"
	"tenantry/internal/secret"
)

// tenantConnectionLimit caps each tenant role and database, so one tenant
// cannot take every connection of a shared server.
const tenantConnectionLimit = 20

// DatabaseInfo says where an instance's database lives. It carries no
// secret: the password stays encrypted in the control database.
type DatabaseInfo struct {
	InstanceID string
	ServerID   string
	Database   string
	Role       string
	// NoRoom: no active server had room, nothing was allocated; the
	// workflow waits and asks again.
	NoRoom bool `json:",omitempty"`
}

// AllocateDatabase places the instance on a server by the placement rule
// (controldb.PickServer), names the tenant's database and role, and stores
// a generated password encrypted. Retried, it returns the first
// allocation. When every active server is full it allocates nothing and
// says NoRoom: a wait, not a failure.
func (a *Activities) AllocateDatabase(ctx context.Context, in InstanceRef) (DatabaseInfo, error) {
	return finish(a.allocateDatabase(ctx, in))
}

func (a *Activities) allocateDatabase(ctx context.Context, in InstanceRef) (DatabaseInfo, error) {
	name := "tenant_" + strings.ReplaceAll(in.InstanceID, "-", "")
	sealed := a.Cipher.Seal([]byte(secret.NewDatabasePassword()), controldb.CredentialsAAD(in.InstanceID))
	info := DatabaseInfo{InstanceID: in.InstanceID}
	err := a.inTx(ctx, func(tx pgx.Tx) error {
		var server, database, role *string
		err := tx.QueryRow(ctx, `SELECT database_server_id::text, database_name, role_name FROM instances WHERE id = $1 FOR UPDATE`,
			in.InstanceID).Scan(&server, &database, &role)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("instance %s does not exist", in.InstanceID)
		}
		if err != nil {
			return err
		}
		if server != nil && database != nil && role != nil { // a retry: the first allocation
			info.ServerID, info.Database, info.Role = *server, *database, *role
			return nil
		}
		id, ok, err := controldb.PickServer(ctx, tx, "")
		if err != nil || !ok {
			info.NoRoom = !ok
			return err
		}
		info.ServerID, info.Database, info.Role = id, name, name
		_, err = tx.Exec(ctx, `UPDATE instances SET database_server_id = $2, database_name = $3, role_name = $3,
			credentials_encrypted = $4, updated_at = now() WHERE id = $1`, in.InstanceID, id, name, sealed)
		return err
	})
	return info, err
}

// CreateRole creates the tenant's login role with its stored password, or
// resets the password of a role an earlier attempt created.
func (a *Activities) CreateRole(ctx context.Context, in DatabaseInfo) error {
	return apperr.ForTemporal(a.createRole(ctx, in))
}

func (a *Activities) createRole(ctx context.Context, in DatabaseInfo) error {
	admin, err := a.Servers.Admin(ctx, in.ServerID)
	if err != nil {
		return err
	}
	password, err := a.rolePassword(ctx, in.InstanceID)
	if err != nil {
		return err
	}
	role := pgx.Identifier{in.Role}.Sanitize()
	// The verifier, not the password, reaches the server, so the clear
	// password cannot appear in its statement log; and the statement that
	// carries it is never one the server logs: a retry finds the role and
	// alters it instead of failing on it (the server logs a failed
	// statement whole), and where the admin may (a superuser), the
	// transaction turns statement logging off for itself.
	attrs := fmt.Sprintf("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT %d PASSWORD '%s'",
		tenantConnectionLimit, secret.ScramVerifier(password))
	return withUnloggedStatements(ctx, admin, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, in.Role).Scan(&exists); err != nil {
			return err
		}
		verb := "CREATE ROLE "
		if exists {
			verb = "ALTER ROLE "
		}
		_, err := tx.Exec(ctx, verb+role+" "+attrs)
		return err
	})
}

// withUnloggedStatements runs fn in a transaction that logs none of its
// statements, not even failed ones, when the admin role may say so; a
// concurrent attempt's role (duplicate_object) is left for the retry,
// which alters it.
func withUnloggedStatements(ctx context.Context, admin *pgxpool.Pool, fn func(pgx.Tx) error) error {
	var superuser bool
	if err := admin.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&superuser); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, admin, func(tx pgx.Tx) error {
		if superuser {
			for _, set := range []string{`SET LOCAL log_statement = 'none'`, `SET LOCAL log_min_error_statement = 'panic'`,
				`SET LOCAL log_min_duration_statement = -1`} {
				if _, err := tx.Exec(ctx, set); err != nil {
					return err
				}
			}
		}
		return fn(tx)
	})
}

// rolePassword decrypts the password stored for an instance's role.
func (a *Activities) rolePassword(ctx context.Context, instanceID string) (string, error) {
	var sealed []byte
	err := a.DB.QueryRow(ctx, `SELECT credentials_encrypted FROM instances WHERE id = $1`, instanceID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sealed == nil) {
		return "", apperr.NotFound("no credentials are stored for instance %s", instanceID)
	}
	if err != nil {
		return "", err
	}
	pw, err := a.Cipher.Open(sealed, controldb.CredentialsAAD(instanceID))
	return string(pw), err
}

// CreateDatabase creates the tenant's database owned by its role and closes
// it to everybody else. CREATE DATABASE has no IF NOT EXISTS and cannot run
// in a transaction, so a retry checks the catalog and tolerates the
// duplicate error of a concurrent attempt.
func (a *Activities) CreateDatabase(ctx context.Context, in DatabaseInfo) error {
	if err := a.createDatabase(ctx, in); err != nil {
		return apperr.ForTemporal(err)
	}
	a.logEvent(ctx, in.InstanceID, "instance.database_created", map[string]any{"database": in.Database})
	return nil
}

func (a *Activities) createDatabase(ctx context.Context, in DatabaseInfo) error {
	admin, err := a.Servers.Admin(ctx, in.ServerID)
	if err != nil {
		return err
	}
	db, role := pgx.Identifier{in.Database}.Sanitize(), pgx.Identifier{in.Role}.Sanitize()
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, in.Database).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		_, err = admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s CONNECTION LIMIT %d", db, role, tenantConnectionLimit))
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // duplicate_database
			return err
		}
	}
	return dbserver.ExecPrivileges(ctx, admin, fmt.Sprintf("REVOKE ALL ON DATABASE %s FROM PUBLIC", db))
}

// DropDatabase removes the instance's database (closing its connections)
// and role, wherever they were allocated; either may already be gone, or
// never have been made. Dropping a large database takes a while: it
// heartbeats.
func (a *Activities) DropDatabase(ctx context.Context, in InstanceRef) error {
	return apperr.ForTemporal(longStep(ctx, "drop database", func(ctx context.Context) error { return a.dropDatabase(ctx, in) }))
}

func (a *Activities) dropDatabase(ctx context.Context, in InstanceRef) error {
	var server, database, role *string
	err := a.DB.QueryRow(ctx, `SELECT database_server_id, database_name, role_name FROM instances WHERE id = $1`, in.InstanceID).
		Scan(&server, &database, &role)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (server == nil || database == nil || role == nil)) {
		return nil // never allocated
	}
	if err != nil {
		return err
	}
	admin, err := a.Servers.Admin(ctx, *server)
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{*database}.Sanitize()+" WITH (FORCE)"); err != nil {
		return err
	}
	_, err = admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{*role}.Sanitize())
	return err
}
