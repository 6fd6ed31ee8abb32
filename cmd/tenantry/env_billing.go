package main

import (
	"os"
	"strings"
)

// envList reads a comma-separated list (e.g. TENANTRY_OPERATORS, the
// emails of platform operators).
func envList(key string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv(key), ",") {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
			out = append(out, v)
		}
	}
	return out
}
