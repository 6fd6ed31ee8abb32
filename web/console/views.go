// Package console serves the browser console: gin handlers beside the
// templ pages they render. Handlers read forms, call the platform layer
// with the session's principal and fill plain view structs; the pages take
// only those structs. Errors are shown as a page; SQL and workflow starts
// live in the platform layer.
package console

import (
	"fmt"
	"strings"

	"tenantry/internal/billing"
)

// Page is what every page's frame needs.
type Page struct {
	Title string
	// User is the signed-in user's email; empty for anonymous pages.
	User    string
	Account string
	// Developer shows the link to the developers' pages; BillingOperator
	// the link to the billing operations page.
	Developer, BillingOperator bool
	// Owner shows the link to the service broker's credentials.
	Owner bool
	// Accounts are the user's accounts, for switching (shown when more
	// than one).
	Accounts []AccountChoice
	// Error is shown above the page's content (what went wrong, what to do).
	Error string
	// Notice is a neutral message (what just happened).
	Notice string
}

// LoginForm refills the login page after a refusal.
type LoginForm struct{ Email string }

// SignupForm refills the signup page after a refusal.
type SignupForm struct{ Email, Name, AccountName string }

// Dashboard lists the account's instances.
type Dashboard struct {
	Instances    []InstanceRow
	MonthlyTotal string
}

// InstanceRow is one line of the dashboard.
type InstanceRow struct {
	ID, Service, Version, Status, Host, Monthly string
	Modules                                     []string
}

// Module is one module as a checkbox with its price.
type Module struct {
	Name, Description, Monthly string
	Required, Checked          bool
}

// ServiceOption is one service of the catalog on the enable page.
type ServiceOption struct {
	Name, Description, Version string
	Modules                    []Module
}

// EnableForm is the enable page: the catalog, what was chosen, and the
// estimate for it.
type EnableForm struct {
	Services []ServiceOption
	Service  string
	Host     string
	Estimate string
	// PriceRule says how the monthly price is computed.
	PriceRule string
}

// InstanceDetail is one instance's page.
type InstanceDetail struct {
	ID, Service, Version, Status, Host, Monthly, FailureReason string
	Modules                                                    []Module
	// Maintenance: the instance is being upgraded to a new version.
	Maintenance bool
	// DataKeptUntil is set while the instance is disabled.
	DataKeptUntil string
	GracePeriod   string
	CanChange     bool
	CanDisable    bool
	CanReenable   bool
	Progress      ProgressView
	Jobs          JobsView
}

// ProgressView is the live part of an instance's page.
type ProgressView struct {
	InstanceID string
	// Live keeps the page polling: some workflow is still running.
	Live      bool
	Workflows []WorkflowProgress
	// ShownStatus is the instance's status on the page: when it changes,
	// the whole page is reloaded.
	ShownStatus string
	// SetupURL is set while provisioning waits for the setup page.
	SetupURL string
}

// WorkflowProgress is one workflow's progress report.
type WorkflowProgress struct {
	Title, WorkflowID, Status, Error string
	Percent                          int
	Steps                            []StepRow
}

// StepRow is one step: its state, how long it took, and why it failed.
type StepRow struct{ Title, State, Duration, Error string }

// SetupForm refills the setup page after a refusal.
type SetupForm struct {
	InstanceID, Host, AdminEmail, AdminName, Language string
	Languages                                         []string
}

// Money formats minor units (cents) with the currency, e.g. "EUR 21.60",
// the amount as invoices write it (billing.Money).
func Money(minor int64, currency string) string {
	return currency + " " + billing.Money(minor)
}

func instanceURL(id string) string { return "/instances/" + id }

func itoa(n int) string { return fmt.Sprint(n) }

// Team is the account's members and, for an owner, the forms to invite and
// to change roles.
type Team struct {
	Members   []Member
	Roles     []string
	CanManage bool
}

// Member is one user of the account.
type Member struct {
	ID, Email, Name, Role string
	You                   bool
}

