package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"tenantry/internal/controldb"
)

// A client reads its instance's log through the API (a page, then a
// follow that streams a line logged after it began) and on the console's
// log page; another account's log is not found.
func TestInstanceLogsReachOnlyTheirAccount(t *testing.T) {
	s := newSite(t)
	email, account := s.user("member")
	id := s.instance(account)
	_, otherAccount := s.user("owner")
	theirs := s.instance(otherAccount)
	ctx := context.Background()
	if err := controldb.LogEvent(ctx, s.control.DB, id, "test/1", "instance.maintenance", map[string]any{"on": true}); err != nil {
		t.Fatal(err)
	}
	token := apiToken(t, s, email)
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return http.DefaultClient.Do(req)
	}
	resp, err := get("/api/instances/" + id + "/logs")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Lines []struct {
			ID          int64
			Kind, Event string
		} `json:"lines"`
		Next int64 `json:"next"`
	}
	if err := decodeJSON(resp, &page); err != nil || resp.StatusCode != http.StatusOK || len(page.Lines) != 1 ||
		page.Lines[0].Event != "instance.maintenance" || page.Next != page.Lines[0].ID {
		t.Fatalf("log page: %d %v %+v", resp.StatusCode, err, page)
	}
	resp.Body.Close()
	if got := bearerStatus(t, s.url, "GET", "/api/instances/"+theirs+"/logs", token); got != http.StatusNotFound {
		t.Fatalf("another account's log: %d, want 404", got)
	}
	if got := bearerStatus(t, s.url, "GET", "/api/instances/"+id+"/logs?limit=5000", token); got != http.StatusUnprocessableEntity {
		t.Fatalf("limit 5000: %d, want 422", got)
	}

	// Follow from the cursor: the next line arrives on the open stream.
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(fctx, "GET", s.url+"/api/instances/"+id+"/logs?follow=true&after="+strconv.FormatInt(page.Next, 10), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	if ct := stream.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ndjson") {
		t.Fatalf("follow content type %q", ct)
	}
	if err := controldb.LogEvent(ctx, s.control.DB, id, "test/2", "instance.maintenance", map[string]any{"on": false}); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stream.Body).ReadString('\n')
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	var next struct {
		Event  string         `json:"event"`
		Detail map[string]any `json:"detail"`
	}
	if err := json.Unmarshal([]byte(line), &next); err != nil || next.Event != "instance.maintenance" || next.Detail["on"] != false {
		t.Fatalf("followed line %q: %v", line, err)
	}

	b := s.browser()
	b.login(email, password)
	if status, _, body := b.do("GET", "/instances/"+id+"/logs", nil, nil); status != http.StatusOK || !strings.Contains(body, "instance.maintenance on=false") {
		t.Fatalf("console log page: %d", status)
	}
	if status, _, _ := b.do("GET", "/instances/"+theirs+"/logs/tail", nil, nil); status != http.StatusNotFound {
		t.Fatalf("another account's log tail in the console: %d, want 404", status)
	}
}
