package activities

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/metrics"
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
type ReserveInstanceResult = controldb.EnablePlan

// ReserveInstance validates the request (controldb.CheckEnable, as the
// front ends did before starting the workflow) and records the instance
// with its host reserved. Retried, it finds its own row and changes nothing.
func (a *Activities) ReserveInstance(ctx context.Context, in ReserveInstanceInput) (ReserveInstanceResult, error) {
	return finish(a.reserveInstance(ctx, in))
}

func (a *Activities) reserveInstance(ctx context.Context, in ReserveInstanceInput) (ReserveInstanceResult, error) {
	res, err := controldb.CheckEnable(ctx, a.DB, a.Catalog, controldb.EnableRequest{
		InstanceID: in.InstanceID, Service: in.Service, Modules: in.Modules, Host: in.Host})
	if err != nil {
		// A retry after the row was recorded keeps it, even if the request
		// would not pass now (a rollout has ended, retiring a module).
		if kept, ok, rerr := a.reserved(ctx, a.DB, in); rerr == nil && ok {
			return kept, nil
		}
		return res, err
	}
	err = a.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			INSERT INTO instances (id, account_id, service, version, modules, status, host, created_by)
			VALUES ($1, $2, $3, $4, $5, 'provisioning', $6, nullif($7, '')::uuid)
			ON CONFLICT (id) DO NOTHING`,
			in.InstanceID, in.AccountID, in.Service, res.Version, res.Modules, res.Host, in.ActorID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var ok bool
			if res, ok, err = a.reserved(ctx, tx, in); err == nil && !ok {
				err = apperr.Conflict("instance %s is recorded for another account or service", in.InstanceID)
			}
			return err
		}
		// A router may have cached the host as unknown: it now answers
		// "being set up".
		if err := controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "enable/"+in.InstanceID+"/requested", in.AccountID, in.ActorID, "instance.requested", "instance", in.InstanceID,
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

// reserved is the instance as an earlier attempt recorded it, if one did:
// it keeps the version and modules it was recorded with (a rollout may
// have ended since, changing the version new instances get).
func (a *Activities) reserved(ctx context.Context, q controldb.Querier, in ReserveInstanceInput) (ReserveInstanceResult, bool, error) {
	var res ReserveInstanceResult
	err := q.QueryRow(ctx, `SELECT version, modules, host FROM instances WHERE id = $1 AND account_id = $2 AND service = $3`,
		in.InstanceID, in.AccountID, in.Service).Scan(&res.Version, &res.Modules, &res.Host)
	if errors.Is(err, pgx.ErrNoRows) {
		return res, false, nil
	}
	if err != nil {
		return res, false, err
	}
	svc, err := a.Catalog.Service(in.Service)
	if err != nil {
		return res, false, err
	}
	v, err := svc.Version(res.Version)
	res.SchemaVersion = v.SchemaVersion
	return res, err == nil, err
}

// RegisterHost makes the instance's host routable and tells every router.
func (a *Activities) RegisterHost(ctx context.Context, in InstanceRef) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE instances SET host_registered_at = coalesce(host_registered_at, now()), updated_at = now() WHERE id = $1`, in.InstanceID)
		if err != nil {
			return err
		}
		return controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID)
	}))
}

// MarkReadyInput names the instance and who asked for it.
type MarkReadyInput struct {
	InstanceID string
	ActorID    string
}

// MarkReady ends provisioning.
func (a *Activities) MarkReady(ctx context.Context, in MarkReadyInput) error {
	var took time.Duration
	err := a.inTx(ctx, func(tx pgx.Tx) error {
		var account, was string
		var created time.Time
		err := tx.QueryRow(ctx, `SELECT status, created_at FROM instances WHERE id = $1 FOR UPDATE`, in.InstanceID).Scan(&was, &created)
		if err == nil {
			err = tx.QueryRow(ctx, `
				UPDATE instances SET status = 'ready', updated_at = now()
				WHERE id = $1 AND status IN ('provisioning', 'ready') RETURNING account_id`, in.InstanceID).Scan(&account)
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Conflict("instance %s is no longer being provisioned", in.InstanceID)
		}
		if err != nil {
			return err
		}
		if was == "provisioning" { // the first time, not a retry
			took = time.Since(created)
		}
		if err := controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "enable/"+in.InstanceID+"/ready", account, in.ActorID, "instance.ready", "instance", in.InstanceID, nil)
	})
	if err == nil && took > 0 {
		metrics.EnableToReady.Observe(took.Seconds())
	}
	return apperr.ForTemporal(err)
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
		if err := controldb.NotifyInstanceChanged(ctx, tx, in.InstanceID); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "enable/"+in.InstanceID+"/failed", account, "", "instance.failed", "instance", in.InstanceID,
			map[string]any{"reason": in.Reason})
	}))
}
