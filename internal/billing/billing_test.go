package billing_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"tenantry/internal/billing"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

var nov = billing.MonthOf(at("2026-11-17T08:00:00Z"))

func TestPeriods(t *testing.T) {
	if nov.Start != at("2026-11-01T00:00:00Z") || nov.End != at("2026-12-01T00:00:00Z") {
		t.Fatalf("month of 17 Nov: %v", nov)
	}
	dec := nov.Next(0)
	if dec.Start != nov.End || dec.End != at("2027-01-01T00:00:00Z") {
		t.Fatalf("next of Nov: %v", dec)
	}
	p := billing.PeriodOf(at("2026-11-17T08:00:42Z"), time.Minute)
	if p.Start != at("2026-11-17T08:00:00Z") || p.End != at("2026-11-17T08:01:00Z") {
		t.Fatalf("minute period: %v", p)
	}
	if n := p.Next(time.Minute); n.Start != p.End || n.End.Sub(n.Start) != time.Minute {
		t.Fatalf("next minute: %v", n)
	}
}

func TestExplainedModuleLine(t *testing.T) {
	s := billing.Span{ID: 7, InstanceID: "i1", Service: "forum", Host: "acme-forum.localhost", Module: "search",
		Start: at("2026-11-03T14:02:00Z"), HourlyRateMinor: 120, Currency: "EUR"}
	inv, err := billing.Compute(nov, []billing.Span{s}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Lines) != 1 {
		t.Fatalf("lines: %+v", inv.Lines)
	}
	l := inv.Lines[0]
	// 3 Nov 14:02 → 1 Dec 00:00 is 657 h 58 min = 2368680 s; × 120/3600 = 78956 exactly.
	if l.Quantity != 2368680 || l.AmountMinor != 78956 || inv.TotalMinor != 78956 {
		t.Fatalf("line: %+v", l)
	}
	want := "forum · search module · acme-forum.localhost · 3 Nov 14:02 → 1 Dec 00:00 UTC · 657.97 h × 1.20/h = 789.56"
	if l.Explanation != want {
		t.Fatalf("explanation\n got %s\nwant %s", l.Explanation, want)
	}
}

func TestRoundingHalfUp(t *testing.T) {
	cases := []struct{ secs, rate, want int64 }{
		{1800, 1, 1}, // exactly half a cent rounds up
		{1799, 1, 0}, // just under half rounds down
		{5399, 1, 1}, // 1.4997
		{5400, 1, 2}, // 1.5
		{3600, 4, 4}, // whole hours are exact
		{0, 100, 0},  // nothing enabled
		{1, 3600, 1}, // one second at 36.00/h
	}
	for _, c := range cases {
		if got := billing.ModuleAmount(c.secs, c.rate); got != c.want {
			t.Errorf("ModuleAmount(%d s, %d/h) = %d, want %d", c.secs, c.rate, got, c.want)
		}
	}
}

func TestClipAndOutsideSpans(t *testing.T) {
	spans := []billing.Span{
		{ID: 1, Service: "forum", Module: "core", Start: at("2026-10-20T00:00:00Z"), End: ptr(at("2026-11-02T00:00:00Z")), HourlyRateMinor: 10, Currency: "EUR"},
		{ID: 2, Service: "forum", Module: "core", Start: at("2026-10-01T00:00:00Z"), End: ptr(at("2026-10-31T00:00:00Z")), HourlyRateMinor: 10, Currency: "EUR"},
		{ID: 3, Service: "forum", Module: "core", Start: at("2026-12-01T00:00:00Z"), HourlyRateMinor: 10, Currency: "EUR"},
	}
	inv, err := billing.Compute(nov, spans, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Lines) != 1 || inv.Lines[0].SpanID != 1 || inv.Lines[0].Quantity != 24*3600 || inv.TotalMinor != 240 {
		t.Fatalf("only the first day of November of span 1: %+v", inv)
	}
}

