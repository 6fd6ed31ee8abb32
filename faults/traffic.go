package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tenantry/workflows"
)

// enable is one enable request the traffic sent and what became of it.
type enable struct {
	phase    string
	id       string
	accepted time.Time
	ready    time.Time
}

// tally is every phase's traffic.
type tally struct {
	mu       sync.Mutex
	accepted []*enable
	refused  int                // a clear answer: 4xx/5xx with a JSON error (and Retry-After on 503)
	unclear  []string           // no answer, or one a client cannot act on
	recovery map[string]float64 // phase → slowest recovery, seconds
}

func (t *tally) recovered(phase string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.recovery == nil {
		t.recovery = map[string]float64{}
	}
	t.recovery[phase] = max(t.recovery[phase], d.Seconds())
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func do(method, url, token string, host string, body any) (int, http.Header, string, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(raw), nil
}

func get(url, host string) (int, http.Header, string) {
	status, h, body, _ := do("GET", url, "", host, nil)
	return status, h, body
}

const password = "correct horse battery"

// signup makes the account whose token the enables use.
func (s *suite) signup() error {
	status, _, body, err := do("POST", s.webURL+"/api/signup", "", "", map[string]string{
		"email": "faults@example.test", "name": "Fault Suite", "account_name": "Faults", "password": password})
	if err != nil || status != http.StatusCreated {
		return fmt.Errorf("signup: %d %s %v", status, body, err)
	}
	status, _, body, err = do("POST", s.webURL+"/api/login", "", "", map[string]string{"email": "faults@example.test", "password": password})
	var login struct{ Token string }
	if err != nil || status != http.StatusOK || json.Unmarshal([]byte(body), &login) != nil {
		return fmt.Errorf("login: %d %s %v", status, body, err)
	}
	s.token = login.Token
	return nil
}

var hostSeq atomic.Int64

// sendEnable sends one enable with its setup, so an accepted one goes on to
// ready by itself, and files the answer.
func (s *suite) sendEnable(phase string) {
	host := fmt.Sprintf("f%d-%s.localhost", hostSeq.Add(1), strings.ReplaceAll(phase, "-", ""))
	status, h, body, err := do("POST", s.webURL+"/api/instances", s.token, "", map[string]any{
		"service": "forum", "modules": []string{"search"}, "host": host,
		"setup": map[string]string{"admin_email": "admin@" + host, "admin_name": "Admin", "admin_password": password, "language": "en"}})
	now := time.Now()
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	var answer struct{ ID, Error string }
	jsonErr := json.Unmarshal([]byte(body), &answer)
	switch {
	case err != nil:
		s.t.unclear = append(s.t.unclear, fmt.Sprintf("%s: no answer: %v", phase, err))
	case status == http.StatusCreated && jsonErr == nil && answer.ID != "":
		s.t.accepted = append(s.t.accepted, &enable{phase: phase, id: answer.ID, accepted: now})
	case status >= 400 && jsonErr == nil && answer.Error != "" && (status != http.StatusServiceUnavailable || h.Get("Retry-After") != ""):
		s.t.refused++
	default:
		s.t.unclear = append(s.t.unclear, fmt.Sprintf("%s: %d %.200s", phase, status, body))
	}
}

// enables sends an enable every `every` for d while faults runs, then
// waits for every enable the phase had accepted to reach ready.
func (s *suite) enables(phase string, d time.Duration, faults func() error) error {
	stop := time.After(d)
	var wg sync.WaitGroup
	var ferr error
	wg.Go(func() { ferr = faults() })
	// Readiness is watched from the start, so an enable's time to ready
	// does not wait for the phase's slowest answer.
	watching := make(chan struct{})
	watched := make(chan struct{})
	go func() { defer close(watched); s.watchReady(phase, watching) }()
	t := time.NewTicker(every)
	defer t.Stop()
loop:
	for {
		select {
		case <-t.C:
			wg.Go(func() { s.sendEnable(phase) })
		case <-stop:
			break loop
		}
	}
	wg.Wait()
	close(watching)
	<-watched
	if ferr != nil {
		return ferr
	}
	return s.report(phase)
}

// watchReady polls the control database until the traffic is over
// (sending closed) and every accepted enable of the phase is ready, or 90 s
// after that; an enable's recovery is the time from its acceptance to
// ready.
func (s *suite) watchReady(phase string, sending <-chan struct{}) {
	var deadline time.Time
	for {
		select {
		case <-sending:
			if deadline.IsZero() {
				deadline = time.Now().Add(90 * time.Second)
			}
		default:
		}
		var waiting []*enable
		var ids []string
		s.t.mu.Lock()
		for _, e := range s.t.accepted {
			if e.phase == phase && e.ready.IsZero() {
				waiting, ids = append(waiting, e), append(ids, e.id)
			}
		}
		s.t.mu.Unlock()
		if len(ids) == 0 && !deadline.IsZero() {
			break
		}
		rows, err := s.db.Query(s.ctx, `SELECT id::text FROM instances WHERE id = ANY($1::uuid[]) AND status = 'ready'`, ids)
		if err == nil {
			ready := map[string]bool{}
			for rows.Next() {
				var id string
				if rows.Scan(&id) == nil {
					ready[id] = true
				}
			}
			rows.Close()
			now := time.Now()
			s.t.mu.Lock()
			for _, e := range waiting {
				if ready[e.id] {
					e.ready = now
				}
			}
			s.t.mu.Unlock()
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			fmt.Printf("   %d accepted enables not ready 90s after the traffic\n", len(waiting))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// report prints a phase's enables and the slowest one's history.
func (s *suite) report(phase string) error {
	var n, ready int
	var slowest time.Duration
	var slow *enable
	s.t.mu.Lock()
	for _, e := range s.t.accepted {
		if e.phase != phase {
			continue
		}
		n++
		if !e.ready.IsZero() {
			ready++
			if d := e.ready.Sub(e.accepted); d > slowest {
				slowest, slow = d, e
			}
		}
	}
	s.t.mu.Unlock()
	s.t.recovered(phase, slowest)
	fmt.Printf("   enables: %d accepted, %d ready, slowest accepted→ready %s\n", n, ready, slowest.Round(100*time.Millisecond))
	if slow != nil && slowest > 8*time.Second {
		s.showHistory(workflows.EnableID(slow.id), slow.accepted)
	}
	return nil
}

// showHistory prints where a slow workflow waited: its events with the
// time since t0, and the task queue kind or timeout where there is one.
func (s *suite) showHistory(id string, t0 time.Time) {
	fmt.Println("   the slowest,", id+":")
	it := s.tc.GetWorkflowHistory(s.ctx, id, "", false, 0)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return
		}
		detail := ""
		if a := e.GetWorkflowTaskScheduledEventAttributes(); a != nil {
			detail = a.GetTaskQueue().GetKind().String()
		}
		if a := e.GetWorkflowTaskTimedOutEventAttributes(); a != nil {
			detail = a.GetTimeoutType().String()
		}
		if a := e.GetWorkflowTaskStartedEventAttributes(); a != nil {
			detail = a.GetIdentity()
		}
		fmt.Printf("     %+7.2fs %s %s\n", e.GetEventTime().AsTime().Sub(t0).Seconds(), e.GetEventType(), detail)
	}
}

// at runs the steps at their offsets from now, in order.
func at(steps ...step) error {
	t0 := time.Now()
	for _, st := range steps {
		time.Sleep(time.Until(t0.Add(st.after)))
		if err := st.do(); err != nil {
			return err
		}
	}
	return nil
}

type step struct {
	after time.Duration
	do    func() error
}
