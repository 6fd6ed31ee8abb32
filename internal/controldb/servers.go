package controldb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
	"tenantry/internal/secret"
)

// DefaultServerCapacity is how many instances a server registered without
// a capacity takes.
const DefaultServerCapacity = 1000

// RegisterServer adds a database server (or updates its address and DSN) so
// EnableService can place tenant databases on it. adminDSN must connect as a
// role allowed to CREATE ROLE and CREATE DATABASE. A capacity of zero keeps
// the server's (DefaultServerCapacity for a new one).
func RegisterServer(ctx context.Context, db *pgxpool.Pool, cipher *secret.Cipher, name, adminDSN string) (string, error) {
	return RegisterServerWithCapacity(ctx, db, cipher, name, adminDSN, 0)
}

// RegisterServerWithCapacity is RegisterServer with the number of
// instances the server takes.
func RegisterServerWithCapacity(ctx context.Context, db *pgxpool.Pool, cipher *secret.Cipher, name, adminDSN string, capacity int) (string, error) {
	cfg, err := pgx.ParseConfig(adminDSN)
	if err != nil {
		return "", fmt.Errorf("register database server %s: bad DSN", name)
	}
	var id string
	err = db.QueryRow(ctx, `SELECT id FROM database_servers WHERE name = $1`, name).Scan(&id)
	if err == pgx.ErrNoRows {
		err = db.QueryRow(ctx, `SELECT gen_random_uuid()`).Scan(&id)
	}
	if err != nil {
		return "", err
	}
	sealed := cipher.Seal([]byte(adminDSN), ServerAAD(id))
	// Two processes starting at once may both insert a new server's row:
	// the name decides, and the second one updates the first one's row.
	err = db.QueryRow(ctx, `
		INSERT INTO database_servers (id, name, host, port, admin_dsn_encrypted, max_instances)
		VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 > 0 THEN $6 ELSE $7 END)
		ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,
			admin_dsn_encrypted = CASE WHEN database_servers.id = $1 THEN EXCLUDED.admin_dsn_encrypted
				ELSE database_servers.admin_dsn_encrypted END,
			max_instances = CASE WHEN $6 > 0 THEN $6 ELSE database_servers.max_instances END
		RETURNING id`,
		id, name, cfg.Host, int(cfg.Port), sealed, capacity, DefaultServerCapacity).Scan(&id)
	return id, err
}

// ServerAAD binds a server's sealed admin DSN to the server.
func ServerAAD(serverID string) []byte { return []byte("server:" + serverID) }

// liveStatuses are the statuses of instances that hold a database on
// their server (placement counts them against its capacity).
const liveStatuses = `('provisioning', 'ready', 'disabled')`

// Server is one database server of the fleet as the control database
// knows it. Its admin DSN is never read out.
type Server struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Host      string    `json:"host"`
	Port      int       `json:"port"`
	Capacity  int       `json:"capacity"`
	Active    bool      `json:"active"`
	Instances int       `json:"instances"`
	CreatedAt time.Time `json:"created_at"`
	// CheckedAt and CheckProblems are what the last check found.
	CheckedAt     *time.Time `json:"checked_at,omitempty"`
	CheckProblems []string   `json:"check_problems"`
	// Databases are the tenant databases on it (its live instances').
	Databases []string `json:"-"`
}

const serverColumns = `s.id::text, s.name, s.host, s.port, s.max_instances, s.active, count(i.id)::int, s.created_at,
	s.checked_at, s.check_problems, coalesce(array_agg(i.database_name) FILTER (WHERE i.database_name IS NOT NULL), '{}')`

// Servers lists the fleet with each server's live instances, in the
// order they were registered.
func Servers(ctx context.Context, q Querier) ([]Server, error) {
	return servers(ctx, q, "")
}

// ServerByName is one server of the fleet; an unknown name is not found.
func ServerByName(ctx context.Context, q Querier, name string) (Server, error) {
	list, err := servers(ctx, q, name)
	if err != nil {
		return Server{}, err
	}
	if len(list) == 0 {
		return Server{}, apperr.NotFound("no database server is named %q", name)
	}
	return list[0], nil
}

func servers(ctx context.Context, q Querier, name string) ([]Server, error) {
	rows, err := q.Query(ctx, `SELECT `+serverColumns+`
		FROM database_servers s
		LEFT JOIN instances i ON i.database_server_id = s.id AND i.status IN `+liveStatuses+`
		WHERE $1 = '' OR s.name = $1
		GROUP BY s.id ORDER BY s.created_at, s.name`, name)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Server, error) {
		var s Server
		err := r.Scan(&s.ID, &s.Name, &s.Host, &s.Port, &s.Capacity, &s.Active, &s.Instances, &s.CreatedAt,
			&s.CheckedAt, &s.CheckProblems, &s.Databases)
		return s, err
	})
}

// SetServerActive opens a server to new placements (active) or closes it
// (draining); the instances on it stay there.
func SetServerActive(ctx context.Context, db *pgxpool.Pool, name string, active bool) error {
	tag, err := db.Exec(ctx, `UPDATE database_servers SET active = $2 WHERE name = $1`, name, active)
	if err == nil && tag.RowsAffected() == 0 {
		return apperr.NotFound("no database server is named %q", name)
	}
	return err
}

// RecordServerCheck keeps what a check of the server found.
func RecordServerCheck(ctx context.Context, db *pgxpool.Pool, id string, problems []string, at time.Time) error {
	if problems == nil {
		problems = []string{}
	}
	_, err := db.Exec(ctx, `UPDATE database_servers SET checked_at = $2, check_problems = $3 WHERE id = $1`, id, at, problems)
	return err
}

// ServerInstance is a live instance on a server.
type ServerInstance struct {
	ID          string `json:"id"`
	Account     string `json:"account"`
	Service     string `json:"service"`
	Status      string `json:"status"`
	Host        string `json:"host"`
	Database    string `json:"database"`
	Maintenance bool   `json:"maintenance"`
}

// InstancesOn lists the live instances whose database is on server id.
func InstancesOn(ctx context.Context, q Querier, serverID string) ([]ServerInstance, error) {
	rows, err := q.Query(ctx, `
		SELECT i.id::text, a.name, i.service, i.status, i.host, coalesce(i.database_name, ''), i.maintenance
		FROM instances i JOIN accounts a ON a.id = i.account_id
		WHERE i.database_server_id = $1 AND i.status IN `+liveStatuses+`
		ORDER BY i.created_at`, serverID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ServerInstance])
}

// PickServer is the placement rule: of the active servers with room (live
// instances below capacity), the least loaded (instances / capacity, then
// fewer instances, then the oldest), other than except. It takes a
// transaction-wide lock so that concurrent placements count each other;
// ok is false when no server has room.
func PickServer(ctx context.Context, tx pgx.Tx, except string) (id string, ok bool, err error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tenantry.placement'))`); err != nil {
		return "", false, err
	}
	err = tx.QueryRow(ctx, `
		SELECT s.id::text FROM database_servers s
		LEFT JOIN instances i ON i.database_server_id = s.id AND i.status IN `+liveStatuses+`
		WHERE s.active AND s.id::text <> $1
		GROUP BY s.id HAVING count(i.id) < s.max_instances
		ORDER BY count(i.id)::float8 / s.max_instances, count(i.id), s.created_at LIMIT 1`, except).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return id, err == nil, err
}
