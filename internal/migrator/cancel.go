package migrator

import (
	"context"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// cancellers are the server connections a migration opened.
type cancellers struct {
	mu    sync.Mutex
	conns []*pgconn.PgConn
}

func (c *cancellers) add(pc *pgconn.PgConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns = append(c.conns, pc)
}

// cancel asks the server to cancel whatever each connection runs; a
// connection that runs nothing ignores it.
func (c *cancellers) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pc := range c.conns {
		_ = pc.CancelRequest(context.Background())
	}
}
