package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/internal/migrator"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
)

// tenantConfig is how to reach an instance's own database, as its role.
func (a *Activities) tenantConfig(ctx context.Context, instanceID string) (*pgx.ConnConfig, *catalog.Service, error) {
	return controldb.TenantConfig(ctx, a.DB, a.Cipher, a.Catalog, instanceID)
}

// MigrateInput names the instance and the service version to migrate to,
// and, for a new instance, the seed to run once migrated.
type MigrateInput struct {
	InstanceID string
	Version    string
	Seed       *SeedInput `json:",omitempty"`
}

// MigrateTenant runs the service's migrations up (or down) to the schema of
// Version, as the tenant's own role so it owns every table, then the seed
// when In.Seed is set. It may take minutes on a large tenant: it
// heartbeats, and stops (rolling back the file it was running) when the
// workflow cancels it. Retried after a crash anywhere, it carries on where
// the database is (migrator's ledger) and the seed runs again harmlessly
// (seeds are idempotent). A migration or seed that would fail the same way
// again is final (finalFailure).
func (a *Activities) MigrateTenant(ctx context.Context, in MigrateInput) error {
	return apperr.ForTemporal(longStep(ctx, "migrate", func(ctx context.Context) error {
		if in.Seed != nil {
			// Checked first: bad input fails before any migration runs.
			if err := in.Seed.Setup.Check(); err != nil {
				return err
			}
		}
		cfg, svc, v, err := tenantAtVersion(ctx, a, in.InstanceID, in.Version)
		if err != nil {
			return err
		}
		if err := migrator.Migrate(ctx, cfg, svc.Migrations, v.SchemaVersion); err != nil {
			return a.finalFailure(ctx, in.InstanceID, svc.Name+" "+in.Version, "migration", err)
		}
		a.logEvent(ctx, in.InstanceID, "instance.migrated", map[string]any{"version": in.Version})
		if in.Seed == nil {
			return nil
		}
		if err := a.seedTenant(ctx, *in.Seed); err != nil {
			return a.finalFailure(ctx, in.InstanceID, svc.Name+" "+in.Version, "seed", err)
		}
		return nil
	}))
}

// finalFailure turns a migration's or seed's error that running it again
// cannot mend (migrator.Permanent) into a final one a client can read,
// keeping its cause for operators (progress, describe, the developers'
// console); any other error is returned as it is, to be retried. Rows of
// the instance that break a rule the version adds are the client's to
// change, and the sentence says which; anything else is on our side.
func (a *Activities) finalFailure(ctx context.Context, instanceID, release, step string, err error) error {
	if !migrator.Permanent(err) {
		return err
	}
	a.logEvent(ctx, instanceID, "instance."+step+"_failed", map[string]any{"release": release})
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (strings.HasPrefix(pg.Code, "22") || strings.HasPrefix(pg.Code, "23")) {
		what := pg.Message
		if pg.Detail != "" {
			what += ": " + pg.Detail
		}
		if step == "seed" {
			return apperr.Failed(err, "%s cannot be set up with these values: they break a rule of this version (%s). "+
				"Change them, then enable it again", release, what)
		}
		return apperr.Failed(err, "%s cannot be installed on this instance's database: its data breaks a rule of this version (%s). "+
			"Change that data, then ask for it again", release, what)
	}
	return apperr.Failed(err, "%s could not be installed on this instance's database: its %s failed on our side, and Tenantry's operators have been told", release, step)
}

// tenantAtVersion is how to reach an instance's tenant database and the
// catalog's entry for one version of its service.
func tenantAtVersion(ctx context.Context, a *Activities, instanceID, version string) (*pgx.ConnConfig, *catalog.Service, catalog.Version, error) {
	cfg, svc, err := a.tenantConfig(ctx, instanceID)
	if err != nil {
		return nil, nil, catalog.Version{}, err
	}
	v, err := svc.Version(version)
	return cfg, svc, v, err
}

// Setup is what the client enters on the setup page. The admin password
// arrives hashed (argon2id), never in clear.
type Setup struct {
	AdminEmail        string `json:"admin_email"`
	AdminName         string `json:"admin_name"`
	AdminPasswordHash string `json:"admin_password_hash"`
	Language          string `json:"language"`
}

// Check validates a setup; it is pure, so the workflow's update validator
// and the API both use it.
func (s Setup) Check() error {
	if err := s.CheckDetails(); err != nil {
		return err
	}
	if !secret.LooksLikePasswordHash(s.AdminPasswordHash) {
		return apperr.Invalid("admin password must arrive hashed")
	}
	return nil
}

// CheckDetails validates everything but the password, which the API checks
// in clear before hashing it.
func (s Setup) CheckDetails() error {
	if _, err := validate.Email(s.AdminEmail); err != nil {
		return apperr.Invalid("admin email: %s", apperr.Message(err))
	}
	if _, err := validate.Name("admin name", s.AdminName); err != nil {
		return err
	}
	return validate.Language(s.Language)
}

// SeedInput carries the setup and the enabled modules into the tenant.
type SeedInput struct {
	InstanceID string
	Setup      Setup
	Modules    []string
}

// SeedTenant runs the service's idempotent seed with the setup's values,
// heartbeating; cancelled, its statement stops.
func (a *Activities) SeedTenant(ctx context.Context, in SeedInput) error {
	return apperr.ForTemporal(longStep(ctx, "seed", func(ctx context.Context) error { return a.seedTenant(ctx, in) }))
}

func (a *Activities) seedTenant(ctx context.Context, in SeedInput) error {
	if err := in.Setup.Check(); err != nil {
		return err
	}
	email, _ := validate.Email(in.Setup.AdminEmail)
	cfg, svc, err := a.tenantConfig(ctx, in.InstanceID)
	if err != nil {
		return err
	}
	modules, _ := json.Marshal(in.Modules)
	err = withTenantConn(ctx, cfg, func(conn *pgx.Conn) error {
		// Values reach the seed as session settings, so seed files stay
		// plain SQL with no string building.
		if _, err := conn.Exec(ctx, `SELECT set_config('tenantry.admin_email', $1, false),
				set_config('tenantry.admin_name', $2, false), set_config('tenantry.admin_password_hash', $3, false),
				set_config('tenantry.language', $4, false), set_config('tenantry.modules', $5, false)`,
			email, in.Setup.AdminName, in.Setup.AdminPasswordHash, in.Setup.Language, string(modules)); err != nil {
			return err
		}
		_, err := conn.Exec(ctx, svc.Seed)
		return err
	})
	if err == nil {
		a.logEvent(ctx, in.InstanceID, "instance.seeded", map[string]any{"language": in.Setup.Language})
	}
	return err
}

// TenantModulesInput is the instance's new module set.
type TenantModulesInput struct {
	InstanceID string
	Modules    []string
}

// WriteTenantModules records the enabled modules in the tenant's settings,
// where the service's own code reads them.
func (a *Activities) WriteTenantModules(ctx context.Context, in TenantModulesInput) error {
	cfg, _, err := a.tenantConfig(ctx, in.InstanceID)
	if err != nil {
		return apperr.ForTemporal(err)
	}
	modules, _ := json.Marshal(in.Modules)
	return apperr.ForTemporal(withTenantConn(ctx, cfg, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `INSERT INTO tenant_settings (key, value) VALUES ('modules', $1)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, modules)
		return err
	}))
}

func withTenantConn(ctx context.Context, cfg *pgx.ConnConfig, fn func(*pgx.Conn) error) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to tenant database: %w", err)
	}
	defer conn.Close(ctx)
	return fn(conn)
}
