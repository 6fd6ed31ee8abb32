package web

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"tenantry/activities"
	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/workflows"
)

// billingRoutes: what a client is billed and why; for platform operators,
// revenue and the closes that failed.
func (s *Server) billingRoutes(api *gin.RouterGroup) {
	me := api.Group("", s.requireUser)
	manage, read := s.need(access.InstancesManage), s.need(access.BillingRead)
	me.PUT("/instances/:id/expiry", manage, s.setExpiry)
	me.GET("/billing/current", read, s.billingCurrent)
	me.GET("/billing/invoices", read, s.listInvoices)
	me.GET("/billing/invoices/:id", read, s.getInvoice)
	me.GET("/billing/invoices/:id/csv", read, s.invoiceCSV)
	ops := me.Group("/ops/billing", s.requireOperator)
	ops.GET("/revenue", s.revenue)
	ops.GET("/failures", s.listCloseFailures)
	ops.POST("/failures/:account/retry", s.retryCloseNow)
	ops.POST("/discounts", s.grantDiscount)
}

// grantDiscount gives an account a discount (operators only); it applies
// from the period that holds valid_from.
func (s *Server) grantDiscount(c *gin.Context) {
	var in controldb.DiscountInput
	if err := bindJSON(c, &in); err != nil {
		s.fail(c, err)
		return
	}
	in.ID, in.ActorID = uuid.NewString(), userOf(c).ID
	if err := controldb.CreateDiscount(c.Request.Context(), s.DB, s.Catalog, in, s.Clock()); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"id": in.ID})
}

// requireOperator admits platform operators only: the users whose email
// is in Operators (the permissions issue replaces this with roles).
// An operator holds the platform's console.admin permission (the developer
// role) or is listed in TENANTRY_OPERATORS.
func (s *Server) requireOperator(c *gin.Context) {
	if u := userOf(c); !u.can(access.ConsoleAdmin) && !slices.Contains(s.Operators, u.Email) {
		s.fail(c, apperr.Forbidden("only platform operators may see this"))
		return
	}
	c.Next()
}

// periodUsageView is one instance × module of the period so far.
type periodUsageView struct {
	InstanceID     string `json:"instance_id"`
	Service        string `json:"service"`
	Host           string `json:"host"`
	Module         string `json:"module"`
	Seconds        int64  `json:"seconds"`
	SoFarMinor     int64  `json:"so_far_minor"`
	ProjectedMinor int64  `json:"projected_minor"` // at period end if nothing changes
	Running        bool   `json:"running"`
}

type expiryView struct {
	InstanceID string    `json:"instance_id"`
	Host       string    `json:"host"`
	ExpiresAt  time.Time `json:"expires_at"`
	Warning    string    `json:"warning"`
}

// billingNow is this period so far: per instance and module the running
// total and the projection to the period end, both computed by the same
// code that closes the period, plus the cycle's progress. The API and the
// console's billing page show it.
type billingNow struct {
	Period         billing.Period             `json:"period"`
	AsOf           time.Time                  `json:"as_of"`
	Currency       string                     `json:"currency"`
	SoFarMinor     int64                      `json:"so_far_minor"`
	ProjectedMinor int64                      `json:"projected_minor"`
	SoFarLines     []billing.Line             `json:"so_far_lines"`
	Usage          []periodUsageView          `json:"usage"`
	Cycle          *workflows.BillingProgress `json:"cycle"`
	Expiring       []expiryView               `json:"expiring"`
	// PriceChanges are the scheduled changes of modules the account runs
	// that take effect before the period ends; the projection counts them.
	PriceChanges []priceChangeView `json:"price_changes"`
}

type priceChangeView struct {
	billing.PriceChange
	Notice string `json:"notice"`
}

