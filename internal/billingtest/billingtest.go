// Package billingtest writes billing facts straight into a control
// database: accounts, ready instances and their usage spans, without
// provisioning tenant databases. Tests and the billing benchmark use it.
package billingtest

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is a pool, a connection or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Account creates an account and returns its id.
func Account(ctx context.Context, db DB, name string) (string, error) {
	id := uuid.NewString()
	_, err := db.Exec(ctx, `INSERT INTO accounts (id, name) VALUES ($1, $2)`, id, name)
	return id, err
}

// Instance records a ready instance of service with modules enabled (and
// billed at the catalog's current rates) from at; it returns its id.
func Instance(ctx context.Context, db DB, accountID, service, host string, modules []string, at time.Time) (string, error) {
	id := uuid.NewString()
	if _, err := db.Exec(ctx, `
		INSERT INTO instances (id, account_id, service, version, modules, status, host, host_registered_at, created_at)
		SELECT $1, $2, $3, current_version, $4, 'ready', $5, $6, $6 FROM services WHERE name = $3`,
		id, accountID, service, modules, host, at); err != nil {
		return "", err
	}
	return id, Open(ctx, db, id, service, modules, at)
}

// Open starts spans of modules at at, at the catalog's current rates.
func Open(ctx context.Context, db DB, instanceID, service string, modules []string, at time.Time) error {
	tag, err := db.Exec(ctx, `
		INSERT INTO usage_spans (instance_id, module, started_at, hourly_rate_minor, currency)
		SELECT $1, m.name, $4, m.hourly_price_minor, m.currency FROM modules m
		WHERE m.service = $2 AND m.name = ANY($3)`, instanceID, service, modules, at)
	if err == nil && int(tag.RowsAffected()) != len(modules) {
		err = fmt.Errorf("%s has not every module of %v", service, modules)
	}
	return err
}

// Close ends the open spans of modules at at.
func Close(ctx context.Context, db DB, instanceID string, modules []string, at time.Time) error {
	_, err := db.Exec(ctx, `UPDATE usage_spans SET ended_at = $3 WHERE instance_id = $1 AND module = ANY($2) AND ended_at IS NULL`,
		instanceID, modules, at)
	return err
}
