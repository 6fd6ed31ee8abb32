// Package web serves Tenantry's JSON API (and, later, its console) with gin.
// Handlers validate input for an immediate 4xx, then hand every multi-step
// side effect to a workflow.
package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"tenantry/activities"
	"tenantry/internal/catalog"
)

// Server holds what the handlers need.
type Server struct {
	DB       *pgxpool.Pool
	Temporal client.Client
	Catalog  *catalog.Catalog
	// Checks answers validation questions (is this host free?) with the
	// same code the workflows run.
	Checks *activities.Activities
	Log    *slog.Logger
	Clock  func() time.Time
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
}

// Handler builds the router.
func (s *Server) Handler() http.Handler {
	if s.Clock == nil {
		s.Clock = time.Now
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), s.requestLog)
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })

	api := r.Group("/api")
	api.POST("/signup", s.signup)
	api.POST("/login", s.login)
	api.GET("/catalog", s.catalog)
	s.billingRoutes(api)

	me := api.Group("", s.requireUser)
	me.POST("/logout", s.logout)
	me.GET("/instances", s.listInstances)
	me.POST("/instances", s.enableInstance)
	me.GET("/instances/:id", s.getInstance)
	me.POST("/instances/:id/setup", s.setupInstance)
	me.PUT("/instances/:id/modules", s.changeModules)
	me.DELETE("/instances/:id", s.disableInstance)
	me.POST("/instances/:id/enable", s.reenableInstance)

	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "no such endpoint: " + c.Request.Method + " " + c.Request.URL.Path})
	})
	return r
}

// requestLog logs method, path, status and duration; never bodies or
// headers, which may hold passwords and tokens.
func (s *Server) requestLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.Log.Info("http", "method", c.Request.Method, "path", c.FullPath(), "status", c.Writer.Status(),
		"ms", time.Since(start).Milliseconds())
}