func TestDiscounts(t *testing.T) {
	spans := []billing.Span{
		{ID: 1, Service: "forum", Module: "core", Host: "a", InstanceID: "i1", Start: nov.Start, HourlyRateMinor: 100, Currency: "EUR"},  // 720 h → 72000
		{ID: 2, Service: "forum", Module: "search", Host: "a", InstanceID: "i1", Start: nov.Start, HourlyRateMinor: 10, Currency: "EUR"}, // 7200
		{ID: 3, Service: "store", Module: "core", Host: "b", InstanceID: "i2", Start: nov.Start, HourlyRateMinor: 5, Currency: "EUR"},    // 3600
	}
	discounts := []billing.Discount{
		{ID: "d1", Name: "launch", Reason: "early customer", Kind: "percent", PercentBP: 2550, Service: "forum", Module: "search", Validity: "period 1 of 3"},
		{ID: "d2", Name: "goodwill", Kind: "fixed", AmountMinor: 10000, Service: "store"},
		{ID: "d3", Name: "partner", Kind: "percent", PercentBP: 1000},
		{ID: "d4", Name: "nothing here", Kind: "percent", PercentBP: 5000, Service: "forum", Module: "attachments"},
	}
	inv, err := billing.Compute(nov, spans, nil, discounts)
	if err != nil {
		t.Fatal(err)
	}
	if inv.SubtotalMinor != 82800 {
		t.Fatalf("subtotal %d", inv.SubtotalMinor)
	}
	// d1: 25.5 % of 7200 = 1836; d2: min(10000, 3600) = 3600; d3: 10 % of 82800 = 8280; d4 out of scope.
	var got []int64
	for _, l := range inv.Lines {
		if l.Kind == billing.KindDiscount {
			got = append(got, l.AmountMinor)
		}
	}
	if len(got) != 3 || got[0] != -1836 || got[1] != -3600 || got[2] != -8280 {
		t.Fatalf("discount lines %v: %+v", got, inv.Lines)
	}
	if inv.DiscountMinor != 13716 || inv.TotalMinor != 82800-13716 {
		t.Fatalf("totals %+v", inv)
	}
	l := inv.Lines[len(inv.Lines)-3]
	if !strings.Contains(l.Explanation, `discount "launch" on forum · search module · early customer · period 1 of 3 · 25.5 % of 72.00 = −18.36`) {
		t.Fatalf("discount explanation: %s", l.Explanation)
	}
}

func TestDiscountsNeverMakeTheTotalNegative(t *testing.T) {
	spans := []billing.Span{{ID: 1, Service: "forum", Module: "core", Start: nov.Start, End: ptr(nov.Start.Add(10 * time.Hour)), HourlyRateMinor: 100, Currency: "EUR"}}
	inv, err := billing.Compute(nov, spans, nil, []billing.Discount{
		{ID: "a", Name: "a", Kind: "percent", PercentBP: 8000},
		{ID: "b", Name: "b", Kind: "fixed", AmountMinor: 5000},
	})
	if err != nil {
		t.Fatal(err)
	}
	if inv.TotalMinor != 0 || inv.DiscountMinor != 1000 || !strings.Contains(inv.Lines[2].Explanation, "capped") {
		t.Fatalf("%+v", inv)
	}
}

