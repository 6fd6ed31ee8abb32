package router

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostKey(t *testing.T) {
	for in, want := range map[string]string{
		"Acme-Forum.localhost":      "acme-forum.localhost",
		"acme-forum.localhost:8000": "acme-forum.localhost",
		"ACME.example.":             "acme.example",
		"[::1]:8000":                "::1",
		"[::1]":                     "::1",
		"bücher.example:80":         "bücher.example",
	} {
		assert.Equal(t, want, hostKey(in), in)
	}
}

func TestCacheEntriesAndInvalidation(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCache(time.Minute, 10*time.Second, 3)
	c.now = func() time.Time { return now }
	a := &Instance{ID: "a"}

	_, ok, gen := c.get("a.localhost")
	require.False(t, ok)
	c.put("a.localhost", a, gen)
	c.put("nobody.localhost", nil, gen)
	e, ok, _ := c.get("a.localhost")
	require.True(t, ok)
	assert.Same(t, a, e.inst)
	e, ok, _ = c.get("nobody.localhost")
	require.True(t, ok, "unknown hosts are cached")
	assert.Nil(t, e.inst)

	// TTLs: the negative one is shorter.
	now = now.Add(11 * time.Second)
	_, ok, _ = c.get("nobody.localhost")
	assert.False(t, ok)
	_, ok, _ = c.get("a.localhost")
	assert.True(t, ok)
	now = now.Add(time.Minute)
	_, ok, _ = c.get("a.localhost")
	assert.False(t, ok)

	// A notification drops the instance's hosts and every unknown host,
	// and keeps the others.
	_, _, gen = c.get("x")
	b := &Instance{ID: "b"}
	c.put("a.localhost", a, gen)
	c.put("a-alias.localhost", a, gen)
	c.put("b.localhost", b, gen)
	c.put("nobody.localhost", nil, gen)
	c.invalidate("a")
	assert.Equal(t, 1, c.len())
	_, ok, _ = c.get("b.localhost")
	assert.True(t, ok)

	// A lookup that raced an invalidation does not store what it read.
	_, _, stale := c.get("a.localhost")
	c.invalidate("a")
	c.put("a.localhost", a, stale)
	_, ok, _ = c.get("a.localhost")
	assert.False(t, ok)

	c.invalidateAll()
	assert.Equal(t, 0, c.len())
}

func TestCacheBoundsUnknownHosts(t *testing.T) {
	c := newCache(time.Minute, time.Minute, 3)
	_, _, gen := c.get("x")
	c.put("known.localhost", &Instance{ID: "k"}, gen)
	for _, h := range []string{"1.localhost", "2.localhost", "3.localhost", "4.localhost", "4.localhost"} {
		c.put(h, nil, gen)
	}
	assert.LessOrEqual(t, c.len(), 4, "at most 3 unknown hosts and the known one")
	_, ok, _ := c.get("known.localhost")
	assert.True(t, ok)
	_, ok, _ = c.get("4.localhost")
	assert.True(t, ok)
}

func TestPoolsEvictLeastRecentlyUsedButNotInUse(t *testing.T) {
	opened := map[string]int{}
	p := newPools(func(_ context.Context, id string) (*pgxpool.Pool, string, error) {
		opened[id]++
		if id == "broken" {
			return nil, "", errors.New("no database")
		}
		return nil, "en", nil
	}, 2, time.Minute)
	now := time.Unix(1000, 0)
	p.now = func() time.Time { return now }

	a, err := p.acquire(context.Background(), "a")
	require.NoError(t, err)
	assert.Equal(t, "en", a.lang)
	b, err := p.acquire(context.Background(), "b")
	require.NoError(t, err)
	p.release(b)
	again, err := p.acquire(context.Background(), "a")
	require.NoError(t, err)
	assert.Same(t, a, again)
	p.release(again)
	assert.Equal(t, 1, opened["a"], "an open pool is reused")

	// A third pool evicts the least recently used one (b).
	c, err := p.acquire(context.Background(), "c")
	require.NoError(t, err)
	p.release(c)
	assert.Equal(t, 2, p.size())
	assert.True(t, b.evicted)
	assert.False(t, a.evicted)

	// In use, a is taken out of the set but stays usable until released.
	p.drop("a")
	assert.True(t, a.evicted)
	assert.Equal(t, 1, a.active)
	p.release(a)

	// A pool that fails to open is not kept.
	_, err = p.acquire(context.Background(), "broken")
	require.Error(t, err)
	_, err = p.acquire(context.Background(), "broken")
	require.Error(t, err)
	assert.Equal(t, 2, opened["broken"])

	// Idle pools close.
	now = now.Add(2 * time.Minute)
	p.sweep()
	assert.Equal(t, 0, p.size())
}
