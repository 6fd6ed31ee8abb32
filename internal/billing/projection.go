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

// WithPriceChanges is spans as they will be once the scheduled (not yet
// applied) changes apply: as controldb.ApplyScheduledPrice will do, a span
// of the module that runs across a change's instant is cut there and goes
// on at the new rate, and a span that starts at or after it takes the new
// rate. The close bills a change its workflow has not applied yet (a worker
// that was down) this way, and a projection to the period's end counts the
// changes ahead.
func WithPriceChanges(spans []Span, changes []PriceChange) []Span {
	if len(changes) == 0 {
		return spans
	}
	changes = slices.SortedFunc(slices.Values(changes), func(a, b PriceChange) int { return a.At.Compare(b.At) })
	out := make([]Span, 0, len(spans))
	for _, s := range spans {
		for _, c := range changes {
			if c.Service != s.Service || c.Module != s.Module || (s.End != nil && !s.End.After(c.At)) {
				continue
			}
			if c.At.After(s.Start) {
				cut := c.At
				before := s
				before.End = &cut
				out = append(out, before)
				s.Start = c.At
			}
			s.HourlyRateMinor, s.Currency = c.HourlyRateMinor, c.Currency
		}
		out = append(out, s)
	}
	return out
}
