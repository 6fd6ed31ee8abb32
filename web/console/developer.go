package console

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/platform"
)

// The platform's pages: developers see every account, billing operators
// its billing.

func (k *Console) devInstancesPage(c *gin.Context) {
	f := DevFilter{Service: c.Query("service"), Status: c.Query("status"), Host: strings.TrimSpace(c.Query("host"))}
	list, accounts, err := k.P.AllInstances(c.Request.Context(), who(c), platform.InstanceFilter{Service: f.Service, Status: f.Status, Host: f.Host})
	if err != nil {
		k.fail(c, err)
		return
	}
	rows := make([]DevInstance, len(list))
	for i, d := range list {
		rows[i] = DevInstance{ID: d.ID, Account: d.Account, Service: d.Service, Version: d.Version, Status: d.Status,
			Host: d.Host, Modules: d.Modules, Created: d.CreatedAt.UTC().Format(time.DateTime)}
	}
	f.Services, f.Statuses = k.P.ServiceNames(), platform.InstanceStatuses
	k.render(c, http.StatusOK, DevInstancesPage(k.page(c, "All instances"), f, rows, accounts))
}

func devRuns(runs []platform.WorkflowRun) []DevWorkflow {
	out := make([]DevWorkflow, len(runs))
	for i, r := range runs {
		out[i] = DevWorkflow{ID: r.ID, RunID: r.RunID, Type: r.Type, Status: r.Status, Started: r.Started.Format(time.DateTime),
			Progress: r.Progress, Reason: cmp.Or(r.Note, r.Reason), Cause: r.Cause, UILink: r.UILink, Describe: r.Describe, Reset: r.Reset}
		if r.Closed != nil {
			out[i].Closed = r.Closed.Format(time.DateTime)
		}
	}
	return out
}

