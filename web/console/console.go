package console

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/catalog"
	"tenantry/internal/controldb"
	"tenantry/internal/dbserver"
	"tenantry/internal/platform"
	"tenantry/web/api"
	"tenantry/web/auth"
)

// Platform is what the console needs of the platform layer.
type Platform interface {
	Signup(ctx context.Context, in platform.SignupInput) (platform.SignupResult, error)
	CheckLogin(ctx context.Context, email, password, addr string) (string, error)
	ChangePassword(ctx context.Context, who platform.Principal, in platform.PasswordChange) error
	SwitchAccount(ctx context.Context, who platform.Principal, accountID string) (platform.Principal, error)

	Service(name string) (*catalog.Service, error)
	ServiceNames() []string
	Monthly(service string, modules []string) (int64, string)
	Estimate(ctx context.Context, service string, modules []string) (int64, string, error)
	NewInstanceVersions(ctx context.Context) (map[string]string, error)
	Grace() time.Duration

	Instances(ctx context.Context, who platform.Principal) ([]platform.Instance, error)
	Instance(ctx context.Context, who platform.Principal, id string) (platform.Instance, error)
	InstanceWithProgress(ctx context.Context, who platform.Principal, id string) (platform.Instance, error)
	Enable(ctx context.Context, who platform.Principal, in platform.EnableInput) (platform.Instance, error)
	Setup(ctx context.Context, who platform.Principal, id string, in platform.SetupInput) error
	ChangeModules(ctx context.Context, who platform.Principal, id string, modules []string) (controldb.ModuleChange, error)
	Disable(ctx context.Context, who platform.Principal, id string) (platform.Disabled, error)
	Reenable(ctx context.Context, who platform.Principal, id string) error
	StartJob(ctx context.Context, who platform.Principal, id, job string) (platform.Job, error)
	InstanceJobs(ctx context.Context, who platform.Principal, id string) (platform.InstanceJobs, error)
	InstanceLogs(ctx context.Context, who platform.Principal, id string, q platform.LogQuery) (platform.LogPage, error)

	Team(ctx context.Context, who platform.Principal) ([]platform.Member, error)
	InviteMember(ctx context.Context, who platform.Principal, in platform.Invite) (platform.Invited, error)
	SetMemberRole(ctx context.Context, who platform.Principal, userID, role string) error
	RemoveMember(ctx context.Context, who platform.Principal, userID string) error
	Timeline(ctx context.Context, who platform.Principal) ([]platform.Event, error)
	APITokens(ctx context.Context, who platform.Principal) ([]platform.APIToken, error)
	TokenPermissions(who platform.Principal) []string
	CreateAPIToken(ctx context.Context, who platform.Principal, in platform.NewAPIToken) (string, platform.APIToken, error)
	RevokeAPIToken(ctx context.Context, who platform.Principal, id string) error
	BrokerCredentials(ctx context.Context, who platform.Principal) ([]platform.BrokerCredential, error)
	CreateBrokerCredential(ctx context.Context, who platform.Principal, in platform.NewBrokerCredential) (string, platform.BrokerCredential, error)
	RevokeBrokerCredential(ctx context.Context, who platform.Principal, id string) error

	CurrentBilling(ctx context.Context, who platform.Principal) (platform.BillingNow, error)
	Invoices(ctx context.Context, who platform.Principal) ([]controldb.InvoiceSummary, error)
	Invoice(ctx context.Context, who platform.Principal, id string) (controldb.InvoiceSummary, []billing.Line, error)

	AllInstances(ctx context.Context, who platform.Principal, f platform.InstanceFilter) ([]platform.AnyInstance, int, error)
	AnyInstance(ctx context.Context, who platform.Principal, id string) (platform.AnyInstanceDetail, error)
	Problems(ctx context.Context, who platform.Principal) (failed, stuck []platform.WorkflowRun, err error)
	PriceSchedule(ctx context.Context, who platform.Principal) ([]platform.ScheduledPrice, error)
	Revenue(ctx context.Context, who platform.Principal, from, to time.Time) ([]platform.RevenueRow, int64, error)
	CloseFailures(ctx context.Context, who platform.Principal) ([]platform.CloseFailure, error)
	RetryClose(ctx context.Context, who platform.Principal, accountID string) error
	PlatformTeam(ctx context.Context, who platform.Principal) ([]platform.PlatformGrant, error)
	GrantPlatformRole(ctx context.Context, who platform.Principal, email, role string) (platform.PlatformGrant, error)
	RevokePlatformRole(ctx context.Context, who platform.Principal, userID, role string) error
	Workers(ctx context.Context, who platform.Principal) ([]platform.WorkerDeployment, error)
	SetCurrentBuild(ctx context.Context, who platform.Principal, deployment, buildID string) error
	RampBuild(ctx context.Context, who platform.Principal, deployment, buildID string, percentage float32) error
	StartRollout(ctx context.Context, who platform.Principal, req platform.RolloutRequest) (platform.RolloutStarted, error)
	Rollouts(ctx context.Context, who platform.Principal) ([]controldb.RolloutRow, error)
	Rollout(ctx context.Context, who platform.Principal, id string) (platform.RolloutView, error)
	ControlRollout(ctx context.Context, who platform.Principal, id, control, decision string) error

	Servers(ctx context.Context, who platform.Principal) ([]platform.Server, error)
	Server(ctx context.Context, who platform.Principal, name string) (platform.ServerDetail, error)
	RegisterServer(ctx context.Context, who platform.Principal, in platform.NewServer) (platform.Server, dbserver.Check, error)
	SetServerState(ctx context.Context, who platform.Principal, name, state string) (platform.Server, error)
	CheckServer(ctx context.Context, who platform.Principal, name string) (dbserver.Check, error)
	DrainServer(ctx context.Context, who platform.Principal, name string) (string, error)
	MoveInstance(ctx context.Context, who platform.Principal, instanceID, toServer string) (platform.Move, error)
	WaitingForRoom(ctx context.Context, who platform.Principal) ([]platform.WorkflowRun, error)
}

