// Package web puts Tenantry's front ends together on one gin engine: the
// JSON API (web/api), the console (web/console) and who asks (web/auth),
// all over the platform layer (internal/platform). The host router
// (web/router) and the services' own pages run apart, on tenant hosts. The
// Open Service Broker API (web/broker) is served under /v2.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/health"
	"tenantry/internal/metrics"
	"tenantry/internal/platform"
	"tenantry/web/api"
	"tenantry/web/auth"
	"tenantry/web/broker"
	"tenantry/web/console"
	"tenantry/web/secure"
)

// Server serves the API and the console.
type Server struct {
	Platform *platform.Platform
	// SecureCookies marks the console's session cookie Secure: set it when
	// the console is served over TLS.
	SecureCookies bool
	Log           *slog.Logger
	// Ready answers /readyz (health.Ready over this process's
	// dependencies).
	Ready http.Handler

	auth   *auth.Auth
	engine *gin.Engine
}

// Handler builds the engine; Close stops what it started.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	p := s.Platform
	s.auth = auth.New(p, auth.Options{DB: p.DB, SecureCookies: s.SecureCookies, Clock: p.Clock, Log: s.Log})
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// The address is the peer's: X-Forwarded-For is trusted from no proxy,
	// so it cannot dodge the login rate limit.
	_ = r.SetTrustedProxies(nil)
	r.Use(gin.Recovery(), metrics.HTTP, s.requestLog, deadline)
	r.GET("/healthz", gin.WrapH(health.Live()))
	if s.Ready != nil {
		r.GET("/readyz", gin.WrapH(s.Ready))
	}
	(&api.API{P: p, Auth: s.auth, Log: s.Log, Clock: p.Clock}).Routes(r)
	(&broker.Broker{P: p, Log: s.Log}).Routes(r)
	(&console.Console{P: p, Auth: s.auth, Log: s.Log, Clock: p.Clock, AssetDir: assetDir()}).Routes(r)
	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such endpoint: " + c.Request.Method + " " + c.Request.URL.Path})
	})
	s.engine = r
	// Every state-changing request must come from this site (Go's
	// CrossOriginProtection: Sec-Fetch-Site, then Origin against Host);
	// sessions are loaded and saved around the router.
	deny := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		auth.WriteError(w, req, http.StatusForbidden, "cross-origin request refused: send it from this site")
	})
	return secure.Headers(secure.SameOrigin(s.auth.Sessions(r), deny))
}

// Close stops the token revocation listener and the session cleanup; call
// it before closing the database.
func (s *Server) Close() {
	if s.auth != nil {
		s.auth.Close()
	}
}

// APIRoutes lists "METHOD /path" for every JSON route served.
func (s *Server) APIRoutes() []string { return api.ServedRoutes(s.engine) }

// requestLog logs method, path, status and duration; never bodies or
// headers, which may hold passwords and tokens.
func (s *Server) requestLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.Log.Info("http", "method", c.Request.Method, "path", c.FullPath(), "status", c.Writer.Status(),
		"ms", time.Since(start).Milliseconds())
}

// RequestTimeout bounds the work behind one request: a dependency that
// hangs (Temporal waiting on a lost workflow task, a PostgreSQL that does
// not answer) gets the client a 503 with Retry-After instead of no answer.
const RequestTimeout = 15 * time.Second

func deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// assetDir is where htmx was installed (node_modules/ from the working
// directory up).
func assetDir() string {
	dir, _ := os.Getwd()
	for {
		cand := filepath.Join(dir, "node_modules", "htmx.org", "dist")
		if _, err := os.Stat(filepath.Join(cand, "htmx.min.js")); err == nil {
			return cand
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
