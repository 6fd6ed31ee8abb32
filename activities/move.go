package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/activity"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/dbserver"
)

// MoveInput asks to move an instance's database to the server named
// ToServer.
type MoveInput struct {
	InstanceID string
	ToServer   string
}

// MovePlan is a checked move: the instance, its database and role, and
// both servers.
type MovePlan = controldb.MovePlan

// CheckMove validates a move (controldb.CheckMove) as its authority.
func (a *Activities) CheckMove(ctx context.Context, in MoveInput) (MovePlan, error) {
	return finish(controldb.CheckMove(ctx, a.DB, in.InstanceID, in.ToServer))
}

// CopyTenantDatabase copies the instance's role and database from its
// server to the target: the source is closed to the tenant's role first
// (NOLOGIN, its sessions ended) so nothing writes during the copy; the
// role is made on the target with the stored password (as its verifier)
// and the database is made anew there, owned by it, closed to others, and
// filled by pg_dump | pg_restore. A retry starts the copy over.
func (a *Activities) CopyTenantDatabase(ctx context.Context, p MovePlan) error {
	return apperr.ForTemporal(a.copyTenantDatabase(ctx, p))
}

func (a *Activities) copyTenantDatabase(ctx context.Context, p MovePlan) error {
	source, target, same, err := a.moveEnds(ctx, p)
	if err != nil {
		return err
	}
	if same {
		return apperr.Invalid("%s and %s are the same PostgreSQL cluster: a database cannot move onto itself", p.FromServer, p.ToServer)
	}
	role := pgx.Identifier{p.Role}.Sanitize()
	if _, err := source.Exec(ctx, "ALTER ROLE "+role+" NOLOGIN"); err != nil {
		return err
	}
	if _, err := source.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND usename = $2`,
		p.Database, p.Role); err != nil {
		return err
	}
	// A retry's partial copy goes first.
	if _, err := target.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{p.Database}.Sanitize()+" WITH (FORCE)"); err != nil {
		return err
	}
	info := DatabaseInfo{InstanceID: p.InstanceID, ServerID: p.ToServerID, Database: p.Database, Role: p.Role}
	if err := a.createRole(ctx, info); err != nil {
		return err
	}
	if err := a.createDatabase(ctx, info); err != nil {
		return err
	}
	from, to := source.Config().ConnConfig.Copy(), target.Config().ConnConfig.Copy()
	from.Database, to.Database = p.Database, p.Database
	return heartbeating(ctx, "copying "+p.Database, func() error { return dbserver.Copy(ctx, from, to, p.Role) })
}

// CopyCounts is what a verified copy holds.
type CopyCounts struct {
	Tables int
	Rows   int64
}

// VerifyTenantCopy counts the rows of every table of the database on both
// servers; any difference (a table missing, a count unequal) fails the
// move for good, naming the tables.
func (a *Activities) VerifyTenantCopy(ctx context.Context, p MovePlan) (CopyCounts, error) {
	return finish(a.verifyTenantCopy(ctx, p))
}

func (a *Activities) verifyTenantCopy(ctx context.Context, p MovePlan) (CopyCounts, error) {
	count := func(server string) (map[string]int64, error) {
		conn, err := a.Servers.Connect(ctx, server, p.Database)
		if err != nil {
			return nil, err
		}
		defer conn.Close(context.Background())
		return dbserver.CountRows(ctx, conn, func(table string) { heartbeat(ctx, "counting "+table) })
	}
	var src, dst map[string]int64
	err := heartbeating(ctx, "counting rows", func() error {
		var err error
		if src, err = count(p.FromServerID); err == nil {
			dst, err = count(p.ToServerID)
		}
		return err
	})
	if err != nil {
		return CopyCounts{}, err
	}
	c := CopyCounts{Tables: len(src)}
	if diff := dbserver.CompareCounts(src, dst); diff != "" {
		return c, apperr.Invalid("the copy on %s differs from %s: %s", p.ToServer, p.FromServer, diff)
	}
	for _, n := range src {
		c.Rows += n
	}
	return c, nil
}

// SwitchServer points the instance at its copy on the target server and
// tells the routers (NOTIFY), in one transaction. Switching again
// changes nothing; an instance that moved elsewhere meanwhile is a
// conflict.
func (a *Activities) SwitchServer(ctx context.Context, p MovePlan) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE instances SET database_server_id = $3, updated_at = now()
			WHERE id = $1 AND database_server_id IN ($2, $3)`, p.InstanceID, p.FromServerID, p.ToServerID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.Conflict("instance %s is no longer on %s", p.InstanceID, p.FromServer)
		}
		return controldb.NotifyInstanceChanged(ctx, tx, p.InstanceID)
	}))
}

// AbandonTenantCopy undoes a move that failed before its switch: the
// partial copy on the target is dropped and the source is opened to the
// tenant's role again. An instance that was switched already keeps both.
func (a *Activities) AbandonTenantCopy(ctx context.Context, p MovePlan) error {
	return apperr.ForTemporal(a.abandonTenantCopy(ctx, p))
}

