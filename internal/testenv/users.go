package testenv

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"tenantry/internal/access"
)

// AddMember adds a user to an account with a role; it returns the user's
// ID. A platform role ("developer", "billing-operator") makes the user the
// account's owner and gives them the platform role, as the grants
// migration does for the old developer role.
func (c *Control) AddMember(tb testing.TB, accountID, email, passwordHash, role string) string {
	tb.Helper()
	ctx := context.Background()
	id := uuid.NewString()
	if _, err := c.DB.Exec(ctx, `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Someone', $3)`,
		id, email, passwordHash); err != nil {
		tb.Fatal(err)
	}
	accountRole := role
	if access.IsPlatformRole(role) {
		accountRole = "owner"
		c.GrantPlatform(tb, id, role)
	}
	if _, err := c.DB.Exec(ctx, `INSERT INTO grants (user_id, role, account_id) VALUES ($1, $2, $3)`, id, accountRole, accountID); err != nil {
		tb.Fatal(err)
	}
	return id
}

// GrantPlatform gives a user a platform role.
func (c *Control) GrantPlatform(tb testing.TB, userID, role string) {
	tb.Helper()
	if _, err := c.DB.Exec(context.Background(), `INSERT INTO grants (user_id, role) VALUES ($1, $2)`, userID, role); err != nil {
		tb.Fatal(err)
	}
}

// Account adds an account and returns its ID.
func (c *Control) Account(tb testing.TB, name string) string {
	tb.Helper()
	id := uuid.NewString()
	if _, err := c.DB.Exec(context.Background(), `INSERT INTO accounts (id, name) VALUES ($1, $2)`, id, name); err != nil {
		tb.Fatal(err)
	}
	return id
}
