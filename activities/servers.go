package activities

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

// ServerPools keeps one small admin pool per database server, opened on
// first use from the server's encrypted admin DSN.
type ServerPools struct {
	db     *pgxpool.Pool
	cipher *secret.Cipher
	mu     sync.Mutex
	pools  map[string]*pgxpool.Pool
}

func NewServerPools(db *pgxpool.Pool, cipher *secret.Cipher) *ServerPools {
	return &ServerPools{db: db, cipher: cipher, pools: map[string]*pgxpool.Pool{}}
}

// Admin returns the admin pool of server id.
func (s *ServerPools) Admin(ctx context.Context, id string) (*pgxpool.Pool, error) {
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

// Close closes every admin pool.
func (s *ServerPools) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.pools {
		p.Close()
		delete(s.pools, id)
	}
}