// Console is the browser console's handlers: server-rendered pages, plain
// forms that redirect after posting, and htmx for the live progress.
type Console struct {
	P     Platform
	Auth  *auth.Auth
	Log   *slog.Logger
	Clock func() time.Time
	// AssetDir holds htmx (installed from the npm registry by `go tool
	// task web:assets`); empty serves none.
	AssetDir string
}

//go:embed console.css
var stylesheet []byte

// Routes adds the console's pages.
func (k *Console) Routes(r *gin.Engine) {
	r.GET("/assets/htmx.min.js", func(c *gin.Context) {
		if k.AssetDir == "" {
			c.String(http.StatusNotFound, "htmx is not installed: run go tool task web:assets")
			return
		}
		c.Header("Cache-Control", "public, max-age=3600")
		c.File(filepath.Join(k.AssetDir, "htmx.min.js"))
	})
	r.GET("/assets/console.css", func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=3600")
		c.Data(http.StatusOK, "text/css; charset=utf-8", stylesheet)
	})
	r.GET("/", func(c *gin.Context) {
		to := "/login"
		if k.Auth.SignedIn(c) {
			to = "/dashboard"
		}
		c.Redirect(http.StatusSeeOther, to)
	})
	r.GET("/login", k.loginPage)
	r.POST("/login", k.loginSubmit)
	r.GET("/signup", k.signupPage)
	r.POST("/signup", k.signupSubmit)
	r.POST("/logout", k.logoutSubmit)
	r.GET("/docs", k.docsPage)

	in := r.Group("", k.Auth.RequireSession(k.fail))
	read, manage := k.need(access.InstancesRead), k.need(access.InstancesManage)
	in.GET("/dashboard", read, k.dashboardPage)
	in.GET("/enable", manage, k.enablePage)
	in.GET("/enable/estimate", manage, k.enableEstimate)
	in.POST("/enable", manage, k.enableSubmit)
	in.GET("/instances/:id", read, k.instancePage)
	in.GET("/instances/:id/progress", read, k.instanceProgress)
	in.GET("/instances/:id/logs", read, k.logsPage)
	in.GET("/instances/:id/logs/tail", read, k.logsTail)
	in.GET("/instances/:id/setup", manage, k.setupPage)
	in.POST("/instances/:id/setup", manage, k.setupSubmit)
	in.POST("/instances/:id/modules", manage, k.modulesSubmit)
	in.POST("/instances/:id/disable", manage, k.disableSubmit)
	in.POST("/instances/:id/enable", manage, k.reenableSubmit)
	in.GET("/instances/:id/jobs", read, k.jobsFragment)
	in.POST("/instances/:id/jobs", manage, k.jobSubmit)
	in.GET("/timeline", k.timelinePage)
	in.GET("/team", k.teamPage)
	in.POST("/team", k.need(access.TeamManage), k.inviteSubmit)
	in.POST("/team/:user/role", k.need(access.TeamManage), k.roleSubmit)
	in.POST("/team/:user/remove", k.need(access.TeamManage), k.removeSubmit)
	// A user's own tokens: scoped to what the user holds, so no permission
	// of its own.
	in.GET("/tokens", k.tokensPage)
	in.POST("/tokens", k.tokenSubmit)
	in.POST("/tokens/:token/revoke", k.revokeSubmit)
	// Owners make the Open Service Broker API's credentials.
	in.GET("/broker", k.need(access.TeamManage), k.brokerPage)
	in.POST("/broker", k.need(access.TeamManage), k.brokerSubmit)
	in.POST("/broker/:credential/revoke", k.need(access.TeamManage), k.brokerRevokeSubmit)
	in.GET("/account/password", k.passwordPage)
	in.POST("/account/password", k.passwordSubmit)
	in.POST("/account/switch", k.switchSubmit)
	in.GET("/billing", k.need(access.BillingRead), k.billingPage)
	in.GET("/billing/invoices/:id", k.invoicePage)
	in.GET("/billing/invoices/:id/csv", k.invoiceCSVDownload)

	// The platform's pages: every account.
	in.GET("/dev/billing", k.devBillingPage)
	in.POST("/dev/billing/failures/:account/retry", k.devRetryClose)
	dev := in.Group("/dev", k.need(access.ConsoleAdmin))
	dev.GET("", k.devInstancesPage)
	dev.GET("/instances/:id", k.devInstancePage)
	dev.GET("/problems", k.devProblemsPage)
	dev.GET("/catalog", k.devCatalogPage)
	dev.GET("/team", k.devTeamPage)
	dev.POST("/team", k.devGrantSubmit)
	dev.POST("/team/:user/:role/revoke", k.devRevokeSubmit)
	dev.GET("/workers", k.devWorkersPage)
	dev.POST("/workers/:deployment/versions/:build/current", k.devSetCurrentBuild)
	dev.POST("/workers/:deployment/versions/:build/ramp", k.devRampBuild)
	dev.GET("/rollouts", k.rolloutsPage)
	dev.POST("/rollouts", k.rolloutSubmit)
	dev.GET("/rollouts/:id", k.rolloutPage)
	dev.GET("/rollouts/:id/live", k.rolloutLivePart)
	dev.POST("/rollouts/:id/:control", k.rolloutControl)
	dev.GET("/servers", k.devServersPage)
	dev.POST("/servers", k.devRegisterServer)
	dev.GET("/servers/:name", k.devServerPage)
	dev.POST("/servers/:name/state", k.devServerState)
	dev.POST("/servers/:name/check", k.devCheckServer)
	dev.POST("/servers/:name/drain", k.devDrainServer)
	dev.POST("/servers/:name/move", k.devMoveInstance)
}

