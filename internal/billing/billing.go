// Package billing computes invoices from facts: the usage spans of an
// account's instances, their metered usage and the account's discounts. It
// is pure (no database, no clock), so the close activity, the "this period
// so far" API and the benchmark's direct SQL floor all agree with it.
//
// # Rounding rule
//
// Every amount is an integer in minor units (cents). Each line is rounded
// once, half up, from its exact value:
//
//	module time:  amount = round(seconds × hourly_rate / 3600)
//	metered:      amount = round(billable_requests × price_per_thousand / 1000)
//	percent off:  amount = round(scoped_subtotal × basis_points / 10000)
//
// where round(x) = floor(x + 1/2), computed in integers. So each line is
// within half a minor unit of its exact value, and an invoice's subtotal is
// within (number of lines) / 2 minor units of rate × seconds summed over
// its spans. Discounts are applied in the order they were created, each on
// the gross subtotal of its scope, and capped so the total never goes below
// zero.
package billing

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Period is a half-open interval [Start, End) of billing time.
type Period struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// MonthOf is the calendar month in UTC that holds t.
func MonthOf(t time.Time) Period {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Period{Start: start, End: start.AddDate(0, 1, 0)}
}

// PeriodOf is the period that holds t: a calendar month in UTC when length
// is zero, otherwise the length-long slot aligned to the Unix epoch (the
// dev stack and tests shorten periods to a minute).
func PeriodOf(t time.Time, length time.Duration) Period {
	if length <= 0 {
		return MonthOf(t)
	}
	start := t.UTC().Truncate(length)
	return Period{Start: start, End: start.Add(length)}
}

// PeriodFrom is the period that starts at start and ends where the period
// holding start ends: the next period after an invoice, which is a whole
// one unless the period length was changed in between.
func PeriodFrom(start time.Time, length time.Duration) Period {
	p := PeriodOf(start, length)
	p.Start = start.UTC()
	return p
}

// Next is the period that follows p.
func (p Period) Next(length time.Duration) Period {
	if length <= 0 {
		return Period{Start: p.End, End: p.End.UTC().AddDate(0, 1, 0)}
	}
	return Period{Start: p.End, End: p.End.Add(length)}
}

// Span is one module of one instance enabled from Start until End (nil
// while it is still open), at the hourly rate captured when it opened.
type Span struct {
	ID              int64
	InstanceID      string
	Service         string
	Host            string
	Module          string
	Start           time.Time
	End             *time.Time
	HourlyRateMinor int64
	Currency        string
}

// Metered is one instance's request count in a period, with its included
// quota and the price per thousand requests beyond it.
type Metered struct {
	InstanceID       string
	Service          string
	Host             string
	Requests         int64
	Included         int64
	PerThousandMinor int64
	Currency         string
	Metric           string // e.g. "requests"
}

// Discount is one of the account's discounts. Service and Module narrow
// its scope (both empty: the whole account).
type Discount struct {
	ID          string
	Name        string
	Reason      string
	Kind        string // "percent" or "fixed"
	PercentBP   int64  // basis points, for percent
	AmountMinor int64  // for fixed
	Service     string
	Module      string
	// Why it applies in this period, in words ("period 2 of 3", "until 1 Mar").
	Validity string
}

// Line kinds.
const (
	KindModule   = "module"
	KindMetered  = "metered"
	KindDiscount = "discount"
)

// Line is one explained line of an invoice.
type Line struct {
	Kind        string     `json:"kind"`
	InstanceID  string     `json:"instance_id,omitempty"`
	Service     string     `json:"service,omitempty"`
	Module      string     `json:"module,omitempty"`
	SpanID      int64      `json:"span_id,omitempty"`
	DiscountID  string     `json:"discount_id,omitempty"`
	From        *time.Time `json:"from,omitempty"`
	To          *time.Time `json:"to,omitempty"`
	Quantity    int64      `json:"quantity"`   // seconds, requests
	RateMinor   int64      `json:"rate_minor"` // per hour, per thousand, basis points
	AmountMinor int64      `json:"amount_minor"`
	Explanation string     `json:"explanation"`
}

// Invoice is a computed invoice.
type Invoice struct {
	Period        Period `json:"period"`
	Currency      string `json:"currency"`
	Lines         []Line `json:"lines"`
	SubtotalMinor int64  `json:"subtotal_minor"`
	DiscountMinor int64  `json:"discount_minor"` // positive: what the discounts took off
	TotalMinor    int64  `json:"total_minor"`
}

// DefaultCurrency is used for an invoice with no lines.
const DefaultCurrency = "EUR"

// roundDiv is round(n / d) half up, for n >= 0 and d > 0.
func roundDiv(n, d int64) int64 { return (2*n + d) / (2 * d) }

// ModuleAmount is the rounded price of seconds at an hourly rate.
func ModuleAmount(seconds, hourlyRateMinor int64) int64 {
	return roundDiv(seconds*hourlyRateMinor, 3600)
}

// Clip is the part of s inside p, in whole seconds (sub-second ends are
// truncated), and whether any is left. An open span runs to p.End.
func Clip(s Span, p Period) (from, to time.Time, ok bool) {
	from, to = s.Start, p.End
	if s.End != nil && s.End.Before(to) {
		to = *s.End
	}
	if from.Before(p.Start) {
		from = p.Start
	}
	from, to = from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second)
	return from, to, to.After(from)
}

