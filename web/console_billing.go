package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/access"
	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/web/console"
)

// consoleBillingRoutes: this period so far, the past invoices, each
// invoice explained and as CSV; the same data as the JSON API's.
func (s *Server) consoleBillingRoutes(in *gin.RouterGroup) {
	read := s.need(access.BillingRead)
	in.GET("/billing", read, s.billingPage)
	in.GET("/billing/invoices/:id", read, s.invoicePage)
	in.GET("/billing/invoices/:id/csv", read, s.invoiceCSVDownload)
}

const dayMinute = "2 Jan 2006 15:04"

func periodWords(p billing.Period) string {
	return p.Start.UTC().Format(dayMinute) + " → " + p.End.UTC().Format(dayMinute) + " UTC"
}

func (s *Server) billingPage(c *gin.Context) {
	now, err := s.currentBilling(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	invoices, err := s.accountInvoices(c.Request.Context(), userOf(c).AccountID)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	b := console.Billing{Period: periodWords(now.Period), AsOf: now.AsOf.Format(dayMinute) + " UTC",
		SoFar: console.Money(now.SoFarMinor, now.Currency), Projected: console.Money(now.ProjectedMinor, now.Currency)}
	for _, u := range now.Usage {
		b.Usage = append(b.Usage, console.BillingUsage{InstanceID: u.InstanceID, Service: u.Service, Host: u.Host,
			Module: u.Module, Hours: billing.Hours(u.Seconds), Running: u.Running,
			SoFar: console.Money(u.SoFarMinor, now.Currency), Projected: console.Money(u.ProjectedMinor, now.Currency)})
	}
	for _, e := range now.Expiring {
		b.Notices = append(b.Notices, e.Warning)
	}
	for _, pc := range now.PriceChanges {
		b.Notices = append(b.Notices, pc.Notice)
	}
	for _, inv := range invoices {
		b.Invoices = append(b.Invoices, console.InvoiceRow{ID: inv.ID, Period: periodWords(inv.Period),
			Total: console.Money(inv.TotalMinor, inv.Currency), Closed: inv.ClosedAt.UTC().Format(time.RFC1123)})
	}
	s.render(c, http.StatusOK, console.BillingPage(s.page(c, "Billing"), b))
}

func (s *Server) invoicePage(c *gin.Context) {
	inv, lines, err := s.ownInvoice(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	s.render(c, http.StatusOK, console.InvoicePage(s.page(c, "Invoice "+periodWords(inv.Period)), invoiceView(inv, lines)))
}

func invoiceView(inv controldb.InvoiceSummary, lines []billing.Line) console.Invoice {
	v := console.Invoice{ID: inv.ID, Period: periodWords(inv.Period), Closed: inv.ClosedAt.UTC().Format(time.RFC1123),
		Subtotal: console.Money(inv.SubtotalMinor, inv.Currency), Discount: console.Money(-inv.DiscountMinor, inv.Currency),
		Total: console.Money(inv.TotalMinor, inv.Currency), HasDiscount: inv.DiscountMinor != 0,
		CSVURL: "/billing/invoices/" + inv.ID + "/csv"}
	for _, l := range lines {
		what := l.Service
		if l.Module != "" {
			what += " · " + l.Module
		}
		v.Lines = append(v.Lines, console.InvoiceLine{Kind: l.Kind, What: what, Explanation: l.Explanation,
			Amount: console.Money(l.AmountMinor, inv.Currency)})
	}
	return v
}

// invoiceCSVDownload is the API's CSV of an invoice, for the console's
// session (a missing invoice answers the console's 404 page).
func (s *Server) invoiceCSVDownload(c *gin.Context) {
	inv, lines, err := s.ownInvoice(c)
	if err != nil {
		s.consoleFail(c, err)
		return
	}
	writeInvoiceCSV(c, inv, lines)
}
