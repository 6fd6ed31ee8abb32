package web

import (
	"sync"
	"time"
)

// loginLimiter counts failed logins per account (email) and per address in
// a sliding window. It lives in each web process: an attacker spread over
// several processes gets at most that many times the budget.
type loginLimiter struct {
	mu         sync.Mutex
	now        func() time.Time
	window     time.Duration
	perAccount int
	perAddress int
	failures   map[string][]time.Time
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, window: 15 * time.Minute, perAccount: 5, perAddress: 20,
		failures: map[string][]time.Time{}}
}

// allow says whether a login for email from addr may be tried now.
func (l *loginLimiter) allow(email, addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recent("account:"+email) < l.perAccount && l.recent("address:"+addr) < l.perAddress
}

// failed records a failed login.
func (l *loginLimiter) failed(email, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range []string{"account:" + email, "address:" + addr} {
		l.recent(k)
		l.failures[k] = append(l.failures[k], now)
	}
}

// recent drops failures older than the window and counts the rest.
func (l *loginLimiter) recent(key string) int {
	cut := l.now().Add(-l.window)
	ts := l.failures[key]
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	if i == len(ts) {
		delete(l.failures, key)
		return 0
	}
	l.failures[key] = ts[i:]
	return len(ts) - i
}
