package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tenantry/internal/config"
	"tenantry/internal/secret"
)

// load reads kv ("KEY=value" entries) with no Temporal config file, so the
// machine's own ~/.config/temporalio/temporal.toml cannot leak in.
func load(t *testing.T, kv ...string) (config.Config, error) {
	t.Helper()
	env := append([]string{"TEMPORAL_CONFIG_FILE=" + filepath.Join(t.TempDir(), "none.toml")}, kv...)
	return config.Load(env)
}

func mustLoad(t *testing.T, kv ...string) config.Config {
	t.Helper()
	c, err := load(t, kv...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t)
	if c.Listen != "127.0.0.1:8080" || c.RouterListen != "127.0.0.1:8000" || c.StateDir != ".state" || c.TemporalPort != 7233 ||
		c.TemporalServer != "dev" {
		t.Errorf("listeners and dev settings: %+v", c)
	}
	if c.DatabaseURL != "" || c.TenantServerURL != "" || c.SecretKey != "" || c.TemporalUI != "" {
		t.Errorf("no default for the servers, key or UI: %+v", c)
	}
	if c.GracePeriod != 0 || c.SetupTimeout != 0 || c.BillingPeriod != 0 || c.MoveGrace != 0 || c.SecureCookies {
		t.Errorf("zero keeps the workflows' defaults: %+v", c)
	}
	if c.DevDBServers != 1 {
		t.Errorf("dev starts one database server: %d", c.DevDBServers)
	}
	if c.Temporal.HostPort != "" || c.Namespace() != "default" || c.TemporalAddress() != "localhost:7233" {
		t.Errorf("Temporal: host %q namespace %q address %q", c.Temporal.HostPort, c.Namespace(), c.TemporalAddress())
	}
}

func TestEverySetting(t *testing.T) {
	key := secret.NewKey()
	c := mustLoad(t,
		"DATABASE_URL=postgres://control", "TENANT_SERVER_URL=postgres://tenants",
		"TENANTRY_SECRET_KEY="+key, "TENANTRY_LISTEN=0.0.0.0:9090", "TENANTRY_ROUTER_LISTEN=0.0.0.0:9000",
		"TENANTRY_ADMIN_LISTEN=127.0.0.1:9100", "TENANTRY_STATE_DIR=/tmp/state", "TENANTRY_TEMPORAL_PORT=17233", "TENANTRY_TEMPORAL_UI=https://ui.example/",
		"TENANTRY_GRACE_PERIOD=2m", "TENANTRY_SETUP_TIMEOUT=90s", "TENANTRY_BILLING_PERIOD=1m",
		"TENANTRY_SECURE_COOKIES=1", "TENANTRY_BUILD_ID=b42", "TENANTRY_TEMPORAL=cluster",
		"TENANTRY_MOVE_GRACE=10s", "TENANTRY_DEV_DB_SERVERS=2",
		"TENANTRY_URL=https://tenantry.example/", "TENANTRY_TOKEN=tnt_secret")
	want := config.Config{BuildID: "b42", ClientURL: "https://tenantry.example", ClientToken: "tnt_secret",
		DatabaseURL: "postgres://control", TenantServerURL: "postgres://tenants", SecretKey: key,
		Listen: "0.0.0.0:9090", RouterListen: "0.0.0.0:9000", AdminListen: "127.0.0.1:9100", StateDir: "/tmp/state", TemporalPort: 17233, TemporalServer: "cluster",
		TemporalUI: "https://ui.example", GracePeriod: 2 * time.Minute, SetupTimeout: 90 * time.Second,
		BillingPeriod: time.Minute, SecureCookies: true, MoveGrace: 10 * time.Second, DevDBServers: 2,
	}
	c.Temporal = want.Temporal
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestSecureCookiesFalseIsFalse(t *testing.T) {
	if c := mustLoad(t, "TENANTRY_SECURE_COOKIES=false"); c.SecureCookies {
		t.Error("TENANTRY_SECURE_COOKIES=false turned secure cookies on")
	}
}

func TestBadValuesNameTheirVariable(t *testing.T) {
	for _, kv := range []string{
		"TENANTRY_GRACE_PERIOD=7d",
		"TENANTRY_SETUP_TIMEOUT=-1h",
		"TENANTRY_BILLING_PERIOD=monthly",
		"TENANTRY_TEMPORAL_PORT=http",
		"TENANTRY_TEMPORAL_PORT=65000",
		"TENANTRY_SECURE_COOKIES=yes please",
		"TENANTRY_SECRET_KEY=not-a-key",
		"TENANTRY_TEMPORAL=sqlite",
		"TENANTRY_MOVE_GRACE=a day",
		"TENANTRY_DEV_DB_SERVERS=0",
		"TENANTRY_DEV_DB_SERVERS=many",
		"TENANTRY_URL=127.0.0.1:8080",
		"TENANTRY_URL=ftp://tenantry.example",
		"TENANTRY_URL=https://tenantry.example/?x=1",
	} {
		t.Run(kv, func(t *testing.T) {
			_, err := load(t, kv)
			name, _, _ := strings.Cut(kv, "=")
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("error %v does not name %s", err, name)
			}
		})
	}
}

