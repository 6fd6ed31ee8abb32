package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/workflows"
)

// What platform operators see of billing, as JSON here and as the
// developers' billing page in the console.

// revenueRow is one service × module × kind of line over a range of periods.
type revenueRow struct {
	Service     string `json:"service"`
	Module      string `json:"module"`
	Kind        string `json:"kind"`
	Currency    string `json:"currency"`
	Accounts    int64  `json:"accounts"`
	Quantity    int64  `json:"quantity"`
	AmountMinor int64  `json:"amount_minor"`
}

// revenueOf sums invoice lines per service and module for the invoices
// whose period starts in [from, to).
func (s *Server) revenueOf(ctx context.Context, from, to time.Time) ([]revenueRow, int64, error) {
	rows, err := s.DB.Query(ctx, `
		SELECT l.service, l.module, l.kind, i.currency, count(DISTINCT i.account_id), sum(l.quantity), sum(l.amount_minor)
		FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
		WHERE i.period_start >= $1 AND i.period_start < $2
		GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`, from, to)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[revenueRow])
	if err != nil {
		return nil, 0, err
	}
	var total int64
	for _, r := range list {
		total += r.AmountMinor
	}
	if list == nil {
		list = []revenueRow{}
	}
	return list, total, nil
}

// closeFailure is an account whose period close failed, why, and how to
// retry it.
type closeFailure struct {
	AccountID   string    `json:"account_id"`
	AccountName string    `json:"account_name"`
	PeriodStart time.Time `json:"period_start"`
	Error       string    `json:"error"`
	Attempts    int       `json:"attempts"`
	LastAt      time.Time `json:"last_at"`
	WorkflowID  string    `json:"workflow_id"`
	Retry       string    `json:"retry"`
}

// closeFailures lists the closes that failed (a success clears its row),
// the latest first.
func (s *Server) closeFailures(ctx context.Context) ([]closeFailure, error) {
	rows, err := s.DB.Query(ctx, `
		SELECT f.account_id::text, a.name, f.period_start, f.error, f.attempts, f.last_at
		FROM billing_close_failures f JOIN accounts a ON a.id = f.account_id ORDER BY f.last_at DESC LIMIT 500`)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (closeFailure, error) {
		var f closeFailure
		err := r.Scan(&f.AccountID, &f.AccountName, &f.PeriodStart, &f.Error, &f.Attempts, &f.LastAt)
		f.WorkflowID = workflows.BillingCycleID(f.AccountID)
		f.Retry = workflows.RetryCloseAdvice(f.AccountID)
		return f, err
	})
	if list == nil {
		list = []closeFailure{}
	}
	return list, err
}

// retryClose asks an account's cycle to try its failed close again now,
// as the retry-close signal from the temporal CLI does.
func (s *Server) retryClose(ctx context.Context, accountID string) error {
	if _, err := uuid.Parse(accountID); err != nil {
		return apperr.Invalid("account id %q is not a UUID", accountID)
	}
	if s.Temporal == nil {
		return errors.New("no Temporal connection in this process")
	}
	return workflows.RetryClose(ctx, s.Temporal, accountID)
}

func (s *Server) revenue(c *gin.Context) {
	from, to, err := periodQuery(c, s.Clock())
	if err != nil {
		s.fail(c, err)
		return
	}
	list, total, err := s.revenueOf(c.Request.Context(), from, to)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": from, "to": to, "rows": list, "total_minor": total})
}

func (s *Server) listCloseFailures(c *gin.Context) {
	list, err := s.closeFailures(c.Request.Context())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"failures": list})
}

func (s *Server) retryCloseNow(c *gin.Context) {
	if err := s.retryClose(c.Request.Context(), c.Param("account")); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"workflow_id": workflows.BillingCycleID(c.Param("account"))})
}

// periodQuery reads ?from=&to= (RFC 3339) or ?month=2026-11; by default
// the calendar month that holds now.
func periodQuery(c *gin.Context, now time.Time) (time.Time, time.Time, error) {
	if m := c.Query("month"); m != "" {
		t, err := time.Parse("2006-01", m)
		if err != nil {
			return t, t, apperr.Invalid("month must look like 2026-11")
		}
		p := billing.MonthOf(t)
		return p.Start, p.End, nil
	}
	p := billing.MonthOf(now)
	from, to := p.Start, p.End
	for _, q := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := c.Query(q.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return from, to, apperr.Invalid("%s must be an RFC 3339 instant like 2026-11-01T00:00:00Z", q.name)
			}
			*q.dst = t
		}
	}
	if !to.After(from) {
		return from, to, apperr.Invalid("to must be after from")
	}
	return from, to, nil
}
