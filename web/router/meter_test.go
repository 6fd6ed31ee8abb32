package router

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"tenantry/activities"
	"tenantry/internal/secret"
	"tenantry/internal/testenv"
)

func TestMeterFlushesEachWindowOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testenv.NewControl(t)
	acc, user, id := uuid.NewString(), uuid.NewString(), uuid.NewString()
	_, err := c.Acts.CreateAccount(ctx, activities.CreateAccountInput{AccountID: acc, UserID: user,
		Email: "m-" + user[:8] + "@example.com", Name: "Owner", AccountName: "Acme", PasswordHash: secret.HashPassword("meter test password")})
	require.NoError(t, err)
	_, err = c.Acts.ReserveInstance(ctx, activities.ReserveInstanceInput{InstanceID: id, AccountID: acc, Service: "forum", Host: "m.localhost"})
	require.NoError(t, err)
	total := func() (n int64) {
		require.NoError(t, c.DB.QueryRow(ctx, `SELECT coalesce(sum(count), 0)::bigint FROM usage_counts WHERE instance_id = $1`, id).Scan(&n))
		return n
	}

	m := newMeter(c.DB, "router-1", slog.Default())
	m.add(id, MetricRequests, 3)
	m.add(uuid.NewString(), MetricRequests, 1) // an instance that does not exist is skipped, not fatal

	// The database is unreachable: the window stays pending.
	down, err := pgxpool.New(ctx, c.URL)
	require.NoError(t, err)
	down.Close()
	m.db = down
	require.Error(t, m.flush(ctx))
	m.add(id, MetricRequests, 2) // the next window
	m.db = c.DB
	m.cut()
	require.Len(t, m.pending, 2)
	sent := slices.Clone(m.pending)
	require.NoError(t, m.flush(ctx))
	assert.EqualValues(t, 5, total())

	// The flush committed but its answer was lost: the retry sends the
	// same keys and counts nothing twice.
	m.pending = sent
	require.NoError(t, m.flush(ctx))
	assert.EqualValues(t, 5, total())

	// Another router's counts for the same instance add up.
	other := newMeter(c.DB, "router-2", slog.Default())
	other.add(id, MetricRequests, 4)
	require.NoError(t, other.flush(ctx))
	assert.EqualValues(t, 9, total())
}