// need refuses a page early, with the answer the platform layer would give
// the operation behind it, as a page.
func (k *Console) need(perm string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := platform.Require(auth.Of(c), perm); err != nil {
			k.fail(c, err)
			return
		}
		c.Next()
	}
}

func who(c *gin.Context) platform.Principal { return auth.Of(c) }

// render writes a page with a status.
func (k *Console) render(c *gin.Context, status int, page templ.Component) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	apperr.SetRetryAfter(c.Writer.Header(), status)
	c.Status(status)
	if err := page.Render(c.Request.Context(), c.Writer); err != nil {
		k.Log.Error("render", "path", c.FullPath(), "err", err)
	}
}

// page is the frame of a page for the current user, with any notice left
// by the previous request.
func (k *Console) page(c *gin.Context, title string) Page {
	p := Page{Title: title}
	u, ok := auth.Signed(c)
	if !ok {
		return p
	}
	ctx := c.Request.Context()
	p.User, p.Account = u.Email, u.AccountName
	p.Developer, p.BillingOperator = u.Can(access.ConsoleAdmin), u.Can(access.ConsoleBilling)
	p.Owner = platform.Require(u, access.TeamManage) == nil
	p.Notice = k.Auth.PopNotice(ctx)
	for _, m := range u.Memberships {
		p.Accounts = append(p.Accounts, AccountChoice{ID: m.AccountID, Name: m.AccountName, Role: m.Role, Current: m.AccountID == u.AccountID})
	}
	return p
}

// fail shows an error page with the error's status and message.
func (k *Console) fail(c *gin.Context, err error) {
	status := apperr.HTTPStatus(err)
	switch {
	case status == http.StatusServiceUnavailable:
		k.Log.Warn("request refused: a dependency is down", "path", c.FullPath(), "err", err)
	case status >= 500:
		k.Log.Error("request failed", "path", c.FullPath(), "err", err)
	}
	p := k.page(c, http.StatusText(status))
	p.Error = apperr.Message(err)
	k.render(c, status, ErrorPage(p))
	c.Abort()
}

// redirect goes on to another page with a notice for it.
func (k *Console) redirect(c *gin.Context, to, notice string) {
	if notice != "" {
		k.Auth.Notice(c.Request.Context(), notice)
	}
	c.Redirect(http.StatusSeeOther, to)
}

// docsPage renders the OpenAPI document as a page people read.
func (k *Console) docsPage(c *gin.Context) {
	ref, err := api.ReadReference()
	if err != nil {
		k.fail(c, err)
		return
	}
	v := Docs{Title: ref.Title, Description: ref.Description}
	for _, e := range ref.Endpoints {
		v.Endpoints = append(v.Endpoints, Endpoint{Method: e.Method, Path: e.Path, Summary: e.Summary, Request: e.Request, Responses: e.Responses})
	}
	k.render(c, http.StatusOK, DocsPage(k.page(c, "API documentation"), v))
}
