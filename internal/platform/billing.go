package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// PeriodUsage is one instance × module of the period so far.
type PeriodUsage struct {
	InstanceID     string `json:"instance_id"`
	Service        string `json:"service"`
	Host           string `json:"host"`
	Module         string `json:"module"`
	Seconds        int64  `json:"seconds"`
	SoFarMinor     int64  `json:"so_far_minor"`
	ProjectedMinor int64  `json:"projected_minor"` // at period end if nothing changes
	Running        bool   `json:"running"`
}

// ExpiryWarning is a live instance that ends soon.
type ExpiryWarning struct {
	InstanceID string    `json:"instance_id"`
	Host       string    `json:"host"`
	ExpiresAt  time.Time `json:"expires_at"`
	Warning    string    `json:"warning"`
}

// BillingNow is this period so far: per instance and module the running
// total and the projection to the period end, both computed by the same
// code that closes the period, plus the cycle's progress. The API and the
// console's billing page show it.
type BillingNow struct {
	Period         billing.Period             `json:"period"`
	AsOf           time.Time                  `json:"as_of"`
	Currency       string                     `json:"currency"`
	SoFarMinor     int64                      `json:"so_far_minor"`
	ProjectedMinor int64                      `json:"projected_minor"`
	SoFarLines     []billing.Line             `json:"so_far_lines"`
	Usage          []PeriodUsage              `json:"usage"`
	Cycle          *workflows.BillingProgress `json:"cycle"`
	Expiring       []ExpiryWarning            `json:"expiring"`
	// PriceChanges are the scheduled changes of modules the account runs
	// that take effect before the period ends; the projection counts them.
	PriceChanges []PriceChangeNotice `json:"price_changes"`
}

// PriceChangeNotice is a scheduled price change that takes effect this
// period, in words.
type PriceChangeNotice struct {
	billing.PriceChange
	Notice string `json:"notice"`
}

