// Package controldb owns the control database: it opens and migrates it,
// keeps its copy of the service catalog and price schedule in step with the
// code, and holds the queries and checks that more than the activities need
// (invoices, prices, instances, servers), as plain functions over a pool or
// a Querier. The activities call the same functions for the same rules.
package controldb

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/catalog"
	"tenantry/internal/migrator"
	"tenantry/schemas"
)

// Migrate applies the control schema's migrations up to the latest.
func Migrate(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("control database URL: %w", err)
	}
	if err := migrator.Migrate(ctx, cfg, schemas.Control(), migrator.Latest); err != nil {
		return fmt.Errorf("migrate control database: %w", err)
	}
	return nil
}

// Open connects a pool to the control database.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("control database URL: %w", err)
	}
	if cfg.MaxConns < 16 {
		cfg.MaxConns = 16
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to control database: %w", err)
	}
	return pool, nil
}

// SyncCatalog writes the code's catalog into the control database, so
// instances and usage spans can refer to services, versions and modules.
// Nothing is deleted: running instances may still use an older version.
// A new module starts at the price its manifest says is in effect now; an
// existing module's price is left alone: a price changes only through
// ApplyCatalogPrices (an edited base price) or ApplyScheduledPrice (the
// PriceChange workflow's scheduled one), which split the spans at the
// change's instant.
func SyncCatalog(ctx context.Context, pool *pgxpool.Pool, cat *catalog.Catalog) error {
	now := time.Now()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, name := range cat.Names() {
			s, _ := cat.Service(name)
			if _, err := tx.Exec(ctx, `
				INSERT INTO services (name, description, current_version, currency, included_requests, requests_per_thousand_minor)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description,
					current_version = EXCLUDED.current_version, currency = EXCLUDED.currency,
					included_requests = EXCLUDED.included_requests,
					requests_per_thousand_minor = EXCLUDED.requests_per_thousand_minor, updated_at = now()`,
				s.Name, s.Description, s.CurrentVersion, s.Currency, s.Metered.IncludedRequests, s.Metered.PerThousandMinor); err != nil {
				return err
			}
			for _, v := range s.Versions {
				if _, err := tx.Exec(ctx, `
					INSERT INTO service_versions (service, version, schema_version) VALUES ($1, $2, $3)
					ON CONFLICT (service, version) DO UPDATE SET schema_version = EXCLUDED.schema_version`,
					s.Name, v.Version, int(v.SchemaVersion)); err != nil {
					return err
				}
			}
			for _, m := range s.Modules {
				if _, err := tx.Exec(ctx, `
					INSERT INTO modules (service, name, description, required, hourly_price_minor, currency)
					VALUES ($1, $2, $3, $4, $5, $6)
					ON CONFLICT (service, name) DO UPDATE SET description = EXCLUDED.description,
						required = EXCLUDED.required, currency = EXCLUDED.currency`,
					s.Name, m.Name, m.Description, m.Required, price(m, now), s.Currency); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func price(m catalog.Module, now time.Time) int64 {
	p, _ := m.PriceAt(now)
	return p
}
