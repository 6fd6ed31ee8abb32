package controldb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/secret"
)

// TenantConfig returns the connection settings of an instance's own
// database with its own (decrypted) credentials, and the instance's service.
func TenantConfig(ctx context.Context, q Querier, cipher *secret.Cipher, cat *catalog.Catalog, instanceID string) (*pgx.ConnConfig, *catalog.Service, error) {
	var host, database, role, service string
	var port int
	var sealed []byte
	err := q.QueryRow(ctx, `
		SELECT s.host, s.port, i.database_name, i.role_name, i.credentials_encrypted, i.service
		FROM instances i JOIN database_servers s ON s.id = i.database_server_id
		WHERE i.id = $1 AND i.credentials_encrypted IS NOT NULL`, instanceID).
		Scan(&host, &port, &database, &role, &sealed, &service)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, apperr.NotFound("instance %s has no database", instanceID)
	}
	if err != nil {
		return nil, nil, err
	}
	password, err := cipher.Open(sealed, CredentialsAAD(instanceID))
	if err != nil {
		return nil, nil, err
	}
	svc, err := cat.Service(service)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d sslmode=prefer", host, port))
	if err != nil {
		return nil, nil, err
	}
	cfg.Database, cfg.User, cfg.Password = database, role, string(password)
	return cfg, svc, nil
}

// CredentialsAAD binds an instance's sealed database password to the
// instance.
func CredentialsAAD(instanceID string) []byte { return []byte("instance:" + instanceID) }

// BindingAAD binds a broker binding's sealed password to the binding.
func BindingAAD(bindingID string) []byte { return []byte("binding:" + bindingID) }
