package controldb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/apperr"
)

// Querier is what reading the control database needs: a pool or a
// transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Execer is what writing needs: a pool or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// InstanceChanged is the NOTIFY channel an instance's id is sent on whenever
// its host, status, version, modules or maintenance flag change; the host
// routers LISTEN on it to drop what they cached.
const InstanceChanged = "instance_changed"

// NotifyInstanceChanged tells listeners (the host routers) to drop what they
// cached about an instance; it is delivered when the transaction commits.
func NotifyInstanceChanged(ctx context.Context, tx pgx.Tx, instanceID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, InstanceChanged, instanceID)
	return err
}

// LockInstance reads columns of the instance's row into dest and holds its
// row lock until tx ends; a missing instance is NotFound.
func LockInstance(ctx context.Context, tx pgx.Tx, instanceID, columns string, dest ...any) error {
	err := tx.QueryRow(ctx, `SELECT `+columns+` FROM instances WHERE id = $1 FOR UPDATE`, instanceID).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.NotFound("instance %s does not exist", instanceID)
	}
	return err
}

// Audit records an event once, however often the code that records it
// runs: the key names the event. An empty accountID or actorID is stored
// as none. An instance's events also join its own log.
func Audit(ctx context.Context, tx pgx.Tx, key, accountID, actorID, action, objectType, objectID string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO audit_log (event_key, account_id, actor_id, action, object_type, object_id, detail)
		VALUES ($1, nullif($2, '')::uuid, nullif($3, '')::uuid, $4, $5, $6, $7)
		ON CONFLICT (event_key) DO NOTHING`,
		key, accountID, actorID, action, objectType, objectID, detail)
	if err != nil || objectType != "instance" {
		return err
	}
	return LogEvent(ctx, tx, objectID, key, action, detail)
}
