// Package config owns Tenantry's settings: it reads the environment once,
// for every command (`dev` included), into one typed Config, and says in one
// place what each command requires. The Temporal client options come from
// the SDK's own environment configuration (go.temporal.io/sdk/contrib/envconfig:
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
// TEMPORAL_PROFILE and its config file), so the same binary runs against the
// dev server, a self-hosted cluster or Temporal Cloud.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"tenantry/internal/buildinfo"
	"tenantry/internal/secret"
)

// The environment variables Tenantry reads itself (the TEMPORAL_* ones are
// read by envconfig).
const (
	DatabaseURLEnv     = "DATABASE_URL"
	TenantServerURLEnv = "TENANT_SERVER_URL"
	SecretKeyEnv       = secret.KeyEnv
	ListenEnv          = "TENANTRY_LISTEN"
	RouterListenEnv    = "TENANTRY_ROUTER_LISTEN"
	AdminListenEnv     = "TENANTRY_ADMIN_LISTEN"
	StateDirEnv        = "TENANTRY_STATE_DIR"
	TemporalPortEnv    = "TENANTRY_TEMPORAL_PORT"
	TemporalUIEnv      = "TENANTRY_TEMPORAL_UI"
	TemporalServerEnv  = "TENANTRY_TEMPORAL"
	GracePeriodEnv     = "TENANTRY_GRACE_PERIOD"
	SetupTimeoutEnv    = "TENANTRY_SETUP_TIMEOUT"
	BillingPeriodEnv   = "TENANTRY_BILLING_PERIOD"
	SecureCookiesEnv   = "TENANTRY_SECURE_COOKIES"
	BuildIDEnv         = "TENANTRY_BUILD_ID"
	MoveGraceEnv       = "TENANTRY_MOVE_GRACE"
	DevDBServersEnv    = "TENANTRY_DEV_DB_SERVERS"
	ClientURLEnv       = "TENANTRY_URL"
	ClientTokenEnv     = "TENANTRY_TOKEN"
)

// Defaults of the settings that have one.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultRouterListen = "127.0.0.1:8000"
	DefaultStateDir     = ".state"
	DefaultTemporalPort = 7233
	// TemporalDev and TemporalCluster are the Temporal servers the dev
	// command can start (TENANTRY_TEMPORAL): the CLI's single-process dev
	// server on SQLite, or the real server persisted in PostgreSQL.
	TemporalDev     = "dev"
	TemporalCluster = "cluster"
	// DefaultClientURL is the server of the client commands when none is
	// named or saved: the dev stack's web server.
	DefaultClientURL = "http://" + DefaultListen
	// TemporalUIOffset: the dev command's Temporal Web UI listens on
	// TemporalPort + TemporalUIOffset.
	TemporalUIOffset = 1000
)

