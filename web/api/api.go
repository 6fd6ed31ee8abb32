// Package api serves Tenantry's JSON API with gin: it decodes requests,
// calls the platform layer with the request's principal and answers in
// JSON, errors as {"error": "..."} with the status apperr gives. It holds
// no rules, no SQL and starts no workflow.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/internal/dbserver"
	"tenantry/internal/platform"
	"tenantry/web/auth"
	"tenantry/workflows"
)

// Platform is what the API needs of the platform layer.
type Platform interface {
	Signup(ctx context.Context, in platform.SignupInput) (platform.SignupResult, error)
	Login(ctx context.Context, email, password, accountID, addr string) (platform.LoginToken, error)
	Logout(ctx context.Context, token string) error
	CatalogServices(ctx context.Context) ([]platform.CatalogService, error)
	PriceSchedule(ctx context.Context, who platform.Principal) ([]platform.ScheduledPrice, error)

	Instances(ctx context.Context, who platform.Principal) ([]platform.Instance, error)
	InstanceDetail(ctx context.Context, who platform.Principal, id string) (platform.Instance, error)
	Enable(ctx context.Context, who platform.Principal, in platform.EnableInput) (platform.Instance, error)
	Setup(ctx context.Context, who platform.Principal, id string, in platform.SetupInput) error
	ChangeModules(ctx context.Context, who platform.Principal, id string, modules []string) (controldb.ModuleChange, error)
	Disable(ctx context.Context, who platform.Principal, id string) (platform.Disabled, error)
	Reenable(ctx context.Context, who platform.Principal, id string) error
	SetExpiry(ctx context.Context, who platform.Principal, id string, at *time.Time) error
	InstanceLogs(ctx context.Context, who platform.Principal, id string, q platform.LogQuery) (platform.LogPage, error)
	UpgradeInstance(ctx context.Context, who platform.Principal, id, version string) (platform.Upgrade, error)
	StartJob(ctx context.Context, who platform.Principal, id, job string) (platform.Job, error)
	InstanceJobs(ctx context.Context, who platform.Principal, id string) (platform.InstanceJobs, error)

	CurrentBilling(ctx context.Context, who platform.Principal) (platform.BillingNow, error)
	Invoices(ctx context.Context, who platform.Principal) ([]controldb.InvoiceSummary, error)
	Invoice(ctx context.Context, who platform.Principal, id string) (controldb.InvoiceSummary, []billing.Line, error)
	Revenue(ctx context.Context, who platform.Principal, from, to time.Time) ([]platform.RevenueRow, int64, error)
	CloseFailures(ctx context.Context, who platform.Principal) ([]platform.CloseFailure, error)
	RetryClose(ctx context.Context, who platform.Principal, accountID string) error
	GrantDiscount(ctx context.Context, who platform.Principal, in controldb.DiscountInput) (string, error)

	Workers(ctx context.Context, who platform.Principal) ([]platform.WorkerDeployment, error)
	SetCurrentBuild(ctx context.Context, who platform.Principal, deployment, buildID string) error
	RampBuild(ctx context.Context, who platform.Principal, deployment, buildID string, percentage float32) error

	Servers(ctx context.Context, who platform.Principal) ([]platform.Server, error)
	Server(ctx context.Context, who platform.Principal, name string) (platform.ServerDetail, error)
	RegisterServer(ctx context.Context, who platform.Principal, in platform.NewServer) (platform.Server, dbserver.Check, error)
	SetServerState(ctx context.Context, who platform.Principal, name, state string) (platform.Server, error)
	CheckServer(ctx context.Context, who platform.Principal, name string) (dbserver.Check, error)
	DrainServer(ctx context.Context, who platform.Principal, name string) (string, error)
	MoveInstance(ctx context.Context, who platform.Principal, instanceID, toServer string) (platform.Move, error)
	APITokens(ctx context.Context, who platform.Principal) ([]platform.APIToken, error)
	TokenPermissions(who platform.Principal) []string
	CreateAPIToken(ctx context.Context, who platform.Principal, in platform.NewAPIToken) (string, platform.APIToken, error)
	RevokeAPIToken(ctx context.Context, who platform.Principal, id string) error

	Team(ctx context.Context, who platform.Principal) ([]platform.Member, error)
	InviteMember(ctx context.Context, who platform.Principal, in platform.Invite) (platform.Invited, error)
	SetMemberRole(ctx context.Context, who platform.Principal, userID, role string) error
	RemoveMember(ctx context.Context, who platform.Principal, userID string) error

	StartRollout(ctx context.Context, who platform.Principal, req platform.RolloutRequest) (platform.RolloutStarted, error)
	Rollouts(ctx context.Context, who platform.Principal) ([]controldb.RolloutRow, error)
	Rollout(ctx context.Context, who platform.Principal, id string) (platform.RolloutView, error)
	ControlRollout(ctx context.Context, who platform.Principal, id, control, decision string) error
}

