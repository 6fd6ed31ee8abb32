package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/config"
	"tenantry/internal/testenv"
)

// An operator registers, lists, drains, activates and checks servers from
// a shell; the admin URL comes on stdin and is never printed.
func TestServersCommand(t *testing.T) {
	c := testenv.NewControl(t)
	ctx := context.Background()
	cfg := config.Config{DatabaseURL: c.URL, SecretKey: c.Key}
	second := testenv.SecondServerURL(t)
	pw, err := pgx.ParseConfig(second)
	if err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		cmd := serversCommand(func() (config.Config, error) { return cfg, nil })
		cmd.SetArgs(args)
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.ExecuteContext(ctx)
		if strings.Contains(out.String(), pw.Password) {
			t.Fatalf("%v printed the admin password: %s", args, out.String())
		}
		return out.String(), err
	}
	out, err := run(second+"\n", "add", "--name", "pg-two", "--capacity", "50")
	if err != nil || !strings.Contains(out, "pg-two is registered") {
		t.Fatalf("add: %v %s", err, out)
	}
	if _, err := run(second, "add", "--name", "pg-two"); err == nil {
		t.Error("a second pg-two was registered")
	}
	if _, err := run("", "add", "--name", "pg-three"); err == nil {
		t.Error("registered without an admin URL")
	}
	out, err = run("", "drain", "pg-two")
	if err != nil || !strings.Contains(out, "pg-two is draining") {
		t.Fatalf("drain: %v %s", err, out)
	}
	out, err = run("", "list")
	if err != nil || !strings.Contains(out, "local") || !strings.Contains(out, "draining") || !strings.Contains(out, "0 of 50") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err = run("", "activate", "pg-two"); err != nil || !strings.Contains(out, "pg-two is active") {
		t.Fatalf("activate: %v %s", err, out)
	}
	if out, err = run("", "check", "pg-two"); err != nil || !strings.Contains(out, "passed its check") {
		t.Fatalf("check: %v %s", err, out)
	}
	if _, err := run("", "check", "nowhere"); err == nil {
		t.Error("checked a server that does not exist")
	}
	var active bool
	if err := c.DB.QueryRow(ctx, `SELECT active FROM database_servers WHERE name = 'pg-two'`).Scan(&active); err != nil || !active {
		t.Fatalf("pg-two active=%v: %v", active, err)
	}
}