// Config is every setting of every command.
type Config struct {
	// DatabaseURL is the control database (DATABASE_URL). The dev command
	// starts a private PostgreSQL when it is empty.
	DatabaseURL string
	// TenantServerURL is the admin DSN of the server that gets tenant
	// databases, registered as "local" (TENANT_SERVER_URL); empty means
	// DatabaseURL's server.
	TenantServerURL string
	// SecretKey is the base64 AES-256 key for tenant credentials
	// (TENANTRY_SECRET_KEY). The dev command keeps one in StateDir when it is
	// empty.
	SecretKey string
	// BuildID names this binary's build in heartbeats (TENANTRY_BUILD_ID
	// overrides the VCS revision the Go toolchain recorded).
	BuildID string
	// Listen is the web server's address (TENANTRY_LISTEN); "127.0.0.1:0"
	// picks a port.
	Listen string
	// RouterListen is the host router's address for tenant traffic
	// (TENANTRY_ROUTER_LISTEN); "127.0.0.1:0" picks a port.
	RouterListen string
	// AdminListen is the operators' listener (TENANTRY_ADMIN_LISTEN):
	// /metrics (Prometheus), /healthz and /readyz, in every command that
	// sets it; empty runs none. It is never the tenants' listener.
	AdminListen string
	// StateDir holds the dev command's databases, logs and key
	// (TENANTRY_STATE_DIR).
	StateDir string
	// TemporalPort is the gRPC port of the dev server that the dev command
	// starts (TENANTRY_TEMPORAL_PORT); its UI is on TemporalPort + 1000.
	TemporalPort int
	// TemporalServer is what the dev command starts when no Temporal
	// address is configured: TemporalDev or TemporalCluster
	// (TENANTRY_TEMPORAL).
	TemporalServer string
	// TemporalUI is the Temporal Web UI's base URL, linked from the
	// developers' pages (TENANTRY_TEMPORAL_UI); the dev command sets it to
	// its dev server's UI.
	TemporalUI string
	// GracePeriod and SetupTimeout shorten the workflows' defaults
	// (TENANTRY_GRACE_PERIOD, TENANTRY_SETUP_TIMEOUT); zero keeps them.
	GracePeriod  time.Duration
	SetupTimeout time.Duration
	// BillingPeriod shortens billing periods (TENANTRY_BILLING_PERIOD);
	// zero is calendar months in UTC.
	BillingPeriod time.Duration
	// MoveGrace is how long a moved instance's old copy is kept before it
	// is dropped (TENANTRY_MOVE_GRACE); zero keeps the workflow's default.
	MoveGrace time.Duration
	// DevDBServers is how many database servers the dev command starts
	// for tenants (TENANTRY_DEV_DB_SERVERS, default 1): the first is the
	// control database's, each other its own private cluster.
	DevDBServers int
	// SecureCookies marks the console's session cookie Secure, for a
	// console served over TLS (TENANTRY_SECURE_COOKIES).
	SecureCookies bool
	// ClientURL is the server the client commands talk to (TENANTRY_URL,
	// without a trailing slash); empty means the one saved at the last
	// login, else DefaultClientURL.
	ClientURL string
	// ClientToken is the bearer token the client commands send
	// (TENANTRY_TOKEN: a login or API token); empty means the one saved
	// for the server at login.
	ClientToken string
	// Temporal are the client options envconfig loaded. An empty HostPort
	// means none was configured: the SDK dials client.DefaultHostPort, and
	// the dev command starts its own dev server.
	Temporal client.Options
}

// Namespace is the configured Temporal namespace, or the SDK's default.
func (c Config) Namespace() string {
	if c.Temporal.Namespace != "" {
		return c.Temporal.Namespace
	}
	return client.DefaultNamespace
}

// TemporalAddress is the Temporal frontend the client dials.
func (c Config) TemporalAddress() string {
	if c.Temporal.HostPort != "" {
		return c.Temporal.HostPort
	}
	return client.DefaultHostPort
}

// Command is one of the tenantry commands.
type Command string

// The commands.
const (
	Dev    Command = "dev"
	Worker Command = "worker"
	Web    Command = "web"
	Router Command = "router"
)

// FromEnv reads the process's environment.
func FromEnv() (Config, error) { return Load(os.Environ()) }

