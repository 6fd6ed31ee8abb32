// Package client is a small typed Go client for Tenantry's JSON API (the
// paths of web/api/openapi.json): one method per endpoint, the platform
// layer's own types on the wire, and every refusal as an *Error that
// carries the API's status and message. The tenantry command's client
// commands (internal/cli) and tests use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tenantry/internal/billing"
	"tenantry/internal/controldb"
	"tenantry/internal/platform"
)

// Client talks to one Tenantry web server.
type Client struct {
	// BaseURL is the web server, e.g. http://127.0.0.1:8080 (no /api).
	BaseURL string
	// Token is the bearer token: a login token or an API token.
	Token string
	// HTTP sends the requests; nil is a client with a 30 s timeout.
	HTTP *http.Client
}

// New is a client of the server at baseURL with token (may be empty).
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

// Error is the API's refusal: its HTTP status and its message.
type Error struct {
	Status  int    `json:"status,omitempty"`
	Message string `json:"error"`
}

func (e *Error) Error() string { return e.Message }

// StatusOf is the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

var defaultHTTP = &http.Client{Timeout: 30 * time.Second}

// do sends body (JSON, when not nil) and decodes a 2xx answer into out
// (when not nil); any other status is an *Error with the API's message.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	raw, err := c.send(ctx, method, path, body)
	if err != nil || out == nil || len(raw) == 0 {
		return err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not what this client expects: %w", method, path, err)
	}
	return nil
}

// send is do without decoding: the answer's body.
func (c *Client) send(ctx context.Context, method, path string, body any) ([]byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+"/api"+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	h := c.HTTP
	if h == nil {
		h = defaultHTTP
	}
	resp, err := h.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach Tenantry at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, apiError(method, path, resp, raw)
	}
	return raw, nil
}

// apiError is a refusal with the API's message, or the status when the
// answer holds none (a proxy's page, ...).
func apiError(method, path string, resp *http.Response, raw []byte) *Error {
	e := &Error{}
	if json.Unmarshal(raw, e) != nil || e.Message == "" {
		e.Message = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
	}
	e.Status = resp.StatusCode
	return e
}

func esc(id string) string { return url.PathEscape(id) }

// Signup creates an account and its owner.
func (c *Client) Signup(ctx context.Context, in platform.SignupInput) (platform.SignupResult, error) {
	var out platform.SignupResult
	return out, c.do(ctx, "POST", "/signup", in, &out)
}

// Login checks the password and returns a login token for one of the
// user's accounts (accountID; empty is the first).
func (c *Client) Login(ctx context.Context, email, password, accountID string) (platform.LoginToken, error) {
	var out platform.LoginToken
	in := map[string]string{"email": email, "password": password}
	if accountID != "" {
		in["account_id"] = accountID
	}
	return out, c.do(ctx, "POST", "/login", in, &out)
}

// Logout revokes the client's login token.
func (c *Client) Logout(ctx context.Context) error { return c.do(ctx, "POST", "/logout", nil, nil) }

// Catalog lists the services with their modules and prices.
func (c *Client) Catalog(ctx context.Context) ([]platform.CatalogService, error) {
	var out struct {
		Services []platform.CatalogService `json:"services"`
	}
	return out.Services, c.do(ctx, "GET", "/catalog", nil, &out)
}

// Instances lists the account's instances, newest first.
func (c *Client) Instances(ctx context.Context) ([]platform.Instance, error) {
	var out struct {
		Instances []platform.Instance `json:"instances"`
	}
	return out.Instances, c.do(ctx, "GET", "/instances", nil, &out)
}

// Instance is one instance with every workflow's live progress.
func (c *Client) Instance(ctx context.Context, id string) (platform.Instance, error) {
	var out platform.Instance
	return out, c.do(ctx, "GET", "/instances/"+esc(id), nil, &out)
}

// Enable starts a new instance of a service.
func (c *Client) Enable(ctx context.Context, in platform.EnableInput) (platform.Instance, error) {
	var out platform.Instance
	return out, c.do(ctx, "POST", "/instances", in, &out)
}

// Accepted is the API's answer to an operation it started: the
// instance, the workflow that carries it out and what it says.
type Accepted struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflow_id"`
	Status     string `json:"status,omitempty"`
}

// Setup sends an instance's setup page.
func (c *Client) Setup(ctx context.Context, id string, in platform.SetupInput) (Accepted, error) {
	var out Accepted
	return out, c.do(ctx, "POST", "/instances/"+esc(id)+"/setup", in, &out)
}

// ModulesChanged is the answer to a module change.
type ModulesChanged struct {
	Accepted
	Modules []string `json:"modules"`
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
}

// ChangeModules sets an instance's modules (core is always kept).
func (c *Client) ChangeModules(ctx context.Context, id string, modules []string) (ModulesChanged, error) {
	var out ModulesChanged
	return out, c.do(ctx, "PUT", "/instances/"+esc(id)+"/modules", map[string][]string{"modules": modules}, &out)
}

// Disabled is the answer to a disable: how long the data is kept.
type Disabled struct {
	Accepted
	GracePeriod   string    `json:"grace_period"`
	DataKeptUntil time.Time `json:"data_kept_until"`
}

// Disable disables an instance; its data is kept for the grace period.
func (c *Client) Disable(ctx context.Context, id string) (Disabled, error) {
	var out Disabled
	return out, c.do(ctx, "DELETE", "/instances/"+esc(id), nil, &out)
}