func (s *Server) billingCurrent(c *gin.Context) {
	v, err := s.currentBilling(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// currentBilling computes the caller's account's period so far.
func (s *Server) currentBilling(c *gin.Context) (billingNow, error) {
	ctx := c.Request.Context()
	acc := userOf(c).AccountID
	now := s.Clock().UTC().Truncate(time.Second)
	var progress *workflows.BillingProgress
	// Without Temporal (a console test) the period is the calendar's.
	if s.Temporal != nil {
		// The period so far is computed from the database whatever the
		// cycle answers; a worker that is down only hides its progress.
		if p, err := s.cycleProgress(ctx, acc); err == nil {
			progress = &p
		} else {
			s.Log.Warn("billing cycle progress", "account", acc, "err", err)
		}
	}
	period := billing.PeriodOf(now, s.BillingPeriod)
	if progress != nil && progress.Status == workflows.StatusWaiting {
		period = progress.Period // the cycle's own period (a benchmark may choose it)
	}
	// A scheduled change that is due but not applied yet (its workflow is
	// about to) is counted already, as the close will.
	soFar, _, err := controldb.ComputeInvoice(ctx, s.DB, acc, billing.Period{Start: period.Start, End: latest(now, period.Start)})
	if err != nil {
		return billingNow{}, err
	}
	projected, changes, err := controldb.ComputeInvoice(ctx, s.DB, acc, period)
	if err != nil {
		return billingNow{}, err
	}
	priceChanges := []priceChangeView{}
	for _, pc := range changes {
		if pc.At.After(now) {
			priceChanges = append(priceChanges, priceChangeView{PriceChange: pc, Notice: fmt.Sprintf(
				"%s · %s module: %s %s/h from %s (counted in the projection)",
				pc.Service, pc.Module, billing.Money(pc.HourlyRateMinor), pc.Currency, pc.At.Format("2 Jan 2006 15:04 UTC"))})
		}
	}
	spans, err := controldb.PeriodSpans(ctx, s.DB, acc, period)
	if err != nil {
		return billingNow{}, err
	}
	hosts := map[string]string{}
	running := map[[2]string]bool{}
	for _, sp := range spans {
		hosts[sp.InstanceID] = sp.Host
		if sp.End == nil || sp.End.After(now) {
			running[[2]string{sp.InstanceID, sp.Module}] = true
		}
	}
	var usage []periodUsageView
	index := map[[2]string]int{}
	add := func(l billing.Line, projected bool) {
		if l.Kind != billing.KindModule {
			return
		}
		k := [2]string{l.InstanceID, l.Module}
		i, ok := index[k]
		if !ok {
			i = len(usage)
			index[k] = i
			usage = append(usage, periodUsageView{InstanceID: l.InstanceID, Service: l.Service, Host: hosts[l.InstanceID],
				Module: l.Module, Running: running[k]})
		}
		if projected {
			usage[i].ProjectedMinor += l.AmountMinor
		} else {
			usage[i].Seconds += l.Quantity
			usage[i].SoFarMinor += l.AmountMinor
		}
	}
	for _, l := range soFar.Lines {
		add(l, false)
	}
	for _, l := range projected.Lines {
		add(l, true)
	}
	expiring, err := s.expiryWarnings(c, acc, now)
	if err != nil {
		return billingNow{}, err
	}
	return billingNow{Period: period, AsOf: now, Currency: projected.Currency,
		SoFarMinor: soFar.TotalMinor, ProjectedMinor: projected.TotalMinor,
		SoFarLines: soFar.Lines, Usage: usage, Cycle: progress, Expiring: expiring, PriceChanges: priceChanges}, nil
}

// cycleProgress asks the account's billing cycle where it stands. An
// account whose cycle is missing or closed (its signup could not start it,
// or someone terminated it) gets one now, from its first unbilled period.
func (s *Server) cycleProgress(ctx context.Context, acc string) (workflows.BillingProgress, error) {
	var p workflows.BillingProgress
	query := func() (*client.QueryWorkflowWithOptionsResponse, error) {
		return s.Temporal.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{
			WorkflowID: workflows.BillingCycleID(acc), QueryType: workflows.ProgressQuery,
			QueryRejectCondition: enumspb.QUERY_REJECT_CONDITION_NOT_OPEN})
	}
	res, err := query()
	var missing *serviceerror.NotFound
	if errors.As(err, &missing) || (err == nil && res.QueryRejected != nil) {
		periods, err := controldb.UnbilledPeriods(ctx, s.DB, acc, s.BillingPeriod)
		if err != nil {
			return p, err
		}
		if err := workflows.StartBillingCycle(ctx, s.Temporal, acc, periods[acc], s.BillingPeriod); err != nil {
			return p, err
		}
		res, err = query()
	}
	if err != nil {
		return p, err
	}
	if res.QueryRejected != nil {
		return p, fmt.Errorf("billing cycle of %s is %s", acc, res.QueryRejected.Status)
	}
	return p, res.QueryResult.Get(&p)
}

func (s *Server) expiryWarning() time.Duration {
	if s.ExpiryWarning > 0 {
		return s.ExpiryWarning
	}
	return activities.ExpiryWarning
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// expiryWarnings lists the account's live instances that end within a week
// (or have already been warned).
func (s *Server) expiryWarnings(c *gin.Context, acc string, now time.Time) ([]expiryView, error) {
	rows, err := s.DB.Query(c.Request.Context(), `
		SELECT id::text, host, expires_at FROM instances
		WHERE account_id = $1 AND status IN ('ready', 'provisioning') AND expires_at IS NOT NULL
			AND (expires_at < $2 OR expiry_warned_at IS NOT NULL)
		ORDER BY expires_at`, acc, now.Add(s.expiryWarning()))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (expiryView, error) {
		var v expiryView
		err := r.Scan(&v.InstanceID, &v.Host, &v.ExpiresAt)
		v.ExpiresAt = v.ExpiresAt.UTC()
		v.Warning = fmt.Sprintf("%s ends at %s and will then be disabled unless renewed", v.Host,
			v.ExpiresAt.Format("2 Jan 2006 15:04 UTC"))
		return v, err
	})
}

func (s *Server) listInvoices(c *gin.Context) {
	list, err := s.accountInvoices(c.Request.Context(), userOf(c).AccountID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"invoices": list})
}

