package web

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/validate"
	"tenantry/web/console"
	"tenantry/workflows"
)

// hoursPerMonth prices a month as 30 days; the console and the API's
// catalog state the same rule.
const hoursPerMonth = 24 * 30

// priceRule tells a client how a monthly price is computed.
const priceRule = "Modules are billed by the hour; a month here is 30 days (720 hours). Core is always included."

// consoleRoutes serves the browser console: server-rendered pages, plain
// forms that redirect after posting, and htmx for the live progress.
func (s *Server) consoleRoutes(r *gin.Engine) {
	assets := s.assetDir()
	r.GET("/assets/htmx.min.js", func(c *gin.Context) {
		if assets == "" {
			c.String(http.StatusNotFound, "htmx is not installed: run go tool task web:assets")
			return
		}
		c.Header("Cache-Control", "public, max-age=3600")
		c.File(filepath.Join(assets, "htmx.min.js"))
	})
	r.GET("/", func(c *gin.Context) {
		to := "/login"
		if s.sessions.GetString(c.Request.Context(), sessionUserKey) != "" {
			to = "/dashboard"
		}
		c.Redirect(http.StatusSeeOther, to)
	})
	r.GET("/login", s.loginPage)
	r.POST("/login", s.loginSubmit)
	r.GET("/signup", s.signupPage)
	r.POST("/signup", s.signupSubmit)
	r.POST("/logout", s.logoutSubmit)

	in := r.Group("", s.requireSession)
	read, manage := s.need(access.InstancesRead), s.need(access.InstancesManage)
	in.GET("/dashboard", read, s.dashboardPage)
	in.GET("/enable", manage, s.enablePage)
	in.GET("/enable/estimate", manage, s.enableEstimate)
	in.POST("/enable", manage, s.enableSubmit)
	in.GET("/instances/:id", read, s.instancePage)
	in.GET("/instances/:id/progress", read, s.instanceProgress)
	in.GET("/instances/:id/setup", manage, s.setupPage)
	in.POST("/instances/:id/setup", manage, s.setupSubmit)
	in.POST("/instances/:id/modules", manage, s.modulesSubmit)
	in.POST("/instances/:id/disable", manage, s.disableSubmit)
	in.POST("/instances/:id/enable", manage, s.reenableSubmit)
	in.GET("/timeline", s.need(access.AuditRead), s.timelinePage)
	in.GET("/team", s.need(access.TeamRead), s.teamPage)
	in.POST("/team", s.need(access.TeamManage), s.inviteSubmit)
	in.POST("/team/:user/role", s.need(access.TeamManage), s.roleSubmit)
	// A user's own tokens: scoped to what the user holds, so no permission
	// of its own.
	in.GET("/tokens", s.tokensPage)
	in.POST("/tokens", s.tokenSubmit)
	in.POST("/tokens/:token/revoke", s.revokeSubmit)
	in.GET("/account/password", s.passwordPage)
	in.POST("/account/password", s.passwordSubmit)
	s.consoleBillingRoutes(in)
	s.developerRoutes(in)
}

// need admits a request whose user holds perm; anyone else gets 403, as a
// page in the console and as JSON in the API.
func (s *Server) need(perm string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if userOf(c).can(perm) {
			c.Next()
			return
		}
		err := apperr.Forbidden("you need the permission %s for this: ask an owner of the account", perm)
		if strings.HasPrefix(c.FullPath(), "/api/") {
			s.fail(c, err)
			return
		}
		s.consoleFail(c, err)
	}
}

// render writes a page with a status.
func (s *Server) render(c *gin.Context, status int, page templ.Component) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	if err := page.Render(c.Request.Context(), c.Writer); err != nil {
		s.Log.Error("render", "path", c.FullPath(), "err", err)
	}
}

// page is the frame of a page for the current user, with any notice left
// by the previous request.
func (s *Server) page(c *gin.Context, title string) console.Page {
	p := console.Page{Title: title}
	if v, ok := c.Get(userKey); ok {
		u := v.(currentUser)
		p.User, p.Account, p.Developer = u.Email, u.AccountName, u.can(access.ConsoleAdmin)
		p.Notice = s.sessions.PopString(c.Request.Context(), "notice")
	}
	return p
}

// consoleFail shows an error page with the error's status and message.
func (s *Server) consoleFail(c *gin.Context, err error) {
	status := apperr.HTTPStatus(err)
	if status >= 500 {
		s.Log.Error("request failed", "path", c.FullPath(), "err", err)
	}
	p := s.page(c, http.StatusText(status))
	p.Error = apperr.Message(err)
	s.render(c, status, console.ErrorPage(p))
	c.Abort()
}

// redirect goes on to another page with a notice for it.
func (s *Server) redirect(c *gin.Context, to, notice string) {
	if notice != "" {
		s.sessions.Put(c.Request.Context(), "notice", notice)
	}
	c.Redirect(http.StatusSeeOther, to)
}

