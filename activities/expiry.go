package activities

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
)

// ExpiryWarning is how long before its end a client is warned that an
// instance expires.
const ExpiryWarning = 7 * 24 * time.Hour

// Expiry is where an instance's end stands.
type Expiry struct {
	AccountID string
	Service   string
	Status    string
	ExpiresAt *time.Time // nil: no end
	Warned    bool
	// Maintenance: it is being upgraded; the end waits for its swap.
	Maintenance bool
}

// InstanceExpiry reads an instance's end.
func (a *Activities) InstanceExpiry(ctx context.Context, in InstanceRef) (Expiry, error) {
	var e Expiry
	err := a.DB.QueryRow(ctx, `SELECT account_id::text, service, status, expires_at, expiry_warned_at IS NOT NULL, maintenance
		FROM instances WHERE id = $1`, in.InstanceID).Scan(&e.AccountID, &e.Service, &e.Status, &e.ExpiresAt, &e.Warned, &e.Maintenance)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, apperr.ForTemporal(apperr.NotFound("instance %s does not exist", in.InstanceID))
	}
	return e, err
}

// WarnExpiryInput warns of the end the warning was computed for.
type WarnExpiryInput struct {
	InstanceID string
	ExpiresAt  time.Time
}

// WarnExpiry records, once per end, that the client was warned: the
// console shows it and the timeline keeps it.
func (a *Activities) WarnExpiry(ctx context.Context, in WarnExpiryInput) error {
	return apperr.ForTemporal(a.inTx(ctx, func(tx pgx.Tx) error {
		var account string
		err := tx.QueryRow(ctx, `UPDATE instances SET expiry_warned_at = coalesce(expiry_warned_at, now())
			WHERE id = $1 AND expires_at = $2 RETURNING account_id`, in.InstanceID, in.ExpiresAt).Scan(&account)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // renewed or ended meanwhile: nothing to warn of
		}
		if err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "expiry-warning/"+in.InstanceID+"/"+in.ExpiresAt.UTC().Format(time.RFC3339Nano), account, "",
			"instance.expiry_warning", "instance", in.InstanceID,
			map[string]any{"expires_at": in.ExpiresAt, "message": "this instance ends then and will be disabled unless renewed"})
	}))
}
