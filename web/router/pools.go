package router

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// tenantPool is one instance's own connection pool and what was read from
// its database when it opened.
type tenantPool struct {
	id    string
	ready chan struct{} // closed once open (or failed)
	err   error
	pool  *pgxpool.Pool
	lang  string

	// guarded by pools.mu
	elem     *list.Element
	active   int
	lastUsed time.Time
	evicted  bool
}

// opener opens an instance's pool.
type opener func(ctx context.Context, instanceID string) (*pgxpool.Pool, string, error)

// pools keeps at most max tenant pools open, least recently used first out;
// a pool idle longer than idle closes too. A pool in use is closed when its
// last request ends, never under it.
type pools struct {
	open opener
	max  int
	idle time.Duration
	now  func() time.Time

	mu   sync.Mutex
	byID map[string]*tenantPool
	lru  *list.List // front: most recently used
}

func newPools(open opener, max int, idle time.Duration) *pools {
	return &pools{open: open, max: max, idle: idle, now: time.Now, byID: map[string]*tenantPool{}, lru: list.New()}
}

// acquire returns the instance's pool, opening it when needed; release
// must be called when the request is done with it.
func (p *pools) acquire(ctx context.Context, id string) (*tenantPool, error) {
	p.mu.Lock()
	tp, ok := p.byID[id]
	if !ok {
		tp = &tenantPool{id: id, ready: make(chan struct{})}
		tp.elem = p.lru.PushFront(tp)
		p.byID[id] = tp
		tp.active++
		tp.lastUsed = p.now()
		victims := p.trim()
		p.mu.Unlock()
		closeAll(victims)
		tp.pool, tp.lang, tp.err = p.open(ctx, id)
		close(tp.ready)
		if tp.err != nil {
			p.mu.Lock()
			p.remove(tp)
			p.mu.Unlock()
			p.release(tp)
			return nil, tp.err
		}
		return tp, nil
	}
	tp.active++
	tp.lastUsed = p.now()
	p.lru.MoveToFront(tp.elem)
	p.mu.Unlock()
	select {
	case <-tp.ready:
	case <-ctx.Done():
		p.release(tp)
		return nil, ctx.Err()
	}
	if tp.err != nil {
		p.release(tp)
		return nil, tp.err
	}
	return tp, nil
}

// release ends a request's use of a pool.
func (p *pools) release(tp *tenantPool) {
	p.mu.Lock()
	tp.active--
	closeNow := tp.evicted && tp.active == 0
	p.mu.Unlock()
	if closeNow && tp.pool != nil {
		go tp.pool.Close()
	}
}

// trim evicts least recently used pools beyond max; it returns the ones
// that can close now. Callers hold mu.
func (p *pools) trim() []*tenantPool {
	var out []*tenantPool
	for p.lru.Len() > p.max {
		tp := p.lru.Back().Value.(*tenantPool)
		if v := p.evict(tp); v != nil {
			out = append(out, v)
		}
	}
	return out
}

// evict takes tp out of the set; it returns tp when nobody uses it, so the
// caller closes it outside the lock.
func (p *pools) evict(tp *tenantPool) *tenantPool {
	p.remove(tp)
	tp.evicted = true
	if tp.active == 0 {
		return tp
	}
	return nil
}

func (p *pools) remove(tp *tenantPool) {
	if p.byID[tp.id] == tp {
		delete(p.byID, tp.id)
	}
	if tp.elem != nil {
		p.lru.Remove(tp.elem)
		tp.elem = nil
	}
}

// drop closes an instance's pool (it was deleted or changed), after its
// requests end.
func (p *pools) drop(id string) {
	p.mu.Lock()
	var victim *tenantPool
	if tp, ok := p.byID[id]; ok {
		victim = p.evict(tp)
	}
	p.mu.Unlock()
	closeAll([]*tenantPool{victim})
}

// dropAll closes every pool (notifications may have been missed), each
// after its requests end.
func (p *pools) dropAll() {
	p.mu.Lock()
	var victims []*tenantPool
	for _, tp := range p.byID {
		if v := p.evict(tp); v != nil {
			victims = append(victims, v)
		}
	}
	p.mu.Unlock()
	closeAll(victims)
}

// sweep closes pools idle for longer than idle.
func (p *pools) sweep() {
	cutoff := p.now().Add(-p.idle)
	p.mu.Lock()
	var victims []*tenantPool
	for e := p.lru.Back(); e != nil; {
		tp := e.Value.(*tenantPool)
		e = e.Prev()
		if tp.active > 0 || tp.lastUsed.After(cutoff) {
			break
		}
		victims = append(victims, p.evict(tp))
	}
	p.mu.Unlock()
	closeAll(victims)
}

// closeAll closes every pool, for shutdown.
func (p *pools) closeAll() {
	p.mu.Lock()
	var victims []*tenantPool
	for _, tp := range p.byID {
		victims = append(victims, p.evict(tp))
	}
	p.mu.Unlock()
	closeAll(victims)
}

// size is how many pools are open (for tests).
func (p *pools) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.byID)
}

func closeAll(tps []*tenantPool) {
	for _, tp := range tps {
		if tp == nil {
			continue
		}
		go func() {
			<-tp.ready
			if tp.pool != nil {
				tp.pool.Close()
			}
		}()
	}
}
