package activities

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/apperr"
	"tenantry/internal/validate"
)

// ReserveInstanceInput is a client's request to enable a service.
type ReserveInstanceInput struct {
	InstanceID string
	AccountID  string
	ActorID    string
	Service    string
	Modules    []string
	Host       string
}

// ReserveInstanceResult is the request as the catalog resolved it.
type ReserveInstanceResult struct {
	Version       string
	SchemaVersion uint
	Modules       []string
	Host          string
}

// CheckEnable validates an enable request against the catalog and the
// control database without writing anything; the API calls it to answer bad
// input at once, ReserveInstance calls it again as the authority.
func (a *Activities) CheckEnable(ctx context.Context, in ReserveInstanceInput) (ReserveInstanceResult, error) {
	svc, err := a.Catalog.Service(in.Service)
	if err != nil {
		return ReserveInstanceResult{}, err
	}
	// A new instance runs the current version: it offers what may be chosen.
	modules, err := svc.ResolveModules(svc.CurrentVersion, in.Modules)
	if err != nil {
		return ReserveInstanceResult{}, err
	}
	host, err := validate.Host(in.Host)
	if err != nil {
		return ReserveInstanceResult{}, err
	}
	v, _ := svc.Version(svc.CurrentVersion)
	res := ReserveInstanceResult{Version: v.Version, SchemaVersion: v.SchemaVersion, Modules: modules, Host: host}
	var owner string
	err = a.DB.QueryRow(ctx, `SELECT id FROM instances WHERE host = $1 AND status IN ('provisioning', 'ready', 'disabled')`, host).Scan(&owner)
	switch {
	case err == nil && owner != in.InstanceID:
		return res, apperr.Conflict("host %s is already taken", host)
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return res, err
	}
	return res, nil
}

// ReserveInstance validates the request and records the instance with its
// host reserved. Retried, it finds its own row and changes nothing.
func (a *Activities) ReserveInstance(ctx context.Context, in ReserveInstanceInput) (ReserveInstanceResult, error) {
	return finish(a.reserveInstance(ctx, in))
}

func (a *Activities) reserveInstance(ctx context.Context, in ReserveInstanceInput) (ReserveInstanceResult, error) {
	res, err := a.CheckEnable(ctx, in)
	if err != nil {
		return res, err
	}
	err = a.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO instances (id, account_id, service, version, modules, status, host, created_by)
			VALUES ($1, $2, $3, $4, $5, 'provisioning', $6, $7)
			ON CONFLICT (id) DO NOTHING`,
			in.InstanceID, in.AccountID, in.Service, res.Version, res.Modules, res.Host, nullUUID(in.ActorID))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		// A router may have cached the host as unknown: it now answers
		// "being set up".
		if err := notifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return audit(ctx, tx, "enable/"+in.InstanceID+"/requested", in.AccountID, in.ActorID, "instance.requested", "instance", in.InstanceID,
			map[string]any{"service": in.Service, "modules": res.Modules, "host": res.Host})
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return res, apperr.Conflict("host %s is already taken", res.Host)
	}
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return res, apperr.Invalid("account %s does not exist", in.AccountID)
	}
	return res, err
}

// RegisterHost makes the instance's host routable and tells every router.
func (a *Activities) RegisterHost(ctx context.Context, in InstanceRef) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE instances SET host_registered_at = coalesce(host_registered_at, now()), updated_at = now() WHERE id = $1`, in.InstanceID)
		if err != nil {
			return err
		}
		return notifyInstanceChanged(ctx, tx, in.InstanceID)
	}))
}

// MarkReadyInput names the instance and who asked for it.
type MarkReadyInput struct {
	InstanceID string
	ActorID    string
}

// MarkReady ends provisioning.
func (a *Activities) MarkReady(ctx context.Context, in MarkReadyInput) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		var account string
		err := tx.QueryRow(ctx, `
			UPDATE instances SET status = 'ready', updated_at = now()
			WHERE id = $1 AND status IN ('provisioning', 'ready') RETURNING account_id`, in.InstanceID).Scan(&account)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Conflict("instance %s is no longer being provisioned", in.InstanceID)
		}
		if err != nil {
			return err
		}
		if err := notifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return audit(ctx, tx, "enable/"+in.InstanceID+"/ready", account, in.ActorID, "instance.ready", "instance", in.InstanceID, nil)
	}))
}

// FailInstanceInput says why provisioning gave up.
type FailInstanceInput struct {
	InstanceID string
	Reason     string
	At         time.Time
}

// FailInstance is the last compensation: the instance is marked failed with
// its reason, its host released and any usage spans closed.
func (a *Activities) FailInstance(ctx context.Context, in FailInstanceInput) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		var account string
		err := tx.QueryRow(ctx, `
			UPDATE instances SET status = 'failed', failure_reason = $2, host_registered_at = NULL,
				credentials_encrypted = NULL, updated_at = now()
			WHERE id = $1 RETURNING account_id`, in.InstanceID, in.Reason).Scan(&account)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // nothing was reserved
		}
		if err != nil {
			return err
		}
		if err := closeSpans(ctx, tx, in.InstanceID, nil, in.At); err != nil {
			return err
		}
		if err := notifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return audit(ctx, tx, "enable/"+in.InstanceID+"/failed", account, "", "instance.failed", "instance", in.InstanceID,
			map[string]any{"reason": in.Reason})
	}))
}

// notifyInstanceChanged tells listeners (the host routers) to drop what they
// cached about an instance; it is delivered when the transaction commits.
func notifyInstanceChanged(ctx context.Context, tx pgx.Tx, instanceID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify('instance_changed', $1)`, instanceID)
	return err
}

// lockInstance reads columns of the instance's row into dest and holds its
// row lock until tx ends; a missing instance is NotFound.
func lockInstance(ctx context.Context, tx pgx.Tx, instanceID, columns string, dest ...any) error {
	err := tx.QueryRow(ctx, `SELECT `+columns+` FROM instances WHERE id = $1 FOR UPDATE`, instanceID).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.NotFound("instance %s does not exist", instanceID)
	}
	return err
}
