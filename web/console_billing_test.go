package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"tenantry/activities"
	"tenantry/internal/billing"
	"tenantry/internal/billingtest"
	"tenantry/internal/controldb"
	"tenantry/internal/secret"
)

// member adds a user of the given role to an existing account; it returns
// the user's email.
func (s *site) member(accountID, role string) string {
	s.t.Helper()
	email := uuid.NewString()[:8] + "@example.test"
	s.control.AddMember(s.t, accountID, email, secret.HashPassword(password), role)
	return email
}

// billed gives a new account a forum that has run since the start of last
// month, closes last month and returns the account and its invoice.
func (s *site) billed() (string, activities.InvoiceSummary) {
	s.t.Helper()
	ctx := context.Background()
	last := billing.MonthOf(billing.MonthOf(time.Now()).Start.Add(-time.Hour))
	acc, err := billingtest.Account(ctx, s.control.DB, "Acme")
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := billingtest.Instance(ctx, s.control.DB, acc, "forum", "acme-"+uuid.NewString()[:6]+".localhost",
		[]string{"core", "search"}, last.Start); err != nil {
		s.t.Fatal(err)
	}
	inv, err := s.control.Acts.CloseBillingPeriod(ctx, activities.ClosePeriodInput{AccountID: acc, Period: last})
	if err != nil {
		s.t.Fatal(err)
	}
	return acc, inv
}

func TestBillingPagesShowThePeriodAndExplainedInvoices(t *testing.T) {
	s := newSite(t)
	acc, inv := s.billed()
	b := s.browser()
	b.login(s.member(acc, "owner"), password)

	status, _, body := b.do("GET", "/billing", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("/billing: %d", status)
	}
	for _, want := range []string{`href="/billing"`, "This period so far", "search", "Running total", "Projected at the period",
		`href="/billing/invoices/` + inv.ID + `"`, "EUR "} {
		if !strings.Contains(body, want) {
			t.Fatalf("/billing lacks %q", want)
		}
	}

	lines, err := controldb.InvoiceLines(context.Background(), s.control.DB, inv.ID)
	if err != nil || len(lines) == 0 {
		t.Fatalf("invoice lines: %v %d", err, len(lines))
	}
	status, _, body = b.do("GET", "/billing/invoices/"+inv.ID, nil, nil)
	if status != http.StatusOK {
		t.Fatalf("invoice page: %d", status)
	}
	for _, l := range lines {
		if !strings.Contains(body, html.EscapeString(l.Explanation)) {
			t.Fatalf("the invoice page lacks the explanation %q", l.Explanation)
		}
	}
	for _, want := range []string{"Subtotal", "Total", billing.Money(inv.TotalMinor), "/billing/invoices/" + inv.ID + "/csv", "Download CSV"} {
		if !strings.Contains(body, want) {
			t.Fatalf("the invoice page lacks %q", want)
		}
	}

	status, _, body = b.do("GET", "/billing/invoices/"+inv.ID+"/csv", nil, nil)
	if status != http.StatusOK || !strings.HasPrefix(body, "position,kind,") || !strings.Contains(body, "total,") {
		t.Fatalf("CSV download: %d %q", status, body)
	}
}

func TestBillingPagesNeedBillingReadAndTheOwnAccount(t *testing.T) {
	s := newSite(t)
	acc, inv := s.billed()

	m := s.browser()
	m.login(s.member(acc, "member"), password)
	for _, path := range []string{"/billing", "/billing/invoices/" + inv.ID, "/billing/invoices/" + inv.ID + "/csv"} {
		if status, _, _ := m.do("GET", path, nil, nil); status != http.StatusForbidden {
			t.Fatalf("member %s: %d, want 403", path, status)
		}
	}

	other, _ := s.user("owner")
	o := s.browser()
	o.login(other, password)
	for _, path := range []string{"/billing/invoices/" + inv.ID, "/billing/invoices/" + inv.ID + "/csv", "/billing/invoices/not-an-id"} {
		status, _, body := o.do("GET", path, nil, nil)
		if status != http.StatusNotFound || !strings.Contains(body, "<html") {
			t.Fatalf("another account's %s: %d, want the console's 404 page", path, status)
		}
	}
	if status, _, _ := o.do("GET", "/billing", nil, nil); status != http.StatusOK {
		t.Fatalf("another owner's /billing: %d", status)
	}
}

