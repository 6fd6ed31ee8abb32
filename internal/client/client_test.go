package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"tenantry/internal/client"
	"tenantry/internal/controldb"
	"tenantry/internal/platform"
)

// A refusal carries the API's status and message; an answer without the
// API's JSON (a proxy's page) still names the status.
func TestErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/instances" {
			if r.Header.Get("Authorization") != "Bearer tnt_x" {
				t.Errorf("Authorization %q", r.Header.Get("Authorization"))
			}
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error": "host acme.localhost is already taken"}`))
			return
		}
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>bad gateway</html>"))
	}))
	defer srv.Close()
	c := client.New(srv.URL+"/", "tnt_x")
	_, err := c.Enable(context.Background(), platform.EnableInput{Service: "forum", Host: "acme.localhost"})
	if client.StatusOf(err) != http.StatusConflict || err.Error() != "host acme.localhost is already taken" {
		t.Fatalf("409: %v", err)
	}
	_, err = c.Catalog(context.Background())
	if client.StatusOf(err) != http.StatusBadGateway || err.Error() != "GET /catalog: 502 Bad Gateway" {
		t.Fatalf("502: %v", err)
	}
	srv.Close()
	if _, err := c.Catalog(context.Background()); client.StatusOf(err) != 0 || err == nil {
		t.Fatalf("a server out of reach: %v", err)
	}
}

// FollowLogs asks again from the last line seen when the server ends a
// stream, and stops when its context ends.
func TestFollowLogsReconnectsAfterTheLastLine(t *testing.T) {
	var mu sync.Mutex
	var afters []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/instances/i1/logs" || r.URL.Query().Get("follow") != "true" {
			t.Errorf("asked %s", r.URL)
		}
		mu.Lock()
		afters = append(afters, r.URL.Query().Get("after"))
		n := len(afters)
		mu.Unlock()
		enc := json.NewEncoder(w)
		for id := int64(n*2 - 1); id <= int64(n*2); id++ {
			_ = enc.Encode(controldb.LogLine{ID: id, Kind: controldb.LogEventKind, Event: "e"})
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen []int64
	err := client.New(srv.URL, "t").FollowLogs(ctx, "i1", platform.LogQuery{}, func(l controldb.LogLine) error {
		seen = append(seen, l.ID)
		if len(seen) == 4 {
			cancel()
		}
		return nil
	})
	if err != context.Canceled || len(seen) != 4 || seen[3] != 4 {
		t.Fatalf("err %v, lines %v", err, seen)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(afters) != 2 || afters[0] != "" || afters[1] != "2" {
		t.Fatalf("asked with after %q, want none then 2", afters)
	}
}
