package platform

import (
	"context"
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// What billing operators (and developers) see of every account's billing.

// RevenueRow is one service × module × kind of line over a range of periods.
type RevenueRow struct {
	Service     string `json:"service"`
	Module      string `json:"module"`
	Kind        string `json:"kind"`
	Currency    string `json:"currency"`
	Accounts    int64  `json:"accounts"`
	Quantity    int64  `json:"quantity"`
	AmountMinor int64  `json:"amount_minor"`
}

// Revenue sums invoice lines per service and module for the invoices whose
// period starts in [from, to).
func (p *Platform) Revenue(ctx context.Context, who Principal, from, to time.Time) ([]RevenueRow, int64, error) {
	if err := require(who, access.ConsoleBilling); err != nil {
		return nil, 0, err
	}
	rows, err := p.DB.Query(ctx, `
		SELECT l.service, l.module, l.kind, i.currency, count(DISTINCT i.account_id), sum(l.quantity), sum(l.amount_minor)
		FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
		WHERE i.period_start >= $1 AND i.period_start < $2
		GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, from, to)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[RevenueRow])
	if err != nil {
		return nil, 0, err
	}
	var total int64
	for _, r := range list {
		total += r.AmountMinor
	}
	if list == nil {
		list = []RevenueRow{}
	}
	return list, total, nil
}

// CloseFailure is an account whose period close failed, why, and how to
// retry it.
type CloseFailure struct {
	AccountID   string    `json:"account_id"`
	AccountName string    `json:"account_name"`
	PeriodStart time.Time `json:"period_start"`
	Error       string    `json:"error"`
	Attempts    int       `json:"attempts"`
	LastAt      time.Time `json:"last_at"`
	WorkflowID  string    `json:"workflow_id"`
	Retry       string    `json:"retry"`
}

// CloseFailures lists the closes that failed (a success clears its row),
// the latest first.
func (p *Platform) CloseFailures(ctx context.Context, who Principal) ([]CloseFailure, error) {
	if err := require(who, access.ConsoleBilling); err != nil {
		return nil, err
	}
	rows, err := p.DB.Query(ctx, `
		SELECT f.account_id::text, a.name, f.period_start, f.error, f.attempts, f.last_at
		FROM billing_close_failures f JOIN accounts a ON a.id = f.account_id ORDER BY f.last_at DESC LIMIT 500`)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CloseFailure, error) {
		var f CloseFailure
		err := r.Scan(&f.AccountID, &f.AccountName, &f.PeriodStart, &f.Error, &f.Attempts, &f.LastAt)
		f.WorkflowID = workflows.BillingCycleID(f.AccountID)
		f.Retry = workflows.RetryCloseAdvice(f.AccountID)
		return f, err
	})
	if list == nil {
		list = []CloseFailure{}
	}
	return list, err
}

// RetryClose asks an account's cycle to try its failed close again now, as
// the retry-close signal from the temporal CLI does.
func (p *Platform) RetryClose(ctx context.Context, who Principal, accountID string) error {
	if err := require(who, access.ConsoleBilling); err != nil {
		return err
	}
	if _, err := uuid.Parse(accountID); err != nil {
		return apperr.Invalid("account id %q is not a UUID", accountID)
	}
	return workflows.RetryClose(ctx, p.Temporal, accountID)
}

// GrantDiscount gives an account a discount; it applies from the period
// that holds valid_from. It returns the discount's ID.
func (p *Platform) GrantDiscount(ctx context.Context, who Principal, in controldb.DiscountInput) (string, error) {
	if err := require(who, access.ConsoleBilling); err != nil {
		return "", err
	}
	in.ID, in.ActorID = uuid.NewString(), who.UserID
	return in.ID, controldb.CreateDiscount(ctx, p.DB, p.Catalog, in, p.Clock())
}

// RevenueRange reads a range of periods for the revenue report: month
// ("2026-11"), or from/to (RFC 3339); by default the calendar month that
// holds now.
func RevenueRange(month, from, to string, now time.Time) (time.Time, time.Time, error) {
	if month != "" {
		t, err := time.Parse("2006-01", month)
		if err != nil {
			return t, t, apperr.Invalid("month must look like 2026-11")
		}
		m := billing.MonthOf(t)
		return m.Start, m.End, nil
	}
	m := billing.MonthOf(now)
	start, end := m.Start, m.End
	for _, q := range []struct {
		name, value string
		dst         *time.Time
	}{{"from", from, &start}, {"to", to, &end}} {
		if q.value != "" {
			t, err := time.Parse(time.RFC3339, q.value)
			if err != nil {
				return start, end, apperr.Invalid("%s must be an RFC 3339 instant like 2026-11-01T00:00:00Z", q.name)
			}
			*q.dst = t
		}
	}
	if !end.After(start) {
		return start, end, apperr.Invalid("to must be after from")
	}
	return start, end, nil
}

// WriteInvoiceCSV writes an invoice as a spreadsheet: one row per line,
// amounts in minor units and as decimals, then the totals (the API's and
// the console's download).
func WriteInvoiceCSV(out io.Writer, inv controldb.InvoiceSummary, lines []billing.Line) error {
	w := csv.NewWriter(out)
	_ = w.Write([]string{"position", "kind", "service", "module", "instance_id", "from", "to", "quantity",
		"rate_minor", "amount_minor", "amount", "currency", "explanation"})
	stamp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for i, l := range lines {
		_ = w.Write([]string{strconv.Itoa(i + 1), l.Kind, l.Service, l.Module, l.InstanceID, stamp(l.From), stamp(l.To),
			strconv.FormatInt(l.Quantity, 10), strconv.FormatInt(l.RateMinor, 10), strconv.FormatInt(l.AmountMinor, 10),
			billing.Money(l.AmountMinor), inv.Currency, l.Explanation})
	}
	for _, t := range []struct {
		name string
		v    int64
	}{{"subtotal", inv.SubtotalMinor}, {"discount", -inv.DiscountMinor}, {"total", inv.TotalMinor}} {
		_ = w.Write([]string{"", t.name, "", "", "", "", "", "", "", strconv.FormatInt(t.v, 10), billing.Money(t.v), inv.Currency, ""})
	}
	w.Flush()
	return w.Error()
}

// InvoiceFileName is the download's file name.
func InvoiceFileName(inv controldb.InvoiceSummary) string {
	return "invoice-" + inv.Period.Start.Format("2006-01-02T1504") + ".csv"
}