func TestEveryBadValueReportedAtOnce(t *testing.T) {
	_, err := load(t, "TENANTRY_GRACE_PERIOD=soon", "TENANTRY_SETUP_TIMEOUT=later")
	if err == nil || !strings.Contains(err.Error(), "TENANTRY_GRACE_PERIOD") || !strings.Contains(err.Error(), "TENANTRY_SETUP_TIMEOUT") {
		t.Fatalf("want both variables named, got %v", err)
	}
}

func TestRequirePerCommand(t *testing.T) {
	empty := mustLoad(t)
	if err := empty.Require(config.Dev); err != nil {
		t.Errorf("dev starts its own PostgreSQL and keeps its own key: %v", err)
	}
	for _, cmd := range []config.Command{config.Worker, config.Web, config.Router} {
		err := empty.Require(cmd)
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || !strings.Contains(err.Error(), "TENANTRY_SECRET_KEY") {
			t.Errorf("%s: want both variables named, got %v", cmd, err)
		}
	}
	noKey := mustLoad(t, "DATABASE_URL=postgres://control")
	if err := noKey.Require(config.Worker); err == nil || strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("worker without key: want only the key named, got %v", err)
	}
	full := mustLoad(t, "DATABASE_URL=postgres://control", "TENANTRY_SECRET_KEY="+secret.NewKey())
	for _, cmd := range []config.Command{config.Dev, config.Worker, config.Web, config.Router} {
		if err := full.Require(cmd); err != nil {
			t.Errorf("%s: %v", cmd, err)
		}
	}
	if err := full.Require("migrate"); err == nil {
		t.Error("an unknown command passed")
	}
}

func TestTemporalFromEnvironment(t *testing.T) {
	c := mustLoad(t, "TEMPORAL_ADDRESS=tenantry.a1b2c.tmprl.cloud:7233", "TEMPORAL_NAMESPACE=tenantry.a1b2c",
		"TEMPORAL_API_KEY=secret-api-key", "TEMPORAL_TLS_SERVER_NAME=tenantry.example",
		"TEMPORAL_GRPC_META_X_TEAM=billing")
	if c.Temporal.HostPort != "tenantry.a1b2c.tmprl.cloud:7233" || c.TemporalAddress() != c.Temporal.HostPort {
		t.Errorf("address: %q", c.Temporal.HostPort)
	}
	if c.Temporal.Namespace != "tenantry.a1b2c" || c.Namespace() != "tenantry.a1b2c" {
		t.Errorf("namespace: %q", c.Temporal.Namespace)
	}
	if c.Temporal.Credentials == nil {
		t.Error("TEMPORAL_API_KEY gave no credentials")
	}
	if tls := c.Temporal.ConnectionOptions.TLS; tls == nil || tls.ServerName != "tenantry.example" {
		t.Errorf("TLS: %+v", tls)
	}
	if c.Temporal.HeadersProvider == nil {
		t.Error("TEMPORAL_GRPC_META_* gave no headers")
	}
}

func TestTemporalProfileFromConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.toml")
	toml := `
[profile.default]
address = "127.0.0.1:7233"

[profile.staging]
address = "temporal.staging.internal:7233"
namespace = "tenantry-staging"
`
	if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load([]string{"TEMPORAL_CONFIG_FILE=" + file, "TEMPORAL_PROFILE=staging"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Temporal.HostPort != "temporal.staging.internal:7233" || c.Namespace() != "tenantry-staging" {
		t.Errorf("profile staging: %q %q", c.Temporal.HostPort, c.Namespace())
	}
	// The environment wins over the file.
	c, err = config.Load([]string{"TEMPORAL_CONFIG_FILE=" + file, "TEMPORAL_PROFILE=staging", "TEMPORAL_NAMESPACE=other"})
	if err != nil || c.Namespace() != "other" {
		t.Errorf("TEMPORAL_NAMESPACE over the profile: %q, %v", c.Namespace(), err)
	}
	_, err = config.Load([]string{"TEMPORAL_CONFIG_FILE=" + file, "TEMPORAL_PROFILE=prod"})
	if err == nil || !strings.Contains(err.Error(), "TEMPORAL_PROFILE") || !strings.Contains(err.Error(), "prod") {
		t.Errorf("unknown profile: %v", err)
	}
}
