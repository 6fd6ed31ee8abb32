package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"tenantry/internal/platform"
	"tenantry/web"
	"tenantry/web/api"
)

// Every JSON route the router serves is in the OpenAPI document, and every
// operation of the document is served.
func TestOpenAPIDocumentMatchesRouter(t *testing.T) {
	s := newSite(t)
	ws := &web.Server{Platform: platform.New(&platform.Platform{DB: s.control.DB, Catalog: s.control.Catalog})}
	ws.Handler()
	defer ws.Close()
	documented, err := api.DocumentedRoutes()
	if err != nil {
		t.Fatal(err)
	}
	served := ws.APIRoutes()
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("served but not documented: %s", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("documented but not served: %s", r)
		}
	}
	if len(served) < 10 {
		t.Fatalf("only %d API routes found: %v", len(served), served)
	}

	resp, err := http.Get(s.url + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc["openapi"] != "3.1.0" {
		t.Fatalf("/openapi.json: %v %v", err, doc["openapi"])
	}
	resp.Body.Close()
	resp, err = http.Get(s.url + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "PUT /api/instances/{id}/modules") {
		t.Fatalf("/docs: %d", resp.StatusCode)
	}
}