func (s *Server) loginPage(c *gin.Context) {
	s.render(c, http.StatusOK, console.LoginPage(s.page(c, "Log in"), console.LoginForm{}))
}

func (s *Server) loginSubmit(c *gin.Context) {
	ctx := c.Request.Context()
	email := c.PostForm("email")
	userID, err := s.checkLogin(ctx, email, c.PostForm("password"), c.ClientIP())
	if err == nil {
		err = s.signIn(ctx, userID)
	}
	if err != nil {
		p := s.page(c, "Log in")
		p.Error = apperr.Message(err)
		s.render(c, apperr.HTTPStatus(err), console.LoginPage(p, console.LoginForm{Email: email}))
		return
	}
	s.redirect(c, "/dashboard", "")
}

func (s *Server) signupPage(c *gin.Context) {
	s.render(c, http.StatusOK, console.SignupPage(s.page(c, "Create your account"), console.SignupForm{}))
}

func (s *Server) signupSubmit(c *gin.Context) {
	ctx := c.Request.Context()
	req := signupRequest{Email: c.PostForm("email"), Name: c.PostForm("name"),
		AccountName: c.PostForm("account_name"), Password: c.PostForm("password")}
	_, res, err := s.createAccount(ctx, req)
	if err == nil {
		err = s.signIn(ctx, res.UserID)
	}
	if err != nil {
		p := s.page(c, "Create your account")
		p.Error = apperr.Message(err)
		s.render(c, apperr.HTTPStatus(err), console.SignupPage(p,
			console.SignupForm{Email: req.Email, Name: req.Name, AccountName: req.AccountName}))
		return
	}
	s.redirect(c, "/dashboard", "Welcome to Tenantry: your account is ready. Enable a service to begin.")
}

