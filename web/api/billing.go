package api

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/internal/platform"
	"tenantry/workflows"
)

func (a *API) billingCurrent(c *gin.Context) {
	v, err := a.P.CurrentBilling(c.Request.Context(), who(c))
	a.answer(c, http.StatusOK, v, err)
}

func (a *API) listInvoices(c *gin.Context) {
	list, err := a.P.Invoices(c.Request.Context(), who(c))
	a.answer(c, http.StatusOK, gin.H{"invoices": list}, err)
}

func (a *API) getInvoice(c *gin.Context) {
	inv, lines, err := a.P.Invoice(c.Request.Context(), who(c), c.Param("id"))
	a.answer(c, http.StatusOK, gin.H{"invoice": inv, "lines": lines}, err)
}

// invoiceCSV is the invoice as a spreadsheet.
func (a *API) invoiceCSV(c *gin.Context) {
	inv, lines, err := a.P.Invoice(c.Request.Context(), who(c), c.Param("id"))
	if err != nil {
		a.fail(c, err)
		return
	}
	ServeInvoiceCSV(c, inv, lines)
}

// ServeInvoiceCSV answers with an invoice's CSV download (the API's and
// the console's).
func ServeInvoiceCSV(c *gin.Context, inv controldb.InvoiceSummary, lines []billing.Line) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, platform.InvoiceFileName(inv)))
	_ = platform.WriteInvoiceCSV(c.Writer, inv, lines)
}

// grantDiscount gives an account a discount (billing operators); it
// applies from the period that holds valid_from.
func (a *API) grantDiscount(c *gin.Context) {
	var in controldb.DiscountInput
	if err := bindJSON(c, &in); err != nil {
		a.fail(c, err)
		return
	}
	id, err := a.P.GrantDiscount(c.Request.Context(), who(c), in)
	a.answer(c, http.StatusCreated, gin.H{"id": id}, err)
}

func (a *API) revenue(c *gin.Context) {
	from, to, err := platform.RevenueRange(c.Query("month"), c.Query("from"), c.Query("to"), a.Clock())
	if err != nil {
		a.fail(c, err)
		return
	}
	list, total, err := a.P.Revenue(c.Request.Context(), who(c), from, to)
	a.answer(c, http.StatusOK, gin.H{"from": from, "to": to, "rows": list, "total_minor": total}, err)
}

func (a *API) listCloseFailures(c *gin.Context) {
	list, err := a.P.CloseFailures(c.Request.Context(), who(c))
	a.answer(c, http.StatusOK, gin.H{"failures": list}, err)
}

func (a *API) retryCloseNow(c *gin.Context) {
	account := c.Param("account")
	err := a.P.RetryClose(c.Request.Context(), who(c), account)
	a.answer(c, http.StatusAccepted, gin.H{"workflow_id": workflows.BillingCycleID(account)}, err)
}
