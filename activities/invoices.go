package activities

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/internal/metrics"
)

// ClosePeriodInput names the period of an account to close.
type ClosePeriodInput struct {
	AccountID string
	Period    billing.Period
}

// InvoiceSummary is what the BillingCycle keeps of an invoice: its id and
// totals, never its lines (those live in the control database).
type InvoiceSummary = controldb.InvoiceSummary

// CloseBillingPeriod computes the account's invoice for the period from the
// facts in the control database and stores it with its lines. It is
// idempotent: when the invoice exists (a retry, a reset workflow, a
// duplicate delivery) it returns that invoice and writes nothing. Every
// account gets an invoice for every period it had a cycle for, a zero
// invoice when nothing was used, so "exactly one" can be checked.
// A failure is recorded for the developers' page; a success clears it.
func (a *Activities) CloseBillingPeriod(ctx context.Context, in ClosePeriodInput) (InvoiceSummary, error) {
	inv, err := a.closeBillingPeriod(ctx, in)
	if err != nil && ctx.Err() == nil {
		if _, ferr := a.DB.Exec(ctx, `
			INSERT INTO billing_close_failures (account_id, period_start, error) VALUES ($1, $2, $3)
			ON CONFLICT (account_id, period_start) DO UPDATE SET error = EXCLUDED.error,
				attempts = billing_close_failures.attempts + 1, last_at = now()`,
			in.AccountID, in.Period.Start, apperr.Message(err)); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}
	return finish(inv, err)
}

func (a *Activities) closeBillingPeriod(ctx context.Context, in ClosePeriodInput) (InvoiceSummary, error) {
	if _, err := uuid.Parse(in.AccountID); err != nil {
		return InvoiceSummary{}, apperr.Invalid("account id %q is not a UUID", in.AccountID)
	}
	if !in.Period.End.After(in.Period.Start) {
		return InvoiceSummary{}, apperr.Invalid("period %s → %s is empty", in.Period.Start, in.Period.End)
	}
	// Two round trips: whether it is closed already, with the facts, in one
	// batch; then the invoice with its lines (one batch, so one implicit
	// transaction: all or nothing).
	var existing *InvoiceSummary
	inv, _, err := controldb.ComputeInvoiceWith(ctx, a.DB, in.AccountID, in.Period, func(b *pgx.Batch) {
		b.Queue(controldb.InvoiceSelect+`WHERE i.account_id = $1 AND i.period_start = $2`, in.AccountID, in.Period.Start).
			Query(func(rows pgx.Rows) error {
				for rows.Next() {
					s, err := controldb.ScanInvoice(rows)
					if err != nil {
						return err
					}
					existing = &s
				}
				return rows.Err()
			})
	})
	if existing != nil {
		return *existing, nil
	}
	if err != nil {
		return InvoiceSummary{}, err
	}
	out := InvoiceSummary{ID: uuid.NewString(), AccountID: in.AccountID, Period: in.Period, Currency: inv.Currency,
		SubtotalMinor: inv.SubtotalMinor, DiscountMinor: inv.DiscountMinor, TotalMinor: inv.TotalMinor, Lines: len(inv.Lines)}
	n := len(inv.Lines)
	var (
		pos                         = make([]int32, n)
		kind, service, module, expl = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		instance, discount          = make([]*string, n), make([]*string, n)
		span                        = make([]*int64, n)
		from, to                    = make([]*time.Time, n), make([]*time.Time, n)
		quantity, rate, amount      = make([]int64, n), make([]int64, n), make([]int64, n)
		text                        = func(s string) *string {
			if s == "" {
				return nil
			}
			return &s
		}
	)
	for i, l := range inv.Lines {
		pos[i], kind[i], service[i], module[i], expl[i] = int32(i+1), l.Kind, l.Service, l.Module, l.Explanation
		instance[i], discount[i], from[i], to[i] = text(l.InstanceID), text(l.DiscountID), l.From, l.To
		if l.SpanID != 0 {
			id := l.SpanID
			span[i] = &id
		}
		quantity[i], rate[i], amount[i] = l.Quantity, l.RateMinor, l.AmountMinor
	}
	inserted := false
	b := &pgx.Batch{}
	b.Queue(`
		INSERT INTO invoices (id, account_id, period_start, period_end, currency, subtotal_minor, discount_minor, total_minor)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (account_id, period_start) DO NOTHING RETURNING closed_at`,
		out.ID, in.AccountID, in.Period.Start, in.Period.End, inv.Currency, inv.SubtotalMinor, inv.DiscountMinor, inv.TotalMinor).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				inserted = true
				if err := rows.Scan(&out.ClosedAt); err != nil {
					return err
				}
			}
			return rows.Err()
		})
	// Lines only for an invoice this close inserted (not a concurrent one's).
	b.Queue(`
		INSERT INTO invoice_lines (invoice_id, position, kind, instance_id, service, module, span_id, discount_id,
			from_at, to_at, quantity, rate_minor, amount_minor, explanation)
		SELECT $1, u.pos, u.kind, u.inst::uuid, u.svc, u.mod, u.span, u.disc::uuid, u.f, u.t, u.q, u.r, u.a, u.e
		FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[],
			$9::timestamptz[], $10::timestamptz[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[])
			AS u(pos, kind, inst, svc, mod, span, disc, f, t, q, r, a, e)
		WHERE EXISTS (SELECT 1 FROM invoices WHERE id = $1)`,
		out.ID, pos, kind, instance, service, module, span, discount, from, to, quantity, rate, amount, expl)
	b.Queue(`DELETE FROM billing_close_failures WHERE account_id = $1 AND period_start = $2`, in.AccountID, in.Period.Start)
	if err := a.DB.SendBatch(ctx, b).Close(); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23503" && pgErr.ConstraintName == "invoices_account_id_fkey" {
			return InvoiceSummary{}, apperr.NotFound("account %s does not exist", in.AccountID)
		}
		return InvoiceSummary{}, err
	}
	if !inserted { // another close of the same period won the race: return its invoice
		return controldb.InvoiceByPeriod(ctx, a.DB, in.AccountID, in.Period.Start)
	}
	out.ClosedAt = out.ClosedAt.UTC()
	metrics.InvoicesClosed.Inc()
	return out, nil
}
