package controldb

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/billing"
)

// InvoiceSummary is an invoice's id and totals, never its lines (those are
// read with InvoiceLines); the BillingCycle keeps it as the result of its
// close.
type InvoiceSummary struct {
	ID            string         `json:"id"`
	AccountID     string         `json:"account_id"`
	Period        billing.Period `json:"period"`
	Currency      string         `json:"currency"`
	SubtotalMinor int64          `json:"subtotal_minor"`
	DiscountMinor int64          `json:"discount_minor"`
	TotalMinor    int64          `json:"total_minor"`
	Lines         int            `json:"lines"`
	ClosedAt      time.Time      `json:"closed_at"`
}

// invoiceColumns are the columns ScanInvoice reads.
const invoiceColumns = `i.id, i.account_id, i.period_start, i.period_end, i.currency, i.subtotal_minor,
	i.discount_minor, i.total_minor, (SELECT count(*) FROM invoice_lines l WHERE l.invoice_id = i.id), i.closed_at`

// ScanInvoice reads one row of InvoiceSelect.
func ScanInvoice(row pgx.Row) (InvoiceSummary, error) {
	var s InvoiceSummary
	err := row.Scan(&s.ID, &s.AccountID, &s.Period.Start, &s.Period.End, &s.Currency, &s.SubtotalMinor,
		&s.DiscountMinor, &s.TotalMinor, &s.Lines, &s.ClosedAt)
	s.Period.Start, s.Period.End, s.ClosedAt = s.Period.Start.UTC(), s.Period.End.UTC(), s.ClosedAt.UTC()
	return s, err
}

// InvoiceSelect selects invoice summaries; add WHERE on alias i.
const InvoiceSelect = `SELECT ` + invoiceColumns + ` FROM invoices i `

// InvoiceByPeriod reads the summary of the account's invoice for the
// period that starts at start.
func InvoiceByPeriod(ctx context.Context, q Querier, accountID string, start time.Time) (InvoiceSummary, error) {
	return ScanInvoice(q.QueryRow(ctx, InvoiceSelect+`WHERE i.account_id = $1 AND i.period_start = $2`, accountID, start))
}

// ComputeInvoice computes (without storing) the account's invoice for a
// period from the control database: the spans overlapping it, the counted
// requests and the discounts in effect. A price change scheduled before the
// period's end counts from its instant even while its workflow has not
// applied it yet (a worker that was down), so the close bills it, and the
// API's projection to the period's end shows it. The changes it counted
// come back with the invoice.
func ComputeInvoice(ctx context.Context, q Querier, accountID string, p billing.Period) (billing.Invoice, []billing.PriceChange, error) {
	return ComputeInvoiceWith(ctx, q, accountID, p, nil)
}

// pendingChangesSQL: the scheduled, not yet applied price changes before
// the period's end of modules the account used at or after their instant.
const pendingChangesSQL = `
	SELECT p.service, p.module, p.effective_at, p.hourly_price_minor, p.currency FROM price_schedule p
	WHERE p.status = 'scheduled' AND p.effective_at < $2 AND EXISTS (
		SELECT 1 FROM usage_spans s JOIN instances i ON i.id = s.instance_id
		WHERE i.account_id = $1 AND i.service = p.service AND s.module = p.module
			AND (s.ended_at IS NULL OR s.ended_at > p.effective_at))
	ORDER BY p.effective_at, p.service, p.module`

// ComputeInvoiceWith is ComputeInvoice with whatever else queue adds to the
// batch first: the facts and those queries take one round trip.
func ComputeInvoiceWith(ctx context.Context, q Querier, accountID string, p billing.Period, queue func(*pgx.Batch)) (billing.Invoice, []billing.PriceChange, error) {
	var spans []billing.Span
	var discounts []billing.Discount
	var changes []billing.PriceChange
	b := &pgx.Batch{}
	if queue != nil {
		queue(b)
	}
	b.Queue(spansSQL, accountID, p.Start, p.End).Query(func(rows pgx.Rows) (err error) {
		spans, err = pgx.CollectRows(rows, scanSpan)
		return err
	})
	b.Queue(pendingChangesSQL, accountID, p.End).Query(func(rows pgx.Rows) (err error) {
		changes, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (c billing.PriceChange, err error) {
			err = r.Scan(&c.Service, &c.Module, &c.At, &c.HourlyRateMinor, &c.Currency)
			c.At = c.At.UTC()
			return c, err
		})
		return err
	})
	b.Queue(discountsSQL, accountID, p.Start, p.End).Query(func(rows pgx.Rows) (err error) {
		discounts, err = liveDiscounts(rows)
		return err
	})
	var metered []billing.Metered
	b.Queue(meteredSQL, accountID, p.Start, p.End).Query(func(rows pgx.Rows) (err error) {
		metered, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (m billing.Metered, err error) {
			m.Metric = "requests"
			return m, r.Scan(&m.InstanceID, &m.Service, &m.Host, &m.Requests, &m.Included, &m.PerThousandMinor, &m.Currency)
		})
		return err
	})
	if err := q.SendBatch(ctx, b).Close(); err != nil {
		return billing.Invoice{}, nil, err
	}
	inv, err := billing.Compute(p, billing.WithPriceChanges(spans, changes), metered, discounts)
	if err != nil {
		return billing.Invoice{}, nil, apperr.Invalid("%s", err.Error())
	}
	return inv, changes, nil
}