// CurrentBilling computes the principal's account's period so far.
func (p *Platform) CurrentBilling(ctx context.Context, who Principal) (BillingNow, error) {
	if err := require(who, access.BillingRead); err != nil {
		return BillingNow{}, err
	}
	acc := who.AccountID
	now := p.Clock().UTC().Truncate(time.Second)
	var progress *workflows.BillingProgress
	// Without Temporal (a console test) the period is the calendar's.
	if p.Temporal != nil {
		// The period so far is computed from the database whatever the
		// cycle answers; a worker that is down only hides its progress.
		if cycle, err := p.cycleProgress(ctx, acc); err == nil {
			progress = &cycle
		} else {
			p.Log.Warn("billing cycle progress", "account", acc, "err", err)
		}
	}
	period := billing.PeriodOf(now, p.BillingPeriod)
	if progress != nil && progress.Status == workflows.StatusWaiting {
		period = progress.Period // the cycle's own period (a benchmark may choose it)
	}
	// A scheduled change that is due but not applied yet (its workflow is
	// about to) is counted already, as the close will.
	soFar, _, err := controldb.ComputeInvoice(ctx, p.DB, acc, billing.Period{Start: period.Start, End: latest(now, period.Start)})
	if err != nil {
		return BillingNow{}, err
	}
	projected, changes, err := controldb.ComputeInvoice(ctx, p.DB, acc, period)
	if err != nil {
		return BillingNow{}, err
	}
	priceChanges := []PriceChangeNotice{}
	for _, pc := range changes {
		if pc.At.After(now) {
			priceChanges = append(priceChanges, PriceChangeNotice{PriceChange: pc, Notice: fmt.Sprintf(
				"%s · %s module: %s %s/h from %s (counted in the projection)",
				pc.Service, pc.Module, billing.Money(pc.HourlyRateMinor), pc.Currency, pc.At.Format("2 Jan 2006 15:04 UTC"))})
		}
	}
	spans, err := controldb.PeriodSpans(ctx, p.DB, acc, period)
	if err != nil {
		return BillingNow{}, err
	}
	hosts := map[string]string{}
	running := map[[2]string]bool{}
	for _, sp := range spans {
		hosts[sp.InstanceID] = sp.Host
		if sp.End == nil || sp.End.After(now) {
			running[[2]string{sp.InstanceID, sp.Module}] = true
		}
	}
	var usage []PeriodUsage
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
			usage = append(usage, PeriodUsage{InstanceID: l.InstanceID, Service: l.Service, Host: hosts[l.InstanceID],
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
	expiring, err := p.expiryWarnings(ctx, acc, now)
	if err != nil {
		return BillingNow{}, err
	}
	return BillingNow{Period: period, AsOf: now, Currency: projected.Currency,
		SoFarMinor: soFar.TotalMinor, ProjectedMinor: projected.TotalMinor,
		SoFarLines: soFar.Lines, Usage: usage, Cycle: progress, Expiring: expiring, PriceChanges: priceChanges}, nil
}

// cycleProgress asks the account's billing cycle where it stands. An
// account whose cycle is missing or closed (its signup could not start it,
// or someone terminated it) gets one now, from its first unbilled period.
func (p *Platform) cycleProgress(ctx context.Context, acc string) (workflows.BillingProgress, error) {
	var cycle workflows.BillingProgress
	query := func() (*client.QueryWorkflowWithOptionsResponse, error) {
		return p.Temporal.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{
			WorkflowID: workflows.BillingCycleID(acc), QueryType: workflows.ProgressQuery,
			QueryRejectCondition: enumspb.QUERY_REJECT_CONDITION_NOT_OPEN})
	}
	res, err := query()
	var missing *serviceerror.NotFound
	if errors.As(err, &missing) || (err == nil && res.QueryRejected != nil) {
		periods, err := controldb.UnbilledPeriods(ctx, p.DB, acc, p.BillingPeriod)
		if err != nil {
			return cycle, err
		}
		if err := workflows.StartBillingCycle(ctx, p.Temporal, acc, periods[acc], p.BillingPeriod); err != nil {
			return cycle, err
		}
		res, err = query()
	}
	if err != nil {
		return cycle, err
	}
	if res.QueryRejected != nil {
		return cycle, fmt.Errorf("billing cycle of %s is %s", acc, res.QueryRejected.Status)
	}
	return cycle, res.QueryResult.Get(&cycle)
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// expiryWarnings lists the account's live instances that end within a week
// (or have already been warned).
func (p *Platform) expiryWarnings(ctx context.Context, acc string, now time.Time) ([]ExpiryWarning, error) {
	rows, err := p.DB.Query(ctx, `
		SELECT id::text, host, expires_at FROM instances
		WHERE account_id = $1 AND status IN ('ready', 'provisioning') AND expires_at IS NOT NULL
			AND (expires_at < $2 OR expiry_warned_at IS NOT NULL)
		ORDER BY expires_at`, acc, now.Add(activities.ExpiryWarning))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExpiryWarning, error) {
		var v ExpiryWarning
		err := r.Scan(&v.InstanceID, &v.Host, &v.ExpiresAt)
		v.ExpiresAt = v.ExpiresAt.UTC()
		v.Warning = fmt.Sprintf("%s ends at %s and will then be disabled unless renewed", v.Host,
			v.ExpiresAt.Format("2 Jan 2006 15:04 UTC"))
		return v, err
	})
}

// Invoices lists the principal's account's invoices, the latest period
// first.
func (p *Platform) Invoices(ctx context.Context, who Principal) ([]controldb.InvoiceSummary, error) {
	if err := require(who, access.BillingRead); err != nil {
		return nil, err
	}
	rows, err := p.DB.Query(ctx, controldb.InvoiceSelect+
		`WHERE i.account_id = $1 ORDER BY i.period_start DESC LIMIT 240`, who.AccountID)
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

// Invoice loads one of the principal's account's invoices with its lines;
// another account's invoice is "not found".
func (p *Platform) Invoice(ctx context.Context, who Principal, id string) (controldb.InvoiceSummary, []billing.Line, error) {
	if err := require(who, access.BillingRead); err != nil {
		return controldb.InvoiceSummary{}, nil, err
	}
	if _, err := uuid.Parse(id); err != nil {
		return controldb.InvoiceSummary{}, nil, apperr.NotFound("no invoice %s", id)
	}
	inv, err := controldb.ScanInvoice(p.DB.QueryRow(ctx, controldb.InvoiceSelect+
		`WHERE i.id = $1 AND i.account_id = $2`, id, who.AccountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return inv, nil, apperr.NotFound("no invoice %s", id)
	}
	if err != nil {
		return inv, nil, err
	}
	lines, err := controldb.InvoiceLines(ctx, p.DB, id)
	return inv, lines, err
}