// accountInvoices lists an account's invoices, the latest period first.
func (s *Server) accountInvoices(ctx context.Context, acc string) ([]controldb.InvoiceSummary, error) {
	rows, err := s.DB.Query(ctx, controldb.InvoiceSelect+
		`WHERE i.account_id = $1 ORDER BY i.period_start DESC LIMIT 240`, acc)
	if err != nil {
		return nil, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (controldb.InvoiceSummary, error) {
		return controldb.ScanInvoice(r)
	})
	if list == nil {
		list = []controldb.InvoiceSummary{}
	}
	return list, err
}

// ownInvoice loads one of the caller's account's invoices with its lines;
// another account's invoice is "not found".
func (s *Server) ownInvoice(c *gin.Context) (controldb.InvoiceSummary, []billing.Line, error) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		return controldb.InvoiceSummary{}, nil, apperr.NotFound("no invoice %s", id)
	}
	ctx := c.Request.Context()
	inv, err := controldb.ScanInvoice(s.DB.QueryRow(ctx, controldb.InvoiceSelect+
		`WHERE i.id = $1 AND i.account_id = $2`, id, userOf(c).AccountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return inv, nil, apperr.NotFound("no invoice %s", id)
	}
	if err != nil {
		return inv, nil, err
	}
	lines, err := controldb.InvoiceLines(ctx, s.DB, id)
	return inv, lines, err
}

func (s *Server) getInvoice(c *gin.Context) {
	inv, lines, err := s.ownInvoice(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"invoice": inv, "lines": lines})
}

// invoiceCSV is the invoice as a spreadsheet: one row per line, amounts in
// minor units and as decimals, then the totals.
func (s *Server) invoiceCSV(c *gin.Context) {
	inv, lines, err := s.ownInvoice(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	writeInvoiceCSV(c, inv, lines)
}

// writeInvoiceCSV streams an invoice as CSV (the API's and the console's
// download).
func writeInvoiceCSV(c *gin.Context, inv controldb.InvoiceSummary, lines []billing.Line) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="invoice-%s.csv"`, inv.Period.Start.Format("2006-01-02T1504")))
	w := csv.NewWriter(c.Writer)
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
}
