package controldb

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/validate"
)

// EnableRequest is a client's request to enable a service, as far as it can
// be checked before anything is written.
type EnableRequest struct {
	InstanceID string
	Service    string
	Modules    []string
	Host       string
}

// EnablePlan is an enable request as the catalog resolved it: the version a
// new instance runs, its module set (required modules included) and its
// canonical host.
type EnablePlan struct {
	Version       string
	SchemaVersion uint
	Modules       []string
	Host          string
}

// CheckEnable validates an enable request against the catalog and the
// control database without writing anything: the front ends call it to
// answer bad input at once, the ReserveInstance activity calls it again as
// the authority. A host held by another live instance is a conflict.
func CheckEnable(ctx context.Context, q Querier, cat *catalog.Catalog, in EnableRequest) (EnablePlan, error) {
	svc, err := cat.Service(in.Service)
	if err != nil {
		return EnablePlan{}, err
	}
	// A new instance runs the service's version now (the manifest's, or
	// the newer one a rollout moved every instance to): it offers what may
	// be chosen.
	version, err := EnableVersion(ctx, q, svc)
	if err != nil {
		return EnablePlan{}, err
	}
	modules, err := svc.ResolveModules(version, in.Modules)
	if err != nil {
		return EnablePlan{}, err
	}
	host, err := validate.Host(in.Host)
	if err != nil {
		return EnablePlan{}, err
	}
	v, _ := svc.Version(version)
	plan := EnablePlan{Version: v.Version, SchemaVersion: v.SchemaVersion, Modules: modules, Host: host}
	var owner string
	err = q.QueryRow(ctx, `SELECT id FROM instances WHERE host = $1 AND status IN ('provisioning', 'ready', 'disabled')`, host).Scan(&owner)
	switch {
	case err == nil && owner != in.InstanceID:
		return plan, apperr.Conflict("host %s is already taken", host)
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return plan, err
	}
	return plan, nil
}

// EnableVersion is the version new instances of the service are created
// on: the newest version a rollout of it completed (with or without
// failures: its instances run it, so a new one must too), when that is
// newer than the manifest's current_version, which it is otherwise. An
// aborted or failed rollout promotes nothing.
func EnableVersion(ctx context.Context, q Querier, svc *catalog.Service) (string, error) {
	rolled, err := rolledOut(ctx, q, svc.Name)
	if err != nil {
		return "", err
	}
	return newestOf(svc, rolled[svc.Name]), nil
}

// EnableVersions is EnableVersion of every service of the catalog, in one
// query (the catalog pages and the broker's catalog show them all).
func EnableVersions(ctx context.Context, q Querier, cat *catalog.Catalog) (map[string]string, error) {
	rolled, err := rolledOut(ctx, q, "")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range cat.Names() {
		svc, _ := cat.Service(name)
		out[name] = newestOf(svc, rolled[name])
	}
	return out, nil
}