// Event is one line of the account's timeline.
type Event struct{ At, Actor, Action, ObjectType, ObjectID, Detail string }

// Tokens is the user's API tokens and the form to make one.
type Tokens struct {
	List []Token
	// Permissions are what a new token may be scoped to.
	Permissions []string
	// Created is a token just made, shown this once.
	Created string
}

// Token is one API token (never its secret).
type Token struct{ ID, Name, Permissions, Expires, Created, State string }

// Docs is the JSON API's documentation page.
type Docs struct {
	Title, Description string
	Endpoints          []Endpoint
}

// Endpoint is one operation of the JSON API.
type Endpoint struct {
	Method, Path, Summary, Request string
	Responses                      []string
}

// DevFilter narrows the developers' list of instances.
type DevFilter struct {
	Service, Status, Host string
	Services, Statuses    []string
}

// DevInstance is one instance of any account.
type DevInstance struct {
	ID, Account, Service, Version, Status, Host, Created string
	Modules                                              []string
}

// DevInstanceDetail is an instance with every workflow that touched it.
type DevInstanceDetail struct {
	ID, Service, Version, Status, Host, Database, FailureReason, ListCommand string
	Modules                                                                  []string
	Workflows                                                                []DevWorkflow
}

// DevWorkflow is one workflow execution with the ways to look into it.
type DevWorkflow struct {
	ID, RunID, Type, Status, Started, Closed, Progress, Reason string
	// Cause is what operators need beyond Reason (a migration's SQL error).
	Cause                   string
	UILink, Describe, Reset string
}

// DevService is one service of the catalog.
type DevService struct {
	Name, Description, Current string
	Versions, Permissions      []string
	Modules                    []Module
	Prices                     []DevPrice
}

// DevPrice is one scheduled price change of a module: Status is scheduled,
// applied or cancelled, Shown says it with its time.
type DevPrice struct {
	Module, From, Price, Status, Shown, WorkflowID, Describe string
}

func joinComma(s []string) string { return strings.Join(s, ", ") }

// Billing is the billing page: this period so far and the past invoices.
type Billing struct {
	// Period is the current period, e.g. "1 Nov 2026 00:00 → 1 Dec 2026 00:00 UTC".
	Period, AsOf string
	// SoFar is the running total; Projected the total at the period's end
	// if nothing changes.
	SoFar, Projected string
	Usage            []BillingUsage
	// Notices warn of instances that end soon and of scheduled price changes.
	Notices  []string
	Invoices []InvoiceRow
}

// BillingUsage is one instance × module of the period so far.
type BillingUsage struct {
	InstanceID, Service, Host, Module, Hours, SoFar, Projected string
	Running                                                    bool
}

// InvoiceRow is one past invoice in the list.
type InvoiceRow struct{ ID, Period, Total, Closed string }

// Invoice is one invoice's page: its explained lines and totals.
type Invoice struct {
	ID, Period, Closed, Subtotal, Discount, Total, CSVURL string
	HasDiscount                                           bool
	Lines                                                 []InvoiceLine
}

// InvoiceLine is one line of an invoice with what it is and why it costs
// what it does.
type InvoiceLine struct{ Kind, What, Explanation, Amount string }

func invoiceURL(id string) string { return "/billing/invoices/" + id }

// AccountChoice is one of the user's accounts in the switcher.
type AccountChoice struct {
	ID, Name, Role string
	Current        bool
}

// PlatformTeam is who holds a platform role, and the form to grant one.
type PlatformTeam struct {
	Grants []PlatformGrant
	Roles  []string
	// Command is the shell equivalent of the grant form.
	Command string
}

// PlatformGrant is one user's platform role.
type PlatformGrant struct{ UserID, Email, Name, Role, Granted string }

// LogsView is an instance's log, the oldest shown line first.
type LogsView struct {
	InstanceID, Host, Command string
	Shown                     int
	Lines                     []LogRow
}

// LogRow is one log line: a request ("GET /b/general") or an event
// ("instance.maintenance on=true").
type LogRow struct{ At, Kind, What, Status, Took string }