// Compute builds the invoice for period p. Spans and metered usage outside
// p contribute nothing; spans are clipped to p. Lines come out in a stable
// order: by instance, module and start, then metered usage, then discounts.
func Compute(p Period, spans []Span, metered []Metered, discounts []Discount) (Invoice, error) {
	inv := Invoice{Period: p}
	sorted := append([]Span(nil), spans...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.InstanceID != b.InstanceID {
			return a.InstanceID < b.InstanceID
		}
		if a.Module != b.Module {
			return a.Module < b.Module
		}
		return a.Start.Before(b.Start)
	})
	setCurrency := func(c string) error {
		if inv.Currency == "" {
			inv.Currency = c
			return nil
		}
		if c != inv.Currency {
			return fmt.Errorf("an invoice holds one currency: %s and %s both appear", inv.Currency, c)
		}
		return nil
	}
	for _, s := range sorted {
		from, to, ok := Clip(s, p)
		if !ok {
			continue
		}
		if err := setCurrency(s.Currency); err != nil {
			return Invoice{}, err
		}
		secs := int64(to.Sub(from) / time.Second)
		amount := ModuleAmount(secs, s.HourlyRateMinor)
		inv.Lines = append(inv.Lines, Line{
			Kind: KindModule, InstanceID: s.InstanceID, Service: s.Service, Module: s.Module, SpanID: s.ID,
			From: &from, To: &to, Quantity: secs, RateMinor: s.HourlyRateMinor, AmountMinor: amount,
			Explanation: fmt.Sprintf("%s · %s module · %s · %s → %s UTC · %s h × %s/h = %s",
				s.Service, s.Module, s.Host, stamp(from), stamp(to), Hours(secs), Money(s.HourlyRateMinor), Money(amount)),
		})
		inv.SubtotalMinor += amount
	}
	for _, m := range metered {
		if m.Requests <= 0 {
			continue
		}
		if err := setCurrency(m.Currency); err != nil {
			return Invoice{}, err
		}
		billable := max(m.Requests-m.Included, 0)
		amount := roundDiv(billable*m.PerThousandMinor, 1000)
		metric := m.Metric
		if metric == "" {
			metric = "requests"
		}
		inv.Lines = append(inv.Lines, Line{
			Kind: KindMetered, InstanceID: m.InstanceID, Service: m.Service, Quantity: m.Requests,
			RateMinor: m.PerThousandMinor, AmountMinor: amount,
			Explanation: fmt.Sprintf("%s · %s · %d %s, %d included · %d × %s per thousand = %s",
				m.Service, m.Host, m.Requests, metric, m.Included, billable, Money(m.PerThousandMinor), Money(amount)),
		})
		inv.SubtotalMinor += amount
	}
	if inv.Currency == "" {
		inv.Currency = DefaultCurrency
	}
	remaining := inv.SubtotalMinor
	for _, d := range discounts {
		scoped := int64(0)
		for _, l := range inv.Lines {
			if l.Kind != KindDiscount && inScope(d, l) {
				scoped += l.AmountMinor
			}
		}
		if scoped == 0 || remaining == 0 {
			continue
		}
		var amount int64
		var how string
		switch d.Kind {
		case "percent":
			amount = roundDiv(scoped*d.PercentBP, 10000)
			how = fmt.Sprintf("%s %% of %s", percent(d.PercentBP), Money(scoped))
		case "fixed":
			amount = min(d.AmountMinor, scoped)
			how = fmt.Sprintf("%s off %s", Money(d.AmountMinor), Money(scoped))
		default:
			return Invoice{}, fmt.Errorf("discount %s has unknown kind %q", d.ID, d.Kind)
		}
		capped := ""
		if amount > remaining {
			amount, capped = remaining, " (capped at the invoice total)"
		}
		remaining -= amount
		why := d.Reason
		if why != "" {
			why = " · " + why
		}
		validity := ""
		if d.Validity != "" {
			validity = " · " + d.Validity
		}
		inv.Lines = append(inv.Lines, Line{
			Kind: KindDiscount, DiscountID: d.ID, Service: d.Service, Module: d.Module,
			RateMinor: d.PercentBP, AmountMinor: -amount,
			Explanation: fmt.Sprintf("discount %q on %s%s%s · %s = −%s%s",
				d.Name, scopeWords(d), why, validity, how, Money(amount), capped),
		})
		inv.DiscountMinor += amount
	}
	inv.TotalMinor = inv.SubtotalMinor - inv.DiscountMinor
	return inv, nil
}

func inScope(d Discount, l Line) bool {
	return (d.Service == "" || d.Service == l.Service) && (d.Module == "" || d.Module == l.Module)
}

func scopeWords(d Discount) string {
	switch {
	case d.Module != "":
		return d.Service + " · " + d.Module + " module"
	case d.Service != "":
		return "every " + d.Service + " instance"
	default:
		return "the whole account"
	}
}

// Money formats minor units as a decimal amount with two places.
func Money(minor int64) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d", sign, minor/100, minor%100)
}

// Hours formats seconds as hours with two places, rounded half up.
func Hours(seconds int64) string {
	h := roundDiv(seconds*100, 3600)
	return fmt.Sprintf("%d.%02d", h/100, h%100)
}

func percent(bp int64) string {
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

func stamp(t time.Time) string { return t.UTC().Format("2 Jan 15:04") }
