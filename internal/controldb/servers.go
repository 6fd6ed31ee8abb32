package controldb

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/secret"
)

// RegisterServer adds a database server (or updates its address and DSN) so
// EnableService can place tenant databases on it. adminDSN must connect as a
// role allowed to CREATE ROLE and CREATE DATABASE.
func RegisterServer(ctx context.Context, db *pgxpool.Pool, cipher *secret.Cipher, name, adminDSN string) (string, error) {
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
	_, err = db.Exec(ctx, `
		INSERT INTO database_servers (id, name, host, port, admin_dsn_encrypted) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,
			admin_dsn_encrypted = EXCLUDED.admin_dsn_encrypted`,
		id, name, cfg.Host, int(cfg.Port), sealed)
	return id, err
}

// ServerAAD binds a server's sealed admin DSN to the server.
func ServerAAD(serverID string) []byte { return []byte("server:" + serverID) }