func (a *Activities) abandonTenantCopy(ctx context.Context, p MovePlan) error {
	source, _, same, err := a.moveEnds(ctx, p)
	if err != nil {
		return err
	}
	// On one cluster (a move refused), the "copy" is the database itself.
	if !same {
		if err := a.dropCopy(ctx, p.ToServerID, p.Database, p.Role); err != nil {
			return err
		}
	}
	_, err = source.Exec(ctx, "ALTER ROLE "+pgx.Identifier{p.Role}.Sanitize()+" LOGIN")
	return err
}

// DropCopyInput names the old copy of a moved instance's database.
type DropCopyInput struct {
	InstanceID string
	ServerID   string
	Database   string
	Role       string
}

// DropTenantCopy drops the old copy of a moved database and its role,
// after the grace period; when the instance has come back to that server
// meanwhile, it is its live database and is kept.
func (a *Activities) DropTenantCopy(ctx context.Context, in DropCopyInput) error {
	var on *string
	err := a.DB.QueryRow(ctx, `SELECT database_server_id::text FROM instances WHERE id = $1`, in.InstanceID).Scan(&on)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return apperr.ForTemporal(err)
	}
	if on != nil && *on == in.ServerID {
		return nil
	}
	return apperr.ForTemporal(a.dropCopy(ctx, in.ServerID, in.Database, in.Role))
}

func (a *Activities) dropCopy(ctx context.Context, serverID, database, role string) error {
	admin, err := a.Servers.Admin(ctx, serverID)
	if err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{database}.Sanitize()+" WITH (FORCE)"); err != nil {
		return err
	}
	_, err = admin.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	return err
}

// moveEnds is the admin pools of a move's source and target, once the
// instance is known to be still on the source, and whether both are one
// cluster.
func (a *Activities) moveEnds(ctx context.Context, p MovePlan) (source, target *pgxpool.Pool, same bool, err error) {
	if err := a.stillOn(ctx, p.InstanceID, p.FromServerID); err != nil {
		return nil, nil, false, err
	}
	if source, err = a.Servers.Admin(ctx, p.FromServerID); err != nil {
		return nil, nil, false, err
	}
	if target, err = a.Servers.Admin(ctx, p.ToServerID); err != nil {
		return nil, nil, false, err
	}
	same, err = dbserver.SameCluster(ctx, source, target)
	return source, target, same, err
}

// stillOn refuses to touch copies of an instance that is no longer on
// server (switched already, or moved by someone else).
func (a *Activities) stillOn(ctx context.Context, instanceID, server string) error {
	var on *string
	err := a.DB.QueryRow(ctx, `SELECT database_server_id::text FROM instances WHERE id = $1`, instanceID).Scan(&on)
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.NotFound("no instance %s", instanceID)
	}
	if err != nil {
		return err
	}
	if on == nil || *on != server {
		return apperr.Conflict("instance %s is no longer on the server it was moving from", instanceID)
	}
	return nil
}

// ServerRef names a database server.
type ServerRef struct {
	ServerID string
}

// ServerInstanceRef is a live instance on a server, with what its move's
// search attributes need.
type ServerInstanceRef struct {
	InstanceID string
	AccountID  string
	Service    string
}

// ServerInstances lists the live instances on a server, oldest first.
func (a *Activities) ServerInstances(ctx context.Context, in ServerRef) ([]ServerInstanceRef, error) {
	rows, err := a.DB.Query(ctx, `SELECT id::text, account_id::text, service FROM instances
		WHERE database_server_id = $1 AND status IN ('provisioning', 'ready', 'disabled') ORDER BY created_at`, in.ServerID)
	if err != nil {
		return nil, apperr.ForTemporal(err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ServerInstanceRef])
	return list, apperr.ForTemporal(err)
}

// MoveTarget is the server a drained instance moves to, or NoRoom.
type MoveTarget struct {
	Server string
	NoRoom bool `json:",omitempty"`
}

// PickMoveTarget applies the placement rule to every active server but
// the one being drained.
func (a *Activities) PickMoveTarget(ctx context.Context, in ServerRef) (MoveTarget, error) {
	var t MoveTarget
	err := a.inTx(ctx, func(tx pgx.Tx) error {
		id, ok, err := controldb.PickServer(ctx, tx, in.ServerID)
		if err != nil || !ok {
			t.NoRoom = !ok
			return err
		}
		return tx.QueryRow(ctx, `SELECT name FROM database_servers WHERE id = $1`, id).Scan(&t.Server)
	})
	return t, apperr.ForTemporal(err)
}

// heartbeating runs fn, heartbeating every few seconds until it returns.
func heartbeating(ctx context.Context, what string, fn func() error) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				heartbeat(ctx, fmt.Sprintf("%s for %s", what, time.Since(start).Round(time.Second)))
			}
		}
	}()
	return fn()
}

// heartbeat records progress when ctx is an activity's (tests call the
// methods directly).
func heartbeat(ctx context.Context, details string) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}
