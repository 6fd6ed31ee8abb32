package console

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/web/api"
)

const dayMinute = "2 Jan 2006 15:04"

func periodWords(p billing.Period) string {
	return p.Start.UTC().Format(dayMinute) + " → " + p.End.UTC().Format(dayMinute) + " UTC"
}

// billingPage: this period so far and the past invoices, the same data as
// the JSON API's.
func (k *Console) billingPage(c *gin.Context) {
	ctx := c.Request.Context()
	now, err := k.P.CurrentBilling(ctx, who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	invoices, err := k.P.Invoices(ctx, who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	b := Billing{Period: periodWords(now.Period), AsOf: now.AsOf.Format(dayMinute) + " UTC",
		SoFar: Money(now.SoFarMinor, now.Currency), Projected: Money(now.ProjectedMinor, now.Currency)}
	for _, u := range now.Usage {
		b.Usage = append(b.Usage, BillingUsage{InstanceID: u.InstanceID, Service: u.Service, Host: u.Host,
			Module: u.Module, Hours: billing.Hours(u.Seconds), Running: u.Running,
			SoFar: Money(u.SoFarMinor, now.Currency), Projected: Money(u.ProjectedMinor, now.Currency)})
	}
	for _, e := range now.Expiring {
		b.Notices = append(b.Notices, e.Warning)
	}
	for _, pc := range now.PriceChanges {
		b.Notices = append(b.Notices, pc.Notice)
	}
	for _, inv := range invoices {
		b.Invoices = append(b.Invoices, InvoiceRow{ID: inv.ID, Period: periodWords(inv.Period),
			Total: Money(inv.TotalMinor, inv.Currency), Closed: inv.ClosedAt.UTC().Format(time.RFC1123)})
	}
	k.render(c, http.StatusOK, BillingPage(k.page(c, "Billing"), b))
}

func (k *Console) invoicePage(c *gin.Context) {
	inv, lines, err := k.P.Invoice(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	k.render(c, http.StatusOK, InvoicePage(k.page(c, "Invoice "+periodWords(inv.Period)), invoiceView(inv, lines)))
}

func invoiceView(inv controldb.InvoiceSummary, lines []billing.Line) Invoice {
	v := Invoice{ID: inv.ID, Period: periodWords(inv.Period), Closed: inv.ClosedAt.UTC().Format(time.RFC1123),
		Subtotal: Money(inv.SubtotalMinor, inv.Currency), Discount: Money(-inv.DiscountMinor, inv.Currency),
		Total: Money(inv.TotalMinor, inv.Currency), HasDiscount: inv.DiscountMinor != 0,
		CSVURL: "/billing/invoices/" + inv.ID + "/csv"}
	for _, l := range lines {
		what := l.Service
		if l.Module != "" {
			what += " · " + l.Module
		}
		v.Lines = append(v.Lines, InvoiceLine{Kind: l.Kind, What: what, Explanation: l.Explanation,
			Amount: Money(l.AmountMinor, inv.Currency)})
	}
	return v
}

// invoiceCSVDownload is the API's CSV of an invoice, for the console's
// session (a missing invoice answers the console's 404 page).
func (k *Console) invoiceCSVDownload(c *gin.Context) {
	inv, lines, err := k.P.Invoice(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		k.fail(c, err)
		return
	}
	api.ServeInvoiceCSV(c, inv, lines)
}