// rolledOut lists the versions completed rollouts moved each service to
// (one service's, or every one's when service is empty).
func rolledOut(ctx context.Context, q Querier, service string) (map[string][]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT service, version FROM rollouts
		WHERE ($1 = '' OR service = $1) AND outcome IN ('completed', 'completed_with_failures')`, service)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	var svc, version string
	_, err = pgx.ForEachRow(rows, []any{&svc, &version}, func() error {
		out[svc] = append(out[svc], version)
		return nil
	})
	return out, err
}

// newestOf is the newest of the manifest's current version and the
// rolled-out ones the manifest still offers.
func newestOf(svc *catalog.Service, rolled []string) string {
	version := svc.CurrentVersion
	for _, r := range rolled {
		if _, err := svc.Version(r); err == nil && catalog.CompareVersions(r, version) > 0 {
			version = r
		}
	}
	return version
}

// ModuleChange is a resolved change of an instance's modules.
type ModuleChange struct {
	Modules []string // the new set, required modules included
	Added   []string
	Removed []string
}

// CheckModuleChange validates a new module set against the catalog and the
// instance's state without writing anything: the instance must be ready and
// out of maintenance, and its version must offer every module.
func CheckModuleChange(ctx context.Context, q Querier, cat *catalog.Catalog, instanceID string, modules []string) (ModuleChange, error) {
	var service, version, status string
	var current []string
	var maintenance bool
	err := q.QueryRow(ctx, `SELECT service, version, status, modules, maintenance FROM instances WHERE id = $1`, instanceID).
		Scan(&service, &version, &status, &current, &maintenance)
	if errors.Is(err, pgx.ErrNoRows) {
		return ModuleChange{}, apperr.NotFound("instance %s does not exist", instanceID)
	}
	if err != nil {
		return ModuleChange{}, err
	}
	if status != "ready" {
		return ModuleChange{}, apperr.Conflict("modules can only change while the instance is ready (it is %s)", status)
	}
	if maintenance {
		return ModuleChange{}, apperr.Conflict("modules cannot change during maintenance (the instance is being upgraded): try again shortly")
	}
	svc, err := cat.Service(service)
	if err != nil {
		return ModuleChange{}, err
	}
	// Only what the instance's version offers may be chosen.
	next, err := svc.ResolveModules(version, modules)
	if err != nil {
		return ModuleChange{}, err
	}
	return DiffModules(current, next), nil
}

// DiffModules is the change from the current module set to next.
func DiffModules(current, next []string) ModuleChange {
	c := ModuleChange{Modules: next}
	for _, m := range next {
		if !slices.Contains(current, m) {
			c.Added = append(c.Added, m)
		}
	}
	for _, m := range current {
		if !slices.Contains(next, m) {
			c.Removed = append(c.Removed, m)
		}
	}
	return c
}

// UpgradePlan is what an upgrade of an instance will do.
type UpgradePlan struct {
	Service     string
	FromVersion string
	Version     string
	// Current: the instance already runs Version; there is nothing to do.
	Current bool
	// Modules is the instance's module set on Version; Dropped are the
	// modules Version no longer offers, removed and no longer billed.
	Modules []string
	Dropped []string
}

// CheckUpgrade validates an upgrade of the instance to version without
// writing anything: the instance must be ready, or disabled and still in
// its grace period (its database is kept, so a rollout moves it too and it
// comes back on the new version), and the version a released, newer one.
// The front ends call it to answer bad input at once; the UpgradeInstance
// workflow runs it as its first step.
func CheckUpgrade(ctx context.Context, q Querier, cat *catalog.Catalog, instanceID, version string) (UpgradePlan, error) {
	var status string
	plan, err := planUpgrade(q.QueryRow(ctx,
		`SELECT service, version, modules, CASE WHEN status = 'disabled' AND delete_after <= now() THEN 'being deleted' ELSE status END
		FROM instances WHERE id = $1`, instanceID), cat, instanceID, version, &status)
	if err == nil && status != "ready" && status != "disabled" {
		err = apperr.Conflict("only a ready instance, or a disabled one in its grace period, can be upgraded (it is %s)", status)
	}
	return plan, err
}

// LockUpgrade works out the upgrade of the instance to version, as
// CheckUpgrade does, from its row read under its lock, whatever its status,
// which it returns too.
func LockUpgrade(ctx context.Context, tx pgx.Tx, cat *catalog.Catalog, instanceID, version string) (UpgradePlan, string, error) {
	var status string
	plan, err := planUpgrade(tx.QueryRow(ctx,
		`SELECT service, version, modules, status FROM instances WHERE id = $1 FOR UPDATE`, instanceID), cat, instanceID, version, &status)
	return plan, status, err
}

// planUpgrade reads the instance from row and works out the upgrade.
func planUpgrade(row pgx.Row, cat *catalog.Catalog, instanceID, version string, status *string) (UpgradePlan, error) {
	var p UpgradePlan
	var modules []string
	err := row.Scan(&p.Service, &p.FromVersion, &modules, status)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, apperr.NotFound("instance %s does not exist", instanceID)
	}
	if err != nil {
		return p, err
	}
	svc, err := cat.Service(p.Service)
	if err != nil {
		return p, err
	}
	if _, err := svc.Version(version); err != nil {
		return p, err
	}
	p.Version = version
	switch c := catalog.CompareVersions(version, p.FromVersion); {
	case c < 0:
		return p, apperr.Invalid("%s %s is older than the instance's %s: downgrades are not supported", p.Service, version, p.FromVersion)
	case c == 0:
		p.Current, p.Modules = true, modules
		return p, nil
	}
	if p.Dropped, err = svc.DroppedModules(modules, version); err != nil {
		return p, err
	}
	for _, m := range modules {
		if !slices.Contains(p.Dropped, m) {
			p.Modules = append(p.Modules, m)
		}
	}
	return p, nil
}

// ExpiryChange gives an instance an end (nil removes it); a later end is a
// renewal.
type ExpiryChange struct {
	InstanceID string
	ActorID    string
	ExpiresAt  *time.Time
}

// SetInstanceExpiry records the instance's end and forgets an earlier
// warning, in the timeline too. Only a live instance gets an end, and the
// end must lie after now.
func SetInstanceExpiry(ctx context.Context, db *pgxpool.Pool, in ExpiryChange, now time.Time) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var account, status string
		if err := LockInstance(ctx, tx, in.InstanceID, "account_id, status", &account, &status); err != nil {
			return err
		}
		if status != "ready" && status != "provisioning" {
			return apperr.Conflict("only a live instance can get an end (it is %s)", status)
		}
		if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
			return apperr.Invalid("the end must lie in the future")
		}
		if _, err := tx.Exec(ctx, `UPDATE instances SET expires_at = $2, expiry_warned_at = NULL, updated_at = now() WHERE id = $1`,
			in.InstanceID, in.ExpiresAt); err != nil {
			return err
		}
		key := "expiry/" + in.InstanceID + "/" + now.UTC().Format(time.RFC3339Nano)
		return Audit(ctx, tx, key, account, in.ActorID, "instance.expiry_set", "instance", in.InstanceID,
			map[string]any{"expires_at": in.ExpiresAt})
	})
}