func TestDeveloperBillingPageShowsRevenueAndFailedCloses(t *testing.T) {
	s := newSite(t)
	acc, inv := s.billed()
	if _, err := s.control.DB.Exec(context.Background(), `INSERT INTO billing_close_failures (account_id, period_start, error)
		VALUES ($1, $2, 'the control database was read-only')`, acc, inv.Period.End); err != nil {
		t.Fatal(err)
	}
	dev := s.browser()
	devEmail, _ := s.user("developer")
	dev.login(devEmail, password)
	month := inv.Period.Start.Format("2006-01")
	status, _, body := dev.do("GET", "/dev/billing?month="+month, nil, nil)
	if status != http.StatusOK {
		t.Fatalf("/dev/billing: %d", status)
	}
	for _, want := range []string{`value="` + month + `"`, "<td>forum</td><td>search</td><td>module</td>",
		"Total EUR " + billing.Money(inv.TotalMinor), "the control database was read-only",
		"workflow signal --workflow-id billing/" + acc + " --name retry-close",
		`action="/dev/billing/failures/` + acc + `/retry"`} {
		if !strings.Contains(body, html.EscapeString(want)) && !strings.Contains(body, want) {
			t.Fatalf("/dev/billing lacks %q", want)
		}
	}
	// Another month has no revenue; a malformed one is refused.
	if _, _, body := dev.do("GET", "/dev/billing?month=2001-01", nil, nil); !strings.Contains(body, "No invoice lines") {
		t.Fatal("revenue shown for a month without invoices")
	}
	for path, want := range map[string]int{"/dev/billing?month=November": http.StatusUnprocessableEntity} {
		if status, _, _ := dev.do("GET", path, nil, nil); status != want {
			t.Fatalf("%s: %d, want %d", path, status, want)
		}
	}
	if status, _, _ := dev.do("POST", "/dev/billing/failures/not-an-account/retry", url.Values{}, nil); status != http.StatusUnprocessableEntity {
		t.Fatalf("retry for a malformed account: %d", status)
	}

	owner := s.browser()
	owner.login(s.member(acc, "owner"), password)
	if status, _, _ := owner.do("GET", "/dev/billing", nil, nil); status != http.StatusForbidden {
		t.Fatalf("an account owner reached /dev/billing: %d", status)
	}
	if status, _, _ := owner.do("POST", "/dev/billing/failures/"+acc+"/retry", url.Values{}, nil); status != http.StatusForbidden {
		t.Fatalf("an account owner retried a close: %d", status)
	}
}

func TestBillingPageAnnouncesScheduledPriceChanges(t *testing.T) {
	s := newSite(t)
	acc, _ := s.billed()
	now := time.Now().UTC()
	month := billing.MonthOf(now)
	at := now.Add(month.End.Sub(now) / 2).Truncate(time.Second)
	if _, err := s.control.DB.Exec(context.Background(), `INSERT INTO price_schedule (service, module, effective_at, hourly_price_minor, currency)
		VALUES ('forum', 'search', $1, 9, 'EUR')`, at); err != nil {
		t.Fatal(err)
	}
	b := s.browser()
	b.login(s.member(acc, "owner"), password)
	_, _, body := b.do("GET", "/billing", nil, nil)
	want := "forum · search module: 0.09 EUR/h from " + at.Format("2 Jan 2006 15:04 UTC") + " (counted in the projection)"
	if !strings.Contains(body, html.EscapeString(want)) {
		t.Fatalf("/billing lacks the notice %q", want)
	}
}
