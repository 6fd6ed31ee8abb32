package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"tenantry/internal/config"
	"tenantry/internal/secret"
	"tenantry/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The first developer is granted from a shell, against the control
// database; bad input says what to fix and changes nothing.
func TestGrantCommand(t *testing.T) {
	c := testenv.NewControl(t)
	ctx := context.Background()
	account := c.Account(t, "Acme")
	c.AddMember(t, account, "ada@acme.test", secret.HashPassword("correct horse battery"), "member")
	cfg := config.Config{DatabaseURL: c.URL}
	var out bytes.Buffer
	grant := func(args ...string) error {
		cmd := grantCommand(func() (config.Config, error) { return cfg, nil })
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		return cmd.ExecuteContext(ctx)
	}
	if err := grant("--email", "Ada@Acme.test", "--role", "developer"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ada@acme.test") || !strings.Contains(out.String(), "developer") {
		t.Fatalf("output: %q", out.String())
	}
	// Granting again is a no-op, not an error.
	if err := grant("--email", "ada@acme.test", "--role", "developer"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"--email", "ada@acme.test", "--role", "owner"},
		{"--email", "nobody@acme.test", "--role", "developer"},
		{"--email", "ada@acme.test"},
		{"--email", "ada@acme.test", "--role", "developer", "extra"},
	} {
		if err := grant(bad...); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
	var grants int
	if err := c.DB.QueryRow(ctx, `SELECT count(*) FROM grants g JOIN users u ON u.id = g.user_id
		WHERE u.email = 'ada@acme.test' AND g.account_id IS NULL`).Scan(&grants); err != nil {
		t.Fatal(err)
	}
	if grants != 1 {
		t.Fatalf("ada holds %d platform grants, want 1 (developer)", grants)
	}
}