// Load reads the settings from environ ("KEY=value" entries, as
// os.Environ gives), with the defaults for what is unset or empty. Every bad
// value is reported, each naming its variable.
func Load(environ []string) (Config, error) {
	env := newEnv(environ)
	c := Config{
		DatabaseURL:     env.get(DatabaseURLEnv),
		TenantServerURL: env.get(TenantServerURLEnv),
		SecretKey:       env.get(SecretKeyEnv),
		Listen:          env.getOr(ListenEnv, DefaultListen),
		RouterListen:    env.getOr(RouterListenEnv, DefaultRouterListen),
		AdminListen:     env.get(AdminListenEnv),
		StateDir:        env.getOr(StateDirEnv, DefaultStateDir),
		TemporalServer:  strings.ToLower(env.getOr(TemporalServerEnv, TemporalDev)),
		TemporalUI:      strings.TrimRight(env.get(TemporalUIEnv), "/"),
		BuildID:         buildinfo.ID(env.get(BuildIDEnv)),
		ClientToken:     env.get(ClientTokenEnv),
	}
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.SecretKey != "" {
		if _, err := secret.NewCipher(c.SecretKey); err != nil {
			collect(err)
		}
	}
	if c.TemporalServer != TemporalDev && c.TemporalServer != TemporalCluster {
		collect(fmt.Errorf("%s=%q: want %s (the CLI's dev server) or %s (the Temporal server on PostgreSQL)",
			TemporalServerEnv, c.TemporalServer, TemporalDev, TemporalCluster))
	}
	var err error
	c.TemporalPort, err = port(env, TemporalPortEnv, DefaultTemporalPort)
	collect(err)
	c.GracePeriod, err = duration(env, GracePeriodEnv)
	collect(err)
	c.SetupTimeout, err = duration(env, SetupTimeoutEnv)
	collect(err)
	c.BillingPeriod, err = duration(env, BillingPeriodEnv)
	collect(err)
	c.SecureCookies, err = boolean(env, SecureCookiesEnv)
	collect(err)
	c.MoveGrace, err = duration(env, MoveGraceEnv)
	collect(err)
	c.DevDBServers, err = count(env, DevDBServersEnv, 1, 8)
	collect(err)
	c.ClientURL, err = ServerURL(env.get(ClientURLEnv))
	if err != nil {
		collect(fmt.Errorf("%s: %w", ClientURLEnv, err))
	}
	c.Temporal, err = envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{EnvLookup: env})
	if err != nil {
		collect(fmt.Errorf("Temporal client configuration (TEMPORAL_* variables, TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE): %w", err))
	}
	return c, errors.Join(errs...)
}

// Require checks what cmd needs: the worker, the web server and the router
// need the control database and the secret key; dev fills both itself (its
// private PostgreSQL and StateDir/secret-key) when they are unset.
func (c Config) Require(cmd Command) error {
	switch cmd {
	case Dev:
		return nil
	case Worker, Web, Router:
		var missing []string
		if c.DatabaseURL == "" {
			missing = append(missing, DatabaseURLEnv)
		}
		if c.SecretKey == "" {
			missing = append(missing, SecretKeyEnv)
		}
		if len(missing) > 0 {
			return fmt.Errorf("tenantry %s needs %s set", cmd, strings.Join(missing, " and "))
		}
		return nil
	default:
		return fmt.Errorf("unknown command %q", string(cmd))
	}
}

// ServerURL checks the base URL of a Tenantry web server (the client
// commands' TENANTRY_URL and --url): http or https, a host, no query; the
// trailing slash is dropped. Empty stays empty.
func ServerURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want the web server's base URL, such as %s", v, DefaultClientURL)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// env is the environment as envconfig looks it up too.
type env struct {
	environ []string
	values  map[string]string
}

func newEnv(environ []string) env {
	e := env{environ: environ, values: make(map[string]string, len(environ))}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			e.values[k] = v
		}
	}
	return e
}

func (e env) Environ() []string { return e.environ }

func (e env) LookupEnv(key string) (string, bool) {
	v, ok := e.values[key]
	return v, ok
}

func (e env) get(key string) string { return strings.TrimSpace(e.values[key]) }

func (e env) getOr(key, def string) string {
	if v := e.get(key); v != "" {
		return v
	}
	return def
}

func port(e env, key string, def int) (int, error) {
	v := e.get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n+TemporalUIOffset > 65535 {
		return 0, fmt.Errorf("%s=%q: want a port number from 1 to %d (the UI listens %d above it)",
			key, v, 65535-TemporalUIOffset, TemporalUIOffset)
	}
	return n, nil
}

func count(e env, key string, def, max int) (int, error) {
	v := e.get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%s=%q: want a number from 1 to %d", key, v, max)
	}
	return n, nil
}

func duration(e env, key string) (time.Duration, error) {
	v := e.get(key)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 90s, 15m or 168h, not negative", key, v)
	}
	return d, nil
}

func boolean(e env, key string) (bool, error) {
	v := e.get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want 1, true, 0 or false", key, v)
	}
	return b, nil
}

// list reads a comma-separated list of emails, lower-cased.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			out = append(out, s)
		}
	}
	return out
}
