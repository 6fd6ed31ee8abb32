package console

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/catalog"
	"tenantry/internal/platform"
	"tenantry/internal/validate"
	"tenantry/workflows"
)

func (k *Console) dashboardPage(c *gin.Context) {
	list, err := k.P.Instances(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	var d Dashboard
	totals := map[string]int64{}
	var currency string
	for _, v := range list {
		price, cur := k.P.Monthly(v.Service, v.Modules)
		if v.Status == "ready" {
			totals[cur] += price
			currency = cur
		}
		d.Instances = append(d.Instances, InstanceRow{ID: v.ID, Service: v.Service, Version: v.Version,
			Status: v.Status, Host: v.Host, Modules: v.Modules, Monthly: monthlyWords(v.Status, price, cur)})
	}
	if currency == "" && len(list) > 0 {
		_, currency = k.P.Monthly(list[0].Service, nil)
	}
	d.MonthlyTotal = Money(totals[currency], currency)
	k.render(c, http.StatusOK, DashboardPage(k.page(c, "Your services"), d))
}

// monthlyWords is an instance's monthly price; only a ready or
// provisioning instance's modules are billed.
func monthlyWords(status string, price int64, currency string) string {
	if status == "disabled" || status == "failed" {
		return "not billed (" + status + ")"
	}
	return Money(price, currency)
}

// moduleChoices lists the modules a version of a service offers as
// checkboxes, chosen ones checked, each at the price in effect now (a
// scheduled change counts from its instant); an empty version lists every
// module.
func moduleChoices(svc *catalog.Service, version string, chosen []string, now time.Time) []Module {
	on := map[string]bool{}
	for _, m := range chosen {
		on[m] = true
	}
	offered, err := svc.OfferedModules(version)
	out := make([]Module, 0, len(svc.Modules))
	for _, m := range svc.Modules {
		if version != "" && err == nil && !slices.Contains(offered, m.Name) {
			continue
		}
		price, _ := m.PriceAt(now)
		out = append(out, Module{Name: m.Name, Description: m.Description, Required: m.Required,
			Checked: m.Required || on[m.Name], Monthly: Money(price*platform.HoursPerMonth, svc.Currency)})
	}
	return out
}

// enableChoice reads the enable form (or its query for the estimate).
func enableChoice(values func(string) []string) platform.EnableInput {
	first := func(k string) string {
		if v := values(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	svc := first("service")
	return platform.EnableInput{Service: svc, Host: first("host"), Modules: values("modules." + svc)}
}

// estimate prices a choice; it says what is wrong with an impossible one.
func (k *Console) estimate(ctx context.Context, req platform.EnableInput) string {
	price, cur, err := k.P.Estimate(ctx, req.Service, req.Modules)
	if err != nil {
		return apperr.Message(err)
	}
	return Money(price, cur)
}

// enableForm offers each service's modules of the version a new instance
// gets. Should the control database not answer, it offers the manifest's
// current version: the page still shows, and the enable itself, which
// checks again, answers the outage.
func (k *Console) enableForm(ctx context.Context, req platform.EnableInput) EnableForm {
	f := EnableForm{Service: req.Service, Host: req.Host, PriceRule: platform.PriceRule}
	versions, _ := k.P.NewInstanceVersions(ctx)
	for _, name := range k.P.ServiceNames() {
		svc, _ := k.P.Service(name)
		chosen := []string(nil)
		if name == req.Service {
			chosen = req.Modules
		}
		version := cmp.Or(versions[name], svc.CurrentVersion)
		f.Services = append(f.Services, ServiceOption{Name: svc.Name, Description: svc.Description,
			Version: version, Modules: moduleChoices(svc, version, chosen, k.Clock())})
	}
	if f.Service == "" && len(f.Services) > 0 {
		f.Service = f.Services[0].Name
	}
	f.Estimate = k.estimate(ctx, platform.EnableInput{Service: f.Service, Modules: req.Modules})
	return f
}

func (k *Console) enablePage(c *gin.Context) {
	req := enableChoice(c.QueryArray)
	k.render(c, http.StatusOK, EnablePage(k.page(c, "Enable a service"), k.enableForm(c.Request.Context(), req)))
}

func (k *Console) enableEstimate(c *gin.Context) {
	k.render(c, http.StatusOK, Estimate(k.estimate(c.Request.Context(), enableChoice(c.QueryArray))))
}

func (k *Console) enableSubmit(c *gin.Context) {
	req := enableChoice(c.PostFormArray)
	v, err := k.P.Enable(c.Request.Context(), who(c), req)
	if err != nil {
		p := k.page(c, "Enable a service")
		p.Error = apperr.Message(err)
		k.render(c, apperr.HTTPStatus(err), EnablePage(p, k.enableForm(c.Request.Context(), req)))
		return
	}
	k.redirect(c, "/instances/"+v.ID, "Provisioning has started: follow it below.")
}

var workflowTitles = map[string]string{platform.KindEnable: "Provisioning", platform.KindChangeModules: "Module change",
	platform.KindDisable: "Disable"}

// progressView turns the workflows' progress reports into the live panel.
func progressView(id string, flows []platform.InstanceWorkflow, now time.Time) ProgressView {
	v := ProgressView{InstanceID: id}
	for _, w := range flows {
		wp := WorkflowProgress{Title: workflowTitles[w.Kind], WorkflowID: w.WorkflowID, Status: "starting"}
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
			// A waiting step says what it waits for (room on a database server).
			row := StepRow{Title: st.Title, State: string(st.State), Error: cmp.Or(st.Error, st.Note)}
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
func waitsForSetup(v platform.Instance) bool {
	for _, w := range v.Workflows {
		if w.Kind == platform.KindEnable && w.Progress != nil && w.Progress.Status == workflows.StatusWaiting {
			return true
		}
	}
	return false
}

func (k *Console) instanceDetail(c *gin.Context) (InstanceDetail, error) {
	u := who(c)
	v, err := k.P.InstanceWithProgress(c.Request.Context(), u, c.Param("id"))
	if err != nil {
		return InstanceDetail{}, err
	}
	price, cur := k.P.Monthly(v.Service, v.Modules)
	d := InstanceDetail{ID: v.ID, Service: v.Service, Version: v.Version, Status: v.Status, Host: v.Host, Maintenance: v.Maintenance,
		Monthly: monthlyWords(v.Status, price, cur), FailureReason: v.FailureReason, GracePeriod: graceWords(k.P.Grace()),
		Progress: progressView(v.ID, v.Workflows, k.Clock())}
	d.Progress.ShownStatus = v.Status
	if waitsForSetup(v) {
		// Keep following: the setup may also come through the API.
		d.Progress.SetupURL, d.Progress.Live = "/instances/"+v.ID+"/setup", true
	}
	if svc, err := k.P.Service(v.Service); err == nil {
		d.Modules = moduleChoices(svc, v.Version, v.Modules, k.Clock())
	}
	if d.Jobs, err = k.instanceJobs(c, v); err != nil {
		return d, err
	}
	if !u.Can(access.InstancesManage) {
		return d, nil
	}
	switch v.Status {
	case "ready":
		d.CanChange, d.CanDisable = !d.Progress.Live && !v.Maintenance, !d.Progress.Live && !v.Maintenance
		d.DataKeptUntil = k.Clock().Add(k.P.Grace()).UTC().Format(time.RFC1123)
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

func (k *Console) instancePage(c *gin.Context) { k.showInstance(c, http.StatusOK, "") }

// showInstance renders an instance's page, with an error from a form on it.
func (k *Console) showInstance(c *gin.Context, status int, errMsg string) {
	d, err := k.instanceDetail(c)
	if err != nil {
		k.fail(c, err)
		return
	}
	p := k.page(c, d.Service+" · "+d.Host)
	p.Error = errMsg
	k.render(c, status, InstancePage(p, d))
}

// instanceProgress is the htmx fragment. When nothing runs any more it asks
// htmx to reload the page, which then shows what can be done next and
// polls no more.
func (k *Console) instanceProgress(c *gin.Context) {
	d, err := k.instanceDetail(c)
	if err != nil {
		k.fail(c, err)
		return
	}
	if c.GetHeader("HX-Request") == "true" && (!d.Progress.Live || c.Query("shown") != d.Status) {
		c.Header("HX-Refresh", "true")
	}
	k.render(c, http.StatusOK, Progress(d.Progress))
}

func setupForm(v platform.Instance, req platform.SetupInput) SetupForm {
	lang := req.Language
	if lang == "" {
		lang = validate.Languages[0]
	}
	return SetupForm{InstanceID: v.ID, Host: v.Host, AdminEmail: req.AdminEmail, AdminName: req.AdminName,
		Language: lang, Languages: validate.Languages}
}

func (k *Console) setupPage(c *gin.Context) {
	v, err := k.P.Instance(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	k.render(c, http.StatusOK, SetupPage(k.page(c, "Set up "+v.Host), setupForm(v, platform.SetupInput{})))
}

func (k *Console) setupSubmit(c *gin.Context) {
	ctx := c.Request.Context()
	v, err := k.P.Instance(ctx, who(c), c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	req := platform.SetupInput{AdminEmail: c.PostForm("admin_email"), AdminName: c.PostForm("admin_name"),
		AdminPassword: c.PostForm("admin_password"), Language: c.PostForm("language")}
	if err := k.P.Setup(ctx, who(c), v.ID, req); err != nil {
		if apperr.KindOf(err) == apperr.KindForbidden {
			k.fail(c, err)
			return
		}
		p := k.page(c, "Set up "+v.Host)
		p.Error = apperr.Message(err)
		k.render(c, apperr.HTTPStatus(err), SetupPage(p, setupForm(v, req)))
		return
	}
	k.redirect(c, "/instances/"+v.ID, "Setup accepted: the tables are being created.")
}

// instanceAction runs an operation from a form on the instance's page and
// comes back to it; another account's instance is the 404 page.
func (k *Console) instanceAction(c *gin.Context, op func(id string) (string, error)) {
	v, err := k.P.Instance(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	notice, err := op(v.ID)
	if err != nil {
		k.showInstance(c, apperr.HTTPStatus(err), apperr.Message(err))
		return
	}
	k.redirect(c, "/instances/"+v.ID, notice)
}

func (k *Console) modulesSubmit(c *gin.Context) {
	k.instanceAction(c, func(id string) (string, error) {
		_, err := k.P.ChangeModules(c.Request.Context(), who(c), id, c.PostFormArray("modules"))
		return "The module change has started.", err
	})
}

func (k *Console) disableSubmit(c *gin.Context) {
	k.instanceAction(c, func(id string) (string, error) {
		d, err := k.P.Disable(c.Request.Context(), who(c), id)
		return "Disabling: the data is kept until " + d.DataKeptUntil.Format(time.RFC1123) + ".", err
	})
}

func (k *Console) reenableSubmit(c *gin.Context) {
	k.instanceAction(c, func(id string) (string, error) {
		return "Enabled again.", k.P.Reenable(c.Request.Context(), who(c), id)
	})
}
