package console_test

import (
	"testing"

	"tenantry/web/console"
)

func TestMoneyPrefixesTheInvoicesAmount(t *testing.T) {
	for minor, want := range map[int64]string{2160: "EUR 21.60", 5: "EUR 0.05", -2160: "EUR -21.60", 0: "EUR 0.00"} {
		if got := console.Money(minor, "EUR"); got != want {
			t.Errorf("Money(%d) = %q, want %q", minor, got, want)
		}
	}
}
