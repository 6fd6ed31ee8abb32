package billing

import (
	"slices"
	"time"
)

// PriceChange is a module's hourly rate from an instant on, scheduled but
// not applied yet.
type PriceChange struct {
	Service         string    `json:"service"`
	Module          string    `json:"module"`
	At              time.Time `json:"at"`
	HourlyRateMinor int64     `json:"hourly_rate_minor"`
	Currency        string    `json:"currency"`
}

// WithPriceChanges is spans as they will be once the scheduled changes
// apply: every open span is cut at each change of its module after it
// starts and goes on at the new rate, so a projection to the period's end
// bills the time after a change at its price. Closed spans are final and
// left as they are.
func WithPriceChanges(spans []Span, changes []PriceChange) []Span {
	if len(changes) == 0 {
		return spans
	}
	changes = slices.SortedFunc(slices.Values(changes), func(a, b PriceChange) int { return a.At.Compare(b.At) })
	out := make([]Span, 0, len(spans))
	for _, s := range spans {
		if s.End != nil {
			out = append(out, s)
			continue
		}
		for _, c := range changes {
			if c.Service != s.Service || c.Module != s.Module || !c.At.After(s.Start) {
				continue
			}
			cut := c.At
			before := s
			before.End = &cut
			out = append(out, before)
			s.Start, s.HourlyRateMinor, s.Currency = c.At, c.HourlyRateMinor, c.Currency
		}
		out = append(out, s)
	}
	return out
}