// API is the JSON API's handlers.
type API struct {
	P     Platform
	Auth  *auth.Auth
	Log   *slog.Logger
	Clock func() time.Time
}

// Routes adds the API under /api.
func (a *API) Routes(r *gin.Engine) {
	api := r.Group("/api")
	api.POST("/signup", a.signup)
	api.POST("/login", a.login)
	api.GET("/catalog", a.catalog)

	me := api.Group("", a.Auth.RequireToken(a.fail))
	me.POST("/logout", a.logout)
	me.GET("/catalog/prices", a.catalogPrices)
	me.GET("/instances", a.listInstances)
	me.POST("/instances", a.enableInstance)
	me.GET("/instances/:id", a.getInstance)
	me.POST("/instances/:id/setup", a.setupInstance)
	me.PUT("/instances/:id/modules", a.changeModules)
	me.DELETE("/instances/:id", a.disableInstance)
	me.POST("/instances/:id/enable", a.reenableInstance)
	me.PUT("/instances/:id/expiry", a.setExpiry)
	me.GET("/instances/:id/logs", a.instanceLogs)
	// Developers move any account's instance to a newer service version.
	me.POST("/instances/:id/upgrade", a.upgradeInstance)
	me.GET("/instances/:id/jobs", a.listJobs)
	me.POST("/instances/:id/jobs", a.startJob)

	me.GET("/billing/current", a.billingCurrent)
	me.GET("/billing/invoices", a.listInvoices)
	me.GET("/billing/invoices/:id", a.getInvoice)
	me.GET("/billing/invoices/:id/csv", a.invoiceCSV)
	me.GET("/tokens", a.listTokens)
	me.POST("/tokens", a.createToken)
	me.DELETE("/tokens/:id", a.revokeToken)
	me.GET("/team", a.listTeam)
	me.POST("/team", a.inviteMember)
	me.PUT("/team/:user/role", a.setMemberRole)
	me.DELETE("/team/:user", a.removeMember)

	ops := me.Group("/ops/billing")
	ops.GET("/revenue", a.revenue)
	ops.GET("/failures", a.listCloseFailures)
	ops.POST("/failures/:account/retry", a.retryCloseNow)
	ops.POST("/discounts", a.grantDiscount)
	workers := me.Group("/ops/workers")
	workers.GET("", a.listWorkers)
	workers.POST("/:deployment/versions/:build/current", a.setCurrentBuild)
	workers.POST("/:deployment/versions/:build/ramp", a.rampBuild)
	// Developers roll a service version out over its instances.
	rollouts := me.Group("/ops/rollouts")
	rollouts.POST("", a.startRollout)
	rollouts.GET("", a.listRollouts)
	rollouts.GET("/:id", a.getRollout)
	for _, control := range workflows.RolloutControls {
		rollouts.POST("/:id/"+control, a.controlRollout(control))
	}
	a.serverRoutes(me)

	r.GET("/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPI) })
}

// fail answers with the error's status and a message a user can act on.
// Internal causes go to the log only.
func (a *API) fail(c *gin.Context, err error) {
	status := apperr.HTTPStatus(err)
	switch {
	case status == http.StatusServiceUnavailable:
		a.Log.Warn("request refused: a dependency is down", "path", c.FullPath(), "err", err)
		apperr.SetRetryAfter(c.Writer.Header(), status)
	case status >= 500:
		a.Log.Error("request failed", "path", c.FullPath(), "err", err)
	}
	c.AbortWithStatusJSON(status, gin.H{"error": apperr.Message(err)})
}

// answer writes v with status, or the error.
func (a *API) answer(c *gin.Context, status int, v any, err error) {
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(status, v)
}

func who(c *gin.Context) platform.Principal { return auth.Of(c) }

// bindJSON decodes a request body strictly: unknown fields and trailing data
// are errors, so a typo in a field name is reported instead of ignored.
func bindJSON(c *gin.Context, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return apperr.Invalid("the request body must be a JSON object")
		case errors.As(err, &syntax):
			return apperr.Invalid("the request body is not valid JSON (at byte %d)", syntax.Offset)
		case errors.As(err, &typ):
			return apperr.Invalid("field %q must be a %s", typ.Field, typ.Type)
		default:
			return apperr.Invalid("the request body is invalid: %s", err.Error())
		}
	}
	if dec.More() {
		return apperr.Invalid("the request body must hold one JSON object")
	}
	return nil
}