// PeriodSpans is every usage span of the account's instances overlapping p.
func PeriodSpans(ctx context.Context, q Querier, accountID string, p billing.Period) ([]billing.Span, error) {
	rows, err := q.Query(ctx, spansSQL, accountID, p.Start, p.End)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanSpan)
}

// meteredSQL sums the requests the host routers counted for each of the
// account's instances in flush windows that start inside the period, at the
// service's metered price.
const meteredSQL = `
	SELECT u.instance_id::text, i.service, i.host, sum(u.count)::bigint,
		s.included_requests, s.requests_per_thousand_minor, s.currency
	FROM usage_counts u
	JOIN instances i ON i.id = u.instance_id
	JOIN services s ON s.name = i.service
	WHERE i.account_id = $1 AND u.metric = 'requests' AND u.window_start >= $2 AND u.window_start < $3
	GROUP BY u.instance_id, i.service, i.host, s.included_requests, s.requests_per_thousand_minor, s.currency
	ORDER BY i.host`

const spansSQL = `
	SELECT s.id, s.instance_id, i.service, i.host, s.module, s.started_at, s.ended_at, s.hourly_rate_minor, s.currency
	FROM usage_spans s JOIN instances i ON i.id = s.instance_id
	WHERE i.account_id = $1 AND s.started_at < $3 AND (s.ended_at IS NULL OR s.ended_at > $2)`

func scanSpan(r pgx.CollectableRow) (billing.Span, error) {
	var s billing.Span
	err := r.Scan(&s.ID, &s.InstanceID, &s.Service, &s.Host, &s.Module, &s.Start, &s.End, &s.HourlyRateMinor, &s.Currency)
	return s, err
}

// discountsSQL selects the account's discounts in effect in p: valid at some
// instant of p, and, when limited to a number of periods, applied in fewer
// earlier periods than that (a period where a discount had nothing to take
// off does not count).
const discountsSQL = `
		SELECT d.id, d.name, d.reason, d.kind, coalesce(d.percent_bp, 0), coalesce(d.amount_minor, 0),
			coalesce(d.service, ''), coalesce(d.module, ''), d.valid_until, d.periods,
			(SELECT count(DISTINCT l.invoice_id) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
			 WHERE l.discount_id = d.id AND i.period_start < $2)
		FROM discounts d
		WHERE d.account_id = $1 AND d.valid_from < $3 AND (d.valid_until IS NULL OR d.valid_until > $2)
		ORDER BY d.created_at, d.id`

func liveDiscounts(rows pgx.Rows) ([]billing.Discount, error) {
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (billing.Discount, error) {
		var d billing.Discount
		var until *time.Time
		var periods *int64
		var used int64
		if err := r.Scan(&d.ID, &d.Name, &d.Reason, &d.Kind, &d.PercentBP, &d.AmountMinor, &d.Service, &d.Module,
			&until, &periods, &used); err != nil {
			return d, err
		}
		switch {
		case periods != nil && used >= *periods:
			d.Kind = "" // used up
		case periods != nil:
			d.Validity = fmt.Sprintf("period %d of %d", used+1, *periods)
		}
		if until != nil && d.Kind != "" {
			if d.Validity != "" {
				d.Validity += ", "
			}
			d.Validity += "valid until " + until.UTC().Format("2 Jan 2006 15:04 UTC")
		}
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	var live []billing.Discount
	for _, d := range all {
		if d.Kind != "" {
			live = append(live, d)
		}
	}
	return live, nil
}

// InvoiceLines reads an invoice's stored lines in order.
func InvoiceLines(ctx context.Context, q Querier, invoiceID string) ([]billing.Line, error) {
	rows, err := q.Query(ctx, `
		SELECT kind, coalesce(instance_id::text, ''), service, module, coalesce(span_id, 0), coalesce(discount_id::text, ''),
			from_at, to_at, quantity, rate_minor, amount_minor, explanation
		FROM invoice_lines WHERE invoice_id = $1 ORDER BY position`, invoiceID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (billing.Line, error) {
		var l billing.Line
		err := r.Scan(&l.Kind, &l.InstanceID, &l.Service, &l.Module, &l.SpanID, &l.DiscountID, &l.From, &l.To,
			&l.Quantity, &l.RateMinor, &l.AmountMinor, &l.Explanation)
		if l.From != nil {
			*l.From = l.From.UTC()
		}
		if l.To != nil {
			*l.To = l.To.UTC()
		}
		return l, err
	})
}