func (s *Server) logoutSubmit(c *gin.Context) {
	if err := s.signOut(c.Request.Context()); err != nil {
		s.consoleFail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/login")
}

// monthly is what a set of modules of a service costs per month, in minor
// units, and the currency.
func (s *Server) monthly(service string, modules []string) (int64, string) {
	svc, err := s.Catalog.Service(service)
	if err != nil {
		return 0, ""
	}
	var sum int64
	now := s.Clock()
	for _, name := range modules {
		if m, ok := svc.Module(name); ok {
			price, _ := m.PriceAt(now)
			sum += price * hoursPerMonth
		}
	}
	return sum, svc.Currency
}

func (s *Server) dashboardPage(c *gin.Context) {
	list, err := s.accountInstances(c.Request.Context(), userOf(c).AccountID)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	var d console.Dashboard
	totals := map[string]int64{}
	var currency string
	for _, v := range list {
		price, cur := s.monthly(v.Service, v.Modules)
		if v.Status == "ready" {
			totals[cur] += price
			currency = cur
		}
		d.Instances = append(d.Instances, console.InstanceRow{ID: v.ID, Service: v.Service, Version: v.Version,
			Status: v.Status, Host: v.Host, Modules: v.Modules, Monthly: monthlyWords(v.Status, price, cur)})
	}
	if currency == "" && len(list) > 0 {
		_, currency = s.monthly(list[0].Service, nil)
	}
	d.MonthlyTotal = console.Money(totals[currency], currency)
	s.render(c, http.StatusOK, console.DashboardPage(s.page(c, "Your services"), d))
}

// monthlyWords is an instance's monthly price; only a ready or
// provisioning instance's modules are billed.
func monthlyWords(status string, price int64, currency string) string {
	if status == "disabled" || status == "failed" {
		return "not billed (" + status + ")"
	}
	return console.Money(price, currency)
}

// moduleChoices lists the modules a version of a service offers as
// checkboxes, chosen ones checked, each at the price in effect now (a
// scheduled change counts from its instant); an empty version lists every
// module.
func moduleChoices(svc *catalog.Service, version string, chosen []string, now time.Time) []console.Module {
	on := map[string]bool{}
	for _, m := range chosen {
		on[m] = true
	}
	offered, err := svc.OfferedModules(version)
	out := make([]console.Module, 0, len(svc.Modules))
	for _, m := range svc.Modules {
		if version != "" && err == nil && !slices.Contains(offered, m.Name) {
			continue
		}
		price, _ := m.PriceAt(now)
		out = append(out, console.Module{Name: m.Name, Description: m.Description, Required: m.Required,
			Checked: m.Required || on[m.Name], Monthly: console.Money(price*hoursPerMonth, svc.Currency)})
	}
	return out
}

// enableChoice reads the enable form (or its query for the estimate).
func enableChoice(values func(string) []string) enableRequest {
	first := func(k string) string {
		if v := values(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	svc := first("service")
	return enableRequest{Service: svc, Host: first("host"), Modules: values("modules." + svc)}
}

// estimate prices a choice; it says what is wrong with an impossible one.
func (s *Server) estimate(req enableRequest) string {
	svc, err := s.Catalog.Service(req.Service)
	if err != nil {
		return "choose a service"
	}
	mods, err := svc.ResolveModules(svc.CurrentVersion, req.Modules)
	if err != nil {
		return apperr.Message(err)
	}
	price, cur := s.monthly(req.Service, mods)
	return console.Money(price, cur)
}

func (s *Server) enableForm(req enableRequest) console.EnableForm {
	f := console.EnableForm{Service: req.Service, Host: req.Host, PriceRule: priceRule}
	for _, name := range s.Catalog.Names() {
		svc, _ := s.Catalog.Service(name)
		chosen := []string(nil)
		if name == req.Service {
			chosen = req.Modules
		}
		f.Services = append(f.Services, console.ServiceOption{Name: svc.Name, Description: svc.Description,
			Version: svc.CurrentVersion, Modules: moduleChoices(svc, svc.CurrentVersion, chosen, s.Clock())})
	}
	if f.Service == "" && len(f.Services) > 0 {
		f.Service = f.Services[0].Name
	}
	f.Estimate = s.estimate(enableRequest{Service: f.Service, Modules: req.Modules})
	return f
}

func (s *Server) enablePage(c *gin.Context) {
	req := enableChoice(c.QueryArray)
	s.render(c, http.StatusOK, console.EnablePage(s.page(c, "Enable a service"), s.enableForm(req)))
}

func (s *Server) enableEstimate(c *gin.Context) {
	s.render(c, http.StatusOK, console.Estimate(s.estimate(enableChoice(c.QueryArray))))
}

func (s *Server) enableSubmit(c *gin.Context) {
	req := enableChoice(c.PostFormArray)
	id, err := s.startEnable(c.Request.Context(), userOf(c), req)
	if err != nil {
		p := s.page(c, "Enable a service")
		p.Error = apperr.Message(err)
		s.render(c, apperr.HTTPStatus(err), console.EnablePage(p, s.enableForm(req)))
		return
	}
	s.redirect(c, "/instances/"+id, "Provisioning has started: follow it below.")
}

var workflowTitles = map[string]string{"enable": "Provisioning", "change_modules": "Module change", "disable": "Disable"}

// progressView turns the workflows' progress reports into the live panel.
func (s *Server) progressView(id string, flows []workflowView) console.ProgressView {
	v := console.ProgressView{InstanceID: id}
	now := s.Clock()
	for _, w := range flows {
		wp := console.WorkflowProgress{Title: workflowTitles[w.Kind], WorkflowID: w.WorkflowID, Status: "starting"}
		if w.Progress == nil {
			v.Live = true
			v.Workflows = append(v.Workflows, wp)
			continue
		}
		p := w.Progress
		wp.Status, wp.Error = string(p.Status), p.Error
		if p.Status == workflows.StatusRunning {
			v.Live = true
		}
		finished := 0
		for _, st := range p.Steps {
			row := console.StepRow{Title: st.Title, State: string(st.State), Error: st.Error}
			if st.StartedAt != nil {
				end := now
				if st.EndedAt != nil {
					end = *st.EndedAt
				}
				row.Duration = end.Sub(*st.StartedAt).Round(time.Millisecond).String()
			}
			switch st.State {
			case workflows.StepDone, workflows.StepSkipped, workflows.StepFailed, workflows.StepCompensated:
				finished++
			}
			wp.Steps = append(wp.Steps, row)
		}
		if len(p.Steps) > 0 {
			wp.Percent = finished * 100 / len(p.Steps)
		}
		if p.Status == workflows.StatusCompleted {
			wp.Percent = 100
		}
		v.Workflows = append(v.Workflows, wp)
	}
	return v
}

// waitsForSetup says whether the instance's provisioning waits for the
// setup page.
func waitsForSetup(v instanceView) bool {
	for _, w := range v.Workflows {
		if w.Kind == "enable" && w.Progress != nil && w.Progress.Status == workflows.StatusWaiting {
			return true
		}
	}
	return false
}

func (s *Server) instanceDetail(c *gin.Context) (console.InstanceDetail, error) {
	v, err := s.ownInstance(c)
	if err != nil {
		return console.InstanceDetail{}, err
	}
	flows := s.instanceWorkflows(c.Request.Context(), v.ID)
	// Read the instance again after its workflows answered, so a workflow
	// that finished in between is not shown beside the state before it.
	if v, err = s.ownInstance(c); err != nil {
		return console.InstanceDetail{}, err
	}
	v.Workflows = flows
	price, cur := s.monthly(v.Service, v.Modules)
	d := console.InstanceDetail{ID: v.ID, Service: v.Service, Version: v.Version, Status: v.Status, Host: v.Host, Maintenance: v.Maintenance,
		Monthly: monthlyWords(v.Status, price, cur), FailureReason: v.FailureReason, GracePeriod: graceWords(s.gracePeriod()),
		Progress: s.progressView(v.ID, v.Workflows)}
	d.Progress.ShownStatus = v.Status
	if waitsForSetup(v) {
		// Keep following: the setup may also come through the API.
		d.Progress.SetupURL, d.Progress.Live = "/instances/"+v.ID+"/setup", true
	}
	if svc, err := s.Catalog.Service(v.Service); err == nil {
		d.Modules = moduleChoices(svc, v.Version, v.Modules, s.Clock())
	}
	if !userOf(c).can(access.InstancesManage) {
		return d, nil
	}
	switch v.Status {
	case "ready":
		d.CanChange, d.CanDisable = !d.Progress.Live && !v.Maintenance, !d.Progress.Live && !v.Maintenance
		d.DataKeptUntil = s.Clock().Add(s.gracePeriod()).UTC().Format(time.RFC1123)
	case "disabled":
		d.CanReenable = true
		if v.DeleteAfter != nil {
			d.DataKeptUntil = v.DeleteAfter.UTC().Format(time.RFC1123)
		}
	}
	return d, nil
}

// graceWords says a grace period the way people do ("7 days").
func graceWords(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

func (s *Server) instancePage(c *gin.Context) {
	s.showInstance(c, http.StatusOK, "")
}

// showInstance renders an instance's page, with an error from a form on it.
func (s *Server) showInstance(c *gin.Context, status int, errMsg string) {
	d, err := s.instanceDetail(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	p := s.page(c, d.Service+" · "+d.Host)
	p.Error = errMsg
	s.render(c, status, console.InstancePage(p, d))
}

// instanceProgress is the htmx fragment. When nothing runs any more it asks
// htmx to reload the page, which then shows what can be done next and
// polls no more.
func (s *Server) instanceProgress(c *gin.Context) {
	d, err := s.instanceDetail(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	if c.GetHeader("HX-Request") == "true" && (!d.Progress.Live || c.Query("shown") != d.Status) {
		c.Header("HX-Refresh", "true")
	}
	s.render(c, http.StatusOK, console.Progress(d.Progress))
}

func setupForm(v instanceView, req setupRequest) console.SetupForm {
	lang := req.Language
	if lang == "" {
		lang = validate.Languages[0]
	}
	return console.SetupForm{InstanceID: v.ID, Host: v.Host, AdminEmail: req.AdminEmail, AdminName: req.AdminName,
		Language: lang, Languages: validate.Languages}
}

func (s *Server) setupPage(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	s.render(c, http.StatusOK, console.SetupPage(s.page(c, "Set up "+v.Host), setupForm(v, setupRequest{})))
}

func (s *Server) setupSubmit(c *gin.Context) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	req := setupRequest{AdminEmail: c.PostForm("admin_email"), AdminName: c.PostForm("admin_name"),
		AdminPassword: c.PostForm("admin_password"), Language: c.PostForm("language")}
	if err := s.sendSetup(c.Request.Context(), v, req); err != nil {
		p := s.page(c, "Set up "+v.Host)
		p.Error = apperr.Message(err)
		s.render(c, apperr.HTTPStatus(err), console.SetupPage(p, setupForm(v, req)))
		return
	}
	s.redirect(c, "/instances/"+v.ID, "Setup accepted: the tables are being created.")
}

// instanceAction runs an operation from a form on the instance's page and
// comes back to it.
func (s *Server) instanceAction(c *gin.Context, op func(instanceView) (string, error)) {
	v, err := s.ownInstance(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	notice, err := op(v)
	if err != nil {
		s.showInstance(c, apperr.HTTPStatus(err), apperr.Message(err))
		return
	}
	s.redirect(c, "/instances/"+v.ID, notice)
}

func (s *Server) modulesSubmit(c *gin.Context) {
	s.instanceAction(c, func(v instanceView) (string, error) {
		_, err := s.startModuleChange(c.Request.Context(), userOf(c), v, c.PostFormArray("modules"))
		return "The module change has started.", err
	})
}

func (s *Server) disableSubmit(c *gin.Context) {
	s.instanceAction(c, func(v instanceView) (string, error) {
		_, until, err := s.startDisable(c.Request.Context(), userOf(c), v)
		return "Disabling: the data is kept until " + until.Format(time.RFC1123) + ".", err
	})
}

func (s *Server) reenableSubmit(c *gin.Context) {
	s.instanceAction(c, func(v instanceView) (string, error) {
		return "Enabled again.", s.reenable(c.Request.Context(), userOf(c), v)
	})
}
