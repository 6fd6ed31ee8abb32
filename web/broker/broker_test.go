package broker_test

import (
	"testing"

	"tenantry/web/broker"
)

func TestSupportedVersion(t *testing.T) {
	for v, want := range map[string]bool{
		"2.14": true, "2.16": true, "2.17": true, "2.100": true,
		"": false, "2.13": false, "2": false, "3.0": false, "1.99": false, "2.x": false, "v2.16": false,
	} {
		if got := broker.SupportedVersion(v); got != want {
			t.Errorf("SupportedVersion(%q) = %v, want %v", v, got, want)
		}
	}
}
