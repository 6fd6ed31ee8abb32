package router

import (
	"sync"
	"time"
)

// Instance is what the router knows about the instance behind a host.
type Instance struct {
	ID          string
	Service     string
	Version     string
	Schema      uint // the tenant schema that version runs on
	Modules     []string
	Status      string // provisioning, ready or disabled
	Maintenance bool
	Routed      bool // the host was registered (ready) and not taken offline
	DeleteAfter *time.Time
}

// entry is a cached lookup; a nil inst caches an unknown host.
type entry struct {
	inst    *Instance
	expires time.Time
}

// cache maps request hosts to instances. NOTIFY keeps it fresh; the TTL is
// a backstop for a missed notification. Every invalidation bumps gen, so a
// lookup that raced an invalidation does not store what it read.
type cache struct {
	ttl, negTTL time.Duration
	maxNegative int
	now         func() time.Time

	mu        sync.RWMutex
	byHost    map[string]entry
	negatives int
	gen       uint64
}

func newCache(ttl, negTTL time.Duration, maxNegative int) *cache {
	return &cache{ttl: ttl, negTTL: negTTL, maxNegative: maxNegative, now: time.Now, byHost: map[string]entry{}}
}

// get returns a fresh entry, and the generation a caller must pass to put
// after a miss.
func (c *cache) get(host string) (e entry, ok bool, gen uint64) {
	c.mu.RLock()
	e, ok = c.byHost[host]
	gen = c.gen
	c.mu.RUnlock()
	if ok && c.now().After(e.expires) {
		return entry{}, false, gen
	}
	return e, ok, gen
}

// put stores a lookup unless an invalidation happened since gen was read.
func (c *cache) put(host string, inst *Instance, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	ttl := c.ttl
	if inst == nil {
		ttl = c.negTTL
		if old, had := c.byHost[host]; !had || old.inst != nil {
			// Unknown hosts are attacker-chosen: bound how many are kept.
			if c.negatives >= c.maxNegative {
				c.dropNegatives()
			}
			c.negatives++
		}
	} else if old, had := c.byHost[host]; had && old.inst == nil {
		c.negatives--
	}
	c.byHost[host] = entry{inst: inst, expires: c.now().Add(ttl)}
}

// invalidate forgets an instance and every unknown host: the change may be
// a new instance taking a host that was unknown a moment ago.
func (c *cache) invalidate(instanceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.byHost {
		if e.inst != nil && e.inst.ID == instanceID {
			delete(c.byHost, h)
		}
	}
	c.dropNegatives()
}

// stale returns what was last read for host, however old: while the
// control database cannot be reached, nothing can change there either, so
// the router keeps serving what it knew.
func (c *cache) stale(host string) (entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.byHost[host]
	return e, ok
}

// expireAll marks every lookup to be read again (the listener is away and
// may miss notifications) but keeps it for stale.
func (c *cache) expireAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.byHost {
		e.expires = time.Time{}
		c.byHost[h] = e
	}
}

// invalidateAll forgets everything (the listener reconnected and may have
// missed notifications).
func (c *cache) invalidateAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.byHost)
	c.negatives = 0
}

func (c *cache) dropNegatives() {
	for h, e := range c.byHost {
		if e.inst == nil {
			delete(c.byHost, h)
		}
	}
	c.negatives = 0
}

// len is how many hosts are cached (for tests).
func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byHost)
}