func TestMeteredLines(t *testing.T) {
	inv, err := billing.Compute(nov, nil, []billing.Metered{
		{InstanceID: "i1", Service: "forum", Host: "a", Requests: 12_345, Included: 10_000, PerThousandMinor: 15, Currency: "EUR"},
		{InstanceID: "i2", Service: "forum", Host: "b", Requests: 500, Included: 10_000, PerThousandMinor: 15, Currency: "EUR"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2345 × 15 / 1000 = 35.175 → 35; the second stays within its quota.
	if len(inv.Lines) != 2 || inv.Lines[0].AmountMinor != 35 || inv.Lines[1].AmountMinor != 0 || inv.TotalMinor != 35 {
		t.Fatalf("%+v", inv)
	}
}

func TestEmptyPeriodIsAZeroInvoice(t *testing.T) {
	inv, err := billing.Compute(nov, nil, nil, []billing.Discount{{ID: "d", Name: "d", Kind: "fixed", AmountMinor: 100}})
	if err != nil {
		t.Fatal(err)
	}
	if inv.TotalMinor != 0 || len(inv.Lines) != 0 || inv.Currency != billing.DefaultCurrency {
		t.Fatalf("%+v", inv)
	}
}

func TestMixedCurrenciesAreRefused(t *testing.T) {
	_, err := billing.Compute(nov, []billing.Span{
		{ID: 1, Module: "core", Start: nov.Start, HourlyRateMinor: 1, Currency: "EUR"},
		{ID: 2, Module: "core", Start: nov.Start, HourlyRateMinor: 1, Currency: "USD"},
	}, nil, nil)
	if err == nil {
		t.Fatal("mixed currencies were accepted")
	}
}

// TestRandomModuleSchedules is the property test: for random schedules of
// module changes (enable, disable, re-enable, price changes that close and
// reopen a span) over a period, the invoice's subtotal equals
// rate × enabled seconds within half a minor unit per line, and no second
// of a module is billed twice.
func TestRandomModuleSchedules(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2026))
	modules := []string{"core", "search", "moderation", "attachments"}
	for round := range 500 {
		p := nov
		if round%2 == 1 {
			p = billing.PeriodOf(at("2026-11-17T08:00:00Z"), time.Duration(1+rng.IntN(7200))*time.Second)
		}
		length := int64(p.End.Sub(p.Start) / time.Second)
		var spans []billing.Span
		// exact[module] = Σ rate × seconds inside p, in minor units × 3600.
		exact := int64(0)
		id := int64(0)
		for _, m := range modules {
			// A schedule is a sorted list of instants around the period;
			// between each pair the module is on or off at some rate.
			cuts := []int64{-int64(rng.IntN(100000)), length + int64(rng.IntN(100000))}
			for range rng.IntN(8) {
				cuts = append(cuts, int64(rng.IntN(int(length)+1)))
			}
			sortInts(cuts)
			for i := 0; i+1 < len(cuts); i++ {
				if rng.IntN(3) == 0 || cuts[i] == cuts[i+1] {
					continue // off
				}
				rate := int64(rng.IntN(500))
				start := p.Start.Add(time.Duration(cuts[i]) * time.Second)
				var end *time.Time
				if i+2 < len(cuts) || rng.IntN(2) == 0 {
					end = ptr(p.Start.Add(time.Duration(cuts[i+1]) * time.Second))
				}
				id++
				spans = append(spans, billing.Span{ID: id, InstanceID: "i", Service: "forum", Host: "h", Module: m,
					Start: start, End: end, HourlyRateMinor: rate, Currency: "EUR"})
				hi := cuts[i+1]
				if end == nil {
					hi = length
				}
				exact += rate * max(min(hi, length)-max(cuts[i], 0), 0)
			}
		}
		inv, err := billing.Compute(p, spans, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		sum := int64(0)
		lastEnd := map[string]time.Time{} // lines come sorted by module, then start
		for _, l := range inv.Lines {
			sum += l.AmountMinor
			if l.From.Before(p.Start) || l.To.After(p.End) {
				t.Fatalf("round %d: line %s → %s outside the period", round, l.From, l.To)
			}
			if e, ok := lastEnd[l.Module]; ok && l.From.Before(e) {
				t.Fatalf("round %d: %s billed twice from %s to %s", round, l.Module, l.From, e)
			}
			lastEnd[l.Module] = *l.To
		}
		if sum != inv.SubtotalMinor || inv.TotalMinor != sum {
			t.Fatalf("round %d: lines sum to %d, subtotal %d, total %d", round, sum, inv.SubtotalMinor, inv.TotalMinor)
		}
		// |sum − exact/3600| ≤ lines/2, in integers: |3600·sum − exact|·2 ≤ 3600·lines.
		diff := 3600*sum - exact
		if diff < 0 {
			diff = -diff
		}
		if 2*diff > 3600*int64(len(inv.Lines)) {
			t.Fatalf("round %d: sum %d is off exact %d/3600 by more than %d lines allow", round, sum, exact, len(inv.Lines))
		}
	}
}

func sortInts(a []int64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