func (k *Console) devInstancePage(c *gin.Context) {
	v, err := k.P.AnyInstance(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	d := DevInstanceDetail{ID: v.ID, Service: v.Service, Version: v.Version, Status: v.Status, Host: v.Host,
		Database: v.Database, FailureReason: v.FailureReason, Modules: v.Modules, Workflows: devRuns(v.Runs), ListCommand: v.ListCommand}
	k.render(c, http.StatusOK, DevInstancePage(k.page(c, v.Service+" · "+v.Host), d))
}

func (k *Console) devProblemsPage(c *gin.Context) {
	failed, stuck, err := k.P.Problems(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	waiting, err := k.P.WaitingForRoom(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	k.render(c, http.StatusOK, DevProblemsPage(k.page(c, "Failed and stuck workflows"), devRuns(failed), devRuns(stuck),
		devRuns(waiting)))
}

func (k *Console) devCatalogPage(c *gin.Context) {
	schedule, err := k.P.PriceSchedule(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	versions, err := k.P.NewInstanceVersions(c.Request.Context())
	if err != nil {
		k.fail(c, err)
		return
	}
	var out []DevService
	for _, name := range k.P.ServiceNames() {
		svc, _ := k.P.Service(name)
		d := DevService{Name: svc.Name, Description: svc.Description, Current: versions[name],
			Modules: moduleChoices(svc, "", nil, k.Clock())}
		for _, v := range svc.Versions {
			line := fmt.Sprintf("%s (schema %d)", v.Version, v.SchemaVersion)
			if v.Modules != nil {
				line += " offers only " + strings.Join(v.Modules, " + ")
			}
			d.Versions = append(d.Versions, line)
		}
		for _, p := range svc.Permissions {
			d.Permissions = append(d.Permissions, p.Name+": "+p.Description)
		}
		for _, p := range schedule {
			if p.Service == svc.Name {
				d.Prices = append(d.Prices, devPrice(p))
			}
		}
		out = append(out, d)
	}
	k.render(c, http.StatusOK, DevCatalogPage(k.page(c, "Service catalog"), out))
}

// devPrice shows one scheduled price change with its workflow.
func devPrice(p platform.ScheduledPrice) DevPrice {
	d := DevPrice{Module: p.Module, From: p.EffectiveAt.Format("2 Jan 2006 15:04 UTC"),
		Price: Money(p.HourlyPriceMinor, p.Currency) + "/h", Status: p.Status, Shown: p.Status, WorkflowID: p.WorkflowID,
		Describe: p.Describe}
	switch {
	case p.AppliedAt != nil:
		d.Shown = "applied at " + p.AppliedAt.Format(time.DateTime) + " UTC"
	case p.CancelledAt != nil:
		d.Shown = "cancelled at " + p.CancelledAt.Format(time.DateTime) + " UTC"
	}
	return d
}

func (k *Console) devBillingPage(c *gin.Context) {
	from, to, err := platform.RevenueRange(c.Query("month"), c.Query("from"), c.Query("to"), k.Clock())
	if err != nil {
		k.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	rows, _, err := k.P.Revenue(ctx, who(c), from, to)
	if err != nil {
		k.fail(c, err)
		return
	}
	failures, err := k.P.CloseFailures(ctx, who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	v := DevBilling{Month: from.Format("2006-01"),
		Period: from.Format("2 Jan 2006 15:04") + " → " + to.Format("2 Jan 2006 15:04") + " UTC"}
	totals, currencies := map[string]int64{}, []string{}
	for _, r := range rows {
		quantity := billing.Hours(r.Quantity) + " h"
		if r.Kind != billing.KindModule {
			quantity = strconv.FormatInt(r.Quantity, 10)
		}
		v.Revenue = append(v.Revenue, DevRevenue{Service: r.Service, Module: r.Module, Kind: r.Kind,
			Accounts: r.Accounts, Quantity: quantity, Amount: Money(r.AmountMinor, r.Currency)})
		if _, ok := totals[r.Currency]; !ok {
			currencies = append(currencies, r.Currency)
		}
		totals[r.Currency] += r.AmountMinor
	}
	for _, cur := range currencies {
		v.Totals = append(v.Totals, Money(totals[cur], cur))
	}
	for _, f := range failures {
		v.Failures = append(v.Failures, DevCloseFailure{AccountID: f.AccountID, Account: f.AccountName,
			Period: f.PeriodStart.UTC().Format("2 Jan 2006 15:04 UTC"), Error: f.Error, Attempts: f.Attempts,
			LastAt: f.LastAt.UTC().Format(time.DateTime), WorkflowID: f.WorkflowID, Retry: f.Retry})
	}
	k.render(c, http.StatusOK, DevBillingPage(k.page(c, "Billing of every account"), v))
}

func (k *Console) devRetryClose(c *gin.Context) {
	if err := k.P.RetryClose(c.Request.Context(), who(c), c.Param("account")); err != nil {
		k.fail(c, err)
		return
	}
	k.redirect(c, "/dev/billing", "Asked the billing cycle to close again; the failure disappears from this list once it succeeds.")
}

func (k *Console) showDevTeam(c *gin.Context, status int, errMsg string) {
	list, err := k.P.PlatformTeam(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	t := PlatformTeam{Roles: access.PlatformRoles, Command: "tenantry grant --email <email> --role <developer|billing-operator>"}
	for _, g := range list {
		granted := g.CreatedAt.UTC().Format(time.DateTime)
		if g.GrantedBy != "" {
			granted += " by " + g.GrantedBy
		}
		t.Grants = append(t.Grants, PlatformGrant{UserID: g.UserID, Email: g.Email, Name: g.Name, Role: g.Role, Granted: granted})
	}
	p := k.page(c, "Platform team")
	p.Error = errMsg
	k.render(c, status, DevTeamPage(p, t))
}

func (k *Console) devTeamPage(c *gin.Context) { k.showDevTeam(c, http.StatusOK, "") }

func (k *Console) devGrantSubmit(c *gin.Context) {
	g, err := k.P.GrantPlatformRole(c.Request.Context(), who(c), c.PostForm("email"), c.PostForm("role"))
	if err != nil {
		k.showDevTeam(c, apperr.HTTPStatus(err), apperr.Message(err))
		return
	}
	k.redirect(c, "/dev/team", g.Email+" is now "+g.Role+".")
}

func (k *Console) devRevokeSubmit(c *gin.Context) {
	if err := k.P.RevokePlatformRole(c.Request.Context(), who(c), c.Param("user"), c.Param("role")); err != nil {
		k.showDevTeam(c, apperr.HTTPStatus(err), apperr.Message(err))
		return
	}
	k.redirect(c, "/dev/team", "Role revoked.")
}
