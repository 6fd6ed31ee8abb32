package auth

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"time"

	"tenantry/internal/platform"
)

// tokenTTLBackstop bounds how long a cached resolution is used even if a
// notification was lost.
const tokenTTLBackstop = 30 * time.Second

// tokenCache resolves API tokens to their principal, caching the answer
// while this process listens for revocations and grant changes.
type tokenCache struct {
	resolver Resolver
	now      func() time.Time
	log      *slog.Logger

	mu        sync.Mutex
	entries   map[[32]byte]tokenEntry
	gen       uint64 // bumped by every purge, so a load that raced one is not kept
	listening bool
}

type tokenEntry struct {
	who     platform.Principal
	expires *time.Time
	fetched time.Time
}

func newTokenCache(r Resolver, now func() time.Time, log *slog.Logger) *tokenCache {
	return &tokenCache{resolver: r, now: now, log: log, entries: map[[32]byte]tokenEntry{}}
}

func (tc *tokenCache) resolve(ctx context.Context, token string) (platform.Principal, error) {
	sum := sha256.Sum256([]byte(token))
	now := tc.now()
	tc.mu.Lock()
	e, ok := tc.entries[sum]
	fresh := ok && tc.listening && now.Sub(e.fetched) < tokenTTLBackstop
	gen := tc.gen
	tc.mu.Unlock()
	if !fresh {
		who, expires, err := tc.resolver.ResolveAPIToken(ctx, token)
		if err != nil {
			return platform.Principal{}, err
		}
		e = tokenEntry{who: who, expires: expires, fetched: now}
		tc.mu.Lock()
		if tc.gen == gen {
			tc.entries[sum] = e
		}
		tc.mu.Unlock()
	}
	if e.expires != nil && !now.Before(*e.expires) {
		return platform.Principal{}, platform.ErrBadToken
	}
	return e.who, nil
}

func (tc *tokenCache) purge() {
	tc.mu.Lock()
	clear(tc.entries)
	tc.gen++
	tc.mu.Unlock()
}

func (tc *tokenCache) setListening(on bool) {
	tc.mu.Lock()
	tc.listening = on
	tc.mu.Unlock()
}

// follow listens for access changes until ctx ends, reconnecting after a
// second when the connection is lost. While it is not listening the cache
// is bypassed.
func (tc *tokenCache) follow(ctx context.Context) {
	for ctx.Err() == nil {
		if err := tc.resolver.ListenAccessChanges(ctx, tc.purge, tc.setListening); err != nil && ctx.Err() == nil {
			tc.log.Warn("listen for token revocations", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
