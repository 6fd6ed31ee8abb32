package controldb

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
)

// DiscountInput grants an account a discount: a percentage (basis points,
// 2500 = 25 %) or a fixed amount in minor units, for the whole account, a
// service or one module of it, for a number of periods in which it applies
// and/or until an instant.
type DiscountInput struct {
	ID          string     `json:"-"`
	AccountID   string     `json:"account_id"`
	Name        string     `json:"name"`
	Reason      string     `json:"reason"`
	PercentBP   int64      `json:"percent_bp"`
	AmountMinor int64      `json:"amount_minor"`
	Service     string     `json:"service"`
	Module      string     `json:"module"`
	ValidFrom   *time.Time `json:"valid_from"`
	ValidUntil  *time.Time `json:"valid_until"`
	Periods     int        `json:"periods"`
	ActorID     string     `json:"-"`
}

// CreateDiscount validates and records a discount (an empty ID gets a new
// one, an unset ValidFrom is now); the same ID twice is one discount.
func CreateDiscount(ctx context.Context, db *pgxpool.Pool, cat *catalog.Catalog, in DiscountInput, now time.Time) error {
	kind, err := checkDiscount(cat, &in, now)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = $1)`, in.AccountID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return apperr.NotFound("account %s does not exist", in.AccountID)
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO discounts (id, account_id, name, reason, kind, percent_bp, amount_minor, service, module,
				valid_from, valid_until, periods)
			VALUES ($1, $2, $3, $4, $5, nullif($6, 0), nullif($7, 0), nullif($8, ''), nullif($9, ''), $10, $11, nullif($12, 0))
			ON CONFLICT (id) DO NOTHING`,
			in.ID, in.AccountID, in.Name, in.Reason, kind, in.PercentBP, in.AmountMinor, in.Service, in.Module,
			*in.ValidFrom, in.ValidUntil, in.Periods)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return Audit(ctx, tx, "discount/"+in.ID, in.AccountID, in.ActorID, "billing.discount_granted", "discount", in.ID,
			map[string]any{"name": in.Name, "kind": kind, "percent_bp": in.PercentBP, "amount_minor": in.AmountMinor,
				"service": in.Service, "module": in.Module, "periods": in.Periods, "valid_until": in.ValidUntil})
	})
}

func checkDiscount(cat *catalog.Catalog, in *DiscountInput, now time.Time) (string, error) {
	if in.ID == "" {
		in.ID = uuid.NewString()
	}
	if _, err := uuid.Parse(in.AccountID); err != nil {
		return "", apperr.Invalid("account_id must be an account's id")
	}
	in.Name, in.Reason = strings.TrimSpace(in.Name), strings.TrimSpace(in.Reason)
	if in.Name == "" || len(in.Name) > 200 {
		return "", apperr.Invalid("a discount needs a name of at most 200 characters")
	}
	kind := ""
	switch {
	case in.PercentBP != 0 && in.AmountMinor != 0:
		return "", apperr.Invalid("give percent_bp or amount_minor, not both")
	case in.PercentBP != 0:
		if in.PercentBP < 1 || in.PercentBP > 10000 {
			return "", apperr.Invalid("percent_bp is basis points from 1 to 10000 (2500 = 25 %%)")
		}
		kind = "percent"
	case in.AmountMinor != 0:
		if in.AmountMinor < 0 {
			return "", apperr.Invalid("amount_minor must be positive")
		}
		kind = "fixed"
	default:
		return "", apperr.Invalid("give percent_bp (2500 = 25 %%) or amount_minor")
	}
	if in.Module != "" && in.Service == "" {
		return "", apperr.Invalid("a module discount names its service too")
	}
	if in.Service != "" {
		svc, err := cat.Service(in.Service)
		if err != nil {
			return "", apperr.Invalid("there is no service %q", in.Service)
		}
		if _, ok := svc.Module(in.Module); in.Module != "" && !ok {
			return "", apperr.Invalid("%s has no module %q", in.Service, in.Module)
		}
	}
	if in.Periods < 0 {
		return "", apperr.Invalid("periods must be positive")
	}
	if in.ValidFrom == nil {
		in.ValidFrom = &now
	}
	if in.ValidUntil != nil && !in.ValidUntil.After(*in.ValidFrom) {
		return "", apperr.Invalid("valid_until must be after valid_from")
	}
	return kind, nil
}
