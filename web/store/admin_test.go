package store

import "testing"

func TestParsePrice(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "12": 1200, "12.5": 1250, "12.05": 1205, " 3.99 ": 399, "999999999.99": 99999999999} {
		got, err := parsePrice(in)
		if err != nil || got != want {
			t.Errorf("parsePrice(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.234", "1,50", "1e3", ".5", "12.", "1234567890"} {
		if _, err := parsePrice(bad); err == nil {
			t.Errorf("parsePrice(%q) accepted", bad)
		}
	}
}
