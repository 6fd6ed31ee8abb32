// Package health answers whether a process is alive (/healthz: it runs and
// serves) and ready (/readyz: every dependency it needs answers), naming
// what is down, for load balancers, orchestrators and operators.
package health

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Check probes one dependency; a nil error means it answers.
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// Report is /readyz's answer.
type Report struct {
	Status string            `json:"status"` // "ready" or "unavailable"
	Down   []string          `json:"down,omitempty"`
	Checks map[string]string `json:"checks"` // name → "ok" or "unreachable"
}

// timeout bounds each probe, so /readyz answers while a dependency hangs.
const timeout = 2 * time.Second

// Run probes every check at once.
func Run(ctx context.Context, checks []Check) Report {
	r := Report{Status: "ready", Checks: map[string]string{}}
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			errs[i] = c.Probe(pctx)
		})
	}
	wg.Wait()
	for i, c := range checks {
		if errs[i] != nil {
			r.Status = "unavailable"
			r.Down = append(r.Down, c.Name)
			r.Checks[c.Name] = "unreachable"
		} else {
			r.Checks[c.Name] = "ok"
		}
	}
	return r
}

// Ready is /readyz: 200 when every check passes, else 503 naming what is
// down.
func Ready(checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r := Run(req.Context(), checks)
		status := http.StatusOK
		if len(r.Down) > 0 {
			status = http.StatusServiceUnavailable
		}
		write(w, status, r)
	})
}

// Live is /healthz: the process runs and serves HTTP.
func Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
