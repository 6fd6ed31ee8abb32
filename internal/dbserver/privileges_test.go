package dbserver_test

import (
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"tenantry/internal/dbserver"
	"tenantry/internal/testenv"
)

// Sessions granting and revoking on one database at once collide on its
// catalog row ("tuple concurrently updated"); ExecPrivileges tries again,
// so none of them fails.
func TestPrivilegeChangesAtOnceDoNotFail(t *testing.T) {
	url := testenv.NewDatabase(t, "acl_")
	cfg, err := pgx.ParseConfig(url)
	require.NoError(t, err)
	name := pgx.Identifier{cfg.Database}.Sanitize()
	const sessions, rounds = 4, 40
	errs := make(chan error, sessions*rounds)
	var wg sync.WaitGroup
	for i := range sessions {
		conn := superuser(t, cfg.Database)
		wg.Go(func() {
			for r := range rounds {
				stmt := "REVOKE CONNECT, TEMPORARY ON DATABASE " + name + " FROM PUBLIC"
				if (i+r)%2 == 0 {
					stmt = "GRANT CONNECT ON DATABASE " + name + " TO PUBLIC"
				}
				errs <- dbserver.ExecPrivileges(ctx, conn, stmt)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
