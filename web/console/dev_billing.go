package console

// DevBilling is the developers' billing page: revenue per service and
// module for a month, and the closes that failed with how to retry them.
type DevBilling struct {
	Month    string // 2026-11, the month shown and the picker's value
	Period   string // "1 Nov 2026 → 1 Dec 2026 UTC"
	Revenue  []DevRevenue
	Totals   []string // one per currency, e.g. "EUR 1234.56"
	Failures []DevCloseFailure
}

// DevRevenue is one service × module × kind of line of the month's invoices.
type DevRevenue struct {
	Service, Module, Kind string
	Accounts              int64
	Quantity              string // hours for modules, requests for metered usage
	Amount                string
}

// DevCloseFailure is an account whose period close failed.
type DevCloseFailure struct {
	AccountID, Account string
	Period             string
	Error              string
	Attempts           int
	LastAt             string
	WorkflowID         string
	Retry              string // the CLI command
}
