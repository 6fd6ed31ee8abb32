package web

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/billing"
	"tenantry/web/console"
)

// devBillingRoutes: the developers' billing page (revenue and failed
// closes) and its retry button, inside the developers' group.
func (s *Server) devBillingRoutes(dev *gin.RouterGroup) {
	dev.GET("/billing", s.devBillingPage)
	dev.POST("/billing/failures/:account/retry", s.devRetryClose)
}

func (s *Server) devBillingPage(c *gin.Context) {
	from, to, err := periodQuery(c, s.Clock())
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	ctx := c.Request.Context()
	rows, _, err := s.revenueOf(ctx, from, to)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	failures, err := s.closeFailures(ctx)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	v := console.DevBilling{Month: from.Format("2006-01"),
		Period: from.Format("2 Jan 2006 15:04") + " → " + to.Format("2 Jan 2006 15:04") + " UTC"}
	totals, currencies := map[string]int64{}, []string{}
	for _, r := range rows {
		quantity := billing.Hours(r.Quantity) + " h"
		if r.Kind != billing.KindModule {
			quantity = strconv.FormatInt(r.Quantity, 10)
		}
		v.Revenue = append(v.Revenue, console.DevRevenue{Service: r.Service, Module: r.Module, Kind: r.Kind,
			Accounts: r.Accounts, Quantity: quantity, Amount: console.Money(r.AmountMinor, r.Currency)})
		if _, ok := totals[r.Currency]; !ok {
			currencies = append(currencies, r.Currency)
		}
		totals[r.Currency] += r.AmountMinor
	}
	for _, cur := range currencies {
		v.Totals = append(v.Totals, console.Money(totals[cur], cur))
	}
	for _, f := range failures {
		v.Failures = append(v.Failures, console.DevCloseFailure{AccountID: f.AccountID, Account: f.AccountName,
			Period: f.PeriodStart.UTC().Format("2 Jan 2006 15:04 UTC"), Error: f.Error, Attempts: f.Attempts,
			LastAt: f.LastAt.UTC().Format(time.DateTime), WorkflowID: f.WorkflowID, Retry: f.Retry})
	}
	s.render(c, 200, console.DevBillingPage(s.page(c, "Billing of every account"), v))
}

func (s *Server) devRetryClose(c *gin.Context) {
	if err := s.retryClose(c.Request.Context(), c.Param("account")); err != nil {
		s.consoleFail(c, err)
		return
	}
	s.redirect(c, "/dev/billing", "Asked the billing cycle to close again; the failure disappears from this list once it succeeds.")
}
