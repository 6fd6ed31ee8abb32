package dbserver

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/secret"
)

// Pools keeps one small admin pool per database server, opened on first
// use from the server's encrypted admin DSN.
type Pools struct {
	db     *pgxpool.Pool
	cipher *secret.Cipher
	mu     sync.Mutex
	pools  map[string]*pgxpool.Pool
}

// NewPools reads the servers' sealed admin DSNs from the control database db.
func NewPools(db *pgxpool.Pool, cipher *secret.Cipher) *Pools {
	return &Pools{db: db, cipher: cipher, pools: map[string]*pgxpool.Pool{}}
}

// Admin returns the admin pool of server id.
func (s *Pools) Admin(ctx context.Context, id string) (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pools[id]; ok {
		return p, nil
	}
	var sealed []byte
	err := s.db.QueryRow(ctx, `SELECT admin_dsn_encrypted FROM database_servers WHERE id = $1`, id).Scan(&sealed)
	if err == pgx.ErrNoRows {
		return nil, apperr.NotFound("database server %s is not registered", id)
	}
	if err != nil {
		return nil, err
	}
	dsn, err := s.cipher.Open(sealed, controldb.ServerAAD(id))
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(string(dsn))
	if err != nil {
		return nil, fmt.Errorf("database server %s: bad admin DSN", id)
	}
	cfg.MaxConns = 4
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.pools[id] = p
	return p, nil
}

// Connect opens one admin connection of server id to one of its
// databases (a tenant's, to copy or count it).
func (s *Pools) Connect(ctx context.Context, id, database string) (*pgx.Conn, error) {
	admin, err := s.Admin(ctx, id)
	if err != nil {
		return nil, err
	}
	cfg := admin.Config().ConnConfig.Copy()
	cfg.Database = database
	return pgx.ConnectConfig(ctx, cfg)
}

// Forget closes server id's pool, so the next use reads its admin DSN
// again (it was registered anew).
func (s *Pools) Forget(id string) {
	s.mu.Lock()
	p, ok := s.pools[id]
	delete(s.pools, id)
	s.mu.Unlock()
	if ok {
		p.Close()
	}
}

// Close closes every admin pool.
func (s *Pools) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.pools {
		p.Close()
		delete(s.pools, id)
	}
}

// Register registers (or updates) a server named by the configuration at
// start-up (`local`, the dev stack's extra clusters) and closes it to
// tenants (ClosePublic). It returns the databases it could not close.
func Register(ctx context.Context, pools *Pools, name, adminDSN string) (id string, open []string, err error) {
	if id, err = controldb.RegisterServer(ctx, pools.db, pools.cipher, name, adminDSN); err != nil {
		return id, nil, err
	}
	pools.Forget(id) // its DSN may have changed
	admin, err := pools.Admin(ctx, id)
	if err != nil {
		return id, nil, err
	}
	open, err = ClosePublic(ctx, admin)
	return id, open, err
}
