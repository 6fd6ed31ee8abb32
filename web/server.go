// Package web serves Tenantry's JSON API (and, later, its console) with gin.
// Handlers validate input for an immediate 4xx, then hand every multi-step
// side effect to a workflow.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"tenantry/internal/access"
	"tenantry/internal/catalog"
)

// Server holds what the handlers need.
type Server struct {
	DB       *pgxpool.Pool
	Temporal client.Client
	Catalog  *catalog.Catalog
	Log      *slog.Logger
	Clock    func() time.Time
	// BillingPeriod shortens billing periods; zero is calendar months.
	BillingPeriod time.Duration
	// Operators are the emails of platform operators (developer pages).
	Operators []string
	// ExpiryWarning shortens how long before an instance's end the client
	// is warned; zero keeps activities.ExpiryWarning.
	ExpiryWarning time.Duration
	// GracePeriod and SetupTimeout override the workflows' defaults (the
	// dev stack and tests shorten them); zero keeps the default.
	GracePeriod  time.Duration
	SetupTimeout time.Duration
	// AssetDir holds the console's browser assets (htmx, installed from the
	// npm registry by `go tool task web:assets`); empty looks for
	// node_modules/ from the working directory up.
	AssetDir string
	// SecureCookies marks the console's session cookie Secure: set it when
	// the console is served over TLS.
	SecureCookies bool
	// TemporalUI is the Temporal Web UI's base URL, for the developers'
	// links; empty leaves them out.
	TemporalUI string

	logins   *loginLimiter
	sessions *scs.SessionManager
	tokens   *tokenCache
	closed   closedRuns
	stop     context.CancelFunc
	engine   *gin.Engine
}

// Close stops what Handler started (the revocation listener); call it
// before closing DB.
func (s *Server) Close() {
	if s.stop != nil {
		s.stop()
	}
	if st, ok := s.sessions.Store.(*pgxstore.PostgresStore); ok {
		st.StopCleanup()
	}
}

// Handler builds the router.
func (s *Server) Handler() http.Handler {
	if s.Clock == nil {
		s.Clock = time.Now
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.logins = newLoginLimiter(s.DB, s.Clock)
	s.sessions = s.newSessions()
	s.tokens = newTokenCache(s.DB, s.Clock, s.Log)
	var ctx context.Context
	ctx, s.stop = context.WithCancel(context.Background())
	go s.tokens.listen(ctx)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// The address is the peer's: X-Forwarded-For is trusted from no proxy,
	// so it cannot dodge the login rate limit.
	_ = r.SetTrustedProxies(nil)
	r.Use(gin.Recovery(), s.requestLog)
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })

	api := r.Group("/api")
	api.POST("/signup", s.signup)
	api.POST("/login", s.login)
	api.GET("/catalog", s.catalog)
	s.billingRoutes(api)

	me := api.Group("", s.requireUser)
	read, manage := s.need(access.InstancesRead), s.need(access.InstancesManage)
	me.POST("/logout", s.logout)
	me.GET("/catalog/prices", s.need(access.ConsoleAdmin), s.catalogPrices)
	me.GET("/instances", read, s.listInstances)
	me.POST("/instances", manage, s.enableInstance)
	me.GET("/instances/:id", read, s.getInstance)
	me.POST("/instances/:id/setup", manage, s.setupInstance)
	me.PUT("/instances/:id/modules", manage, s.changeModules)
	me.DELETE("/instances/:id", manage, s.disableInstance)
	me.POST("/instances/:id/enable", manage, s.reenableInstance)
	// Operators move any account's instance to a newer service version.
	me.POST("/instances/:id/upgrade", s.need(access.ConsoleAdmin), s.upgradeInstance)

	s.consoleRoutes(r)
	r.GET("/openapi.json", s.openAPIDocument)
	r.GET("/docs", s.docsPage)
	s.engine = r

	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such endpoint: " + c.Request.Method + " " + c.Request.URL.Path})
	})
	// Every state-changing request must come from this site (Go's
	// CrossOriginProtection: Sec-Fetch-Site, then Origin against Host);
	// sessions are loaded and saved around the router.
	return http.NewCrossOriginProtection().Handler(s.sessions.LoadAndSave(r))
}

// requestLog logs method, path, status and duration; never bodies or
// headers, which may hold passwords and tokens.
func (s *Server) requestLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.Log.Info("http", "method", c.Request.Method, "path", c.FullPath(), "status", c.Writer.Status(),
		"ms", time.Since(start).Milliseconds())
}