// EnableAgain brings a disabled instance back within its grace period.
func (c *Client) EnableAgain(ctx context.Context, id string) (Accepted, error) {
	var out Accepted
	return out, c.do(ctx, "POST", "/instances/"+esc(id)+"/enable", nil, &out)
}

// CurrentBilling is this period so far and its projection.
func (c *Client) CurrentBilling(ctx context.Context) (platform.BillingNow, error) {
	var out platform.BillingNow
	return out, c.do(ctx, "GET", "/billing/current", nil, &out)
}

// Invoices lists the past invoices, newest first.
func (c *Client) Invoices(ctx context.Context) ([]controldb.InvoiceSummary, error) {
	var out struct {
		Invoices []controldb.InvoiceSummary `json:"invoices"`
	}
	return out.Invoices, c.do(ctx, "GET", "/billing/invoices", nil, &out)
}

// Invoice is one invoice with its explained lines.
type Invoice struct {
	Invoice controldb.InvoiceSummary `json:"invoice"`
	Lines   []billing.Line           `json:"lines"`
}

// Invoice loads one invoice.
func (c *Client) Invoice(ctx context.Context, id string) (Invoice, error) {
	var out Invoice
	return out, c.do(ctx, "GET", "/billing/invoices/"+esc(id), nil, &out)
}

// InvoiceCSV is one invoice as the API's CSV.
func (c *Client) InvoiceCSV(ctx context.Context, id string) ([]byte, error) {
	return c.send(ctx, "GET", "/billing/invoices/"+esc(id)+"/csv", nil)
}

// Tokens are the caller's API tokens and the permissions a new one may
// hold.
type Tokens struct {
	Tokens      []platform.APIToken `json:"tokens"`
	Permissions []string            `json:"permissions"`
}

// Tokens lists the caller's API tokens (never their secrets).
func (c *Client) Tokens(ctx context.Context) (Tokens, error) {
	var out Tokens
	return out, c.do(ctx, "GET", "/tokens", nil, &out)
}

// CreateToken makes an API token; the answer holds its secret, once.
func (c *Client) CreateToken(ctx context.Context, in platform.NewAPIToken) (platform.IssuedAPIToken, error) {
	var out platform.IssuedAPIToken
	return out, c.do(ctx, "POST", "/tokens", in, &out)
}

// RevokeToken revokes one of the caller's API tokens.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/tokens/"+esc(id), nil, nil)
}

// Team lists the members of the account the caller acts on.
func (c *Client) Team(ctx context.Context) ([]platform.Member, error) {
	var out struct {
		Members []platform.Member `json:"members"`
	}
	return out.Members, c.do(ctx, "GET", "/team", nil, &out)
}

// InviteMember adds someone to the account; a new user's one-time
// password is in the answer only.
func (c *Client) InviteMember(ctx context.Context, in platform.Invite) (platform.Invited, error) {
	var out platform.Invited
	return out, c.do(ctx, "POST", "/team", in, &out)
}

// SetMemberRole gives a member another role on the account.
func (c *Client) SetMemberRole(ctx context.Context, userID, role string) error {
	return c.do(ctx, "PUT", "/team/"+esc(userID)+"/role", map[string]string{"role": role}, nil)
}

// RemoveMember takes a member off the account.
func (c *Client) RemoveMember(ctx context.Context, userID string) error {
	return c.do(ctx, "DELETE", "/team/"+esc(userID), nil, nil)
}

// logsPath is the log endpoint's path and query for q.
func logsPath(id string, q platform.LogQuery, follow bool) string {
	v := url.Values{}
	if q.After > 0 {
		v.Set("after", strconv.FormatInt(q.After, 10))
	}
	if q.Since != nil {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if follow {
		v.Set("follow", "true")
	}
	p := "/instances/" + esc(id) + "/logs"
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	return p
}

// Logs reads a page of an instance's log: without After or Since its
// newest lines.
func (c *Client) Logs(ctx context.Context, id string, q platform.LogQuery) (platform.LogPage, error) {
	var out platform.LogPage
	return out, c.do(ctx, "GET", logsPath(id, q, false), nil, &out)
}

// FollowLogs streams an instance's log (follow=true: the page q asks for,
// then every line as it comes) and calls fn for each line. The server
// ends a stream after a while; FollowLogs then asks again from the last
// line seen. It returns when ctx ends (ctx's error), fn fails or an
// answer is refused.
func (c *Client) FollowLogs(ctx context.Context, id string, q platform.LogQuery, fn func(controldb.LogLine) error) error {
	h := &http.Client{}
	if c.HTTP != nil {
		h = c.HTTP
	}
	for {
		err := c.stream(ctx, h, logsPath(id, q, true), func(l controldb.LogLine) error {
			q.After, q.Since = l.ID, nil
			return fn(l)
		})
		if ctx.Err() == nil && err != nil {
			return err
		}
		// Nothing is missed meanwhile: the next stream starts after the
		// last line seen.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// stream reads an NDJSON answer line by line.
func (c *Client) stream(ctx context.Context, h *http.Client, path string, fn func(controldb.LogLine) error) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.BaseURL+"/api"+path, nil)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := h.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach Tenantry at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return apiError("GET", path, resp, raw)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var l controldb.LogLine
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("the log stream broke off: %w", err)
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}
