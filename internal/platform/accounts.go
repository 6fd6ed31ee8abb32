package platform

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
	"tenantry/workflows"
)

// SignupInput is what a new client gives to open an account.
type SignupInput struct {
	Email       string `json:"email"`
	Name        string `json:"name"`
	AccountName string `json:"account_name"`
	Password    string `json:"password"`
}

// SignupResult is the new account and its owner.
type SignupResult struct {
	AccountID  string `json:"account_id"`
	UserID     string `json:"user_id"`
	Email      string `json:"email"`
	WorkflowID string `json:"workflow_id"`
}

// Signup validates at once, then runs the Signup workflow and waits for
// it: it takes one short step, and the client wants its account now.
// Anyone may sign up.
func (p *Platform) Signup(ctx context.Context, req SignupInput) (SignupResult, error) {
	in, err := signupInput(req)
	if err != nil {
		return SignupResult{}, err
	}
	var taken bool
	if err := p.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)`, in.Email).Scan(&taken); err != nil {
		return SignupResult{}, err
	}
	if taken {
		return SignupResult{}, apperr.Conflict("an account with email %s already exists", in.Email)
	}
	res, err := workflows.RunSignup(ctx, p.Temporal, in)
	if err != nil {
		return SignupResult{}, err
	}
	// The account's billing cycle starts now. Should this fail, the account
	// still exists: start-up and the billing API start missing cycles.
	if err := workflows.StartBillingCycle(ctx, p.Temporal, res.AccountID,
		billing.PeriodOf(p.Clock(), p.BillingPeriod), p.BillingPeriod); err != nil {
		p.Log.Error("start billing cycle", "account", res.AccountID, "err", err)
	}
	return SignupResult{AccountID: res.AccountID, UserID: res.UserID, Email: in.Email, WorkflowID: workflows.SignupID(in.Email)}, nil
}

func signupInput(req SignupInput) (workflows.SignupInput, error) {
	email, err := validate.Email(req.Email)
	if err != nil {
		return workflows.SignupInput{}, err
	}
	name, err := validate.Name("name", req.Name)
	if err != nil {
		return workflows.SignupInput{}, err
	}
	if req.AccountName == "" {
		req.AccountName = name
	}
	accountName, err := validate.Name("account name", req.AccountName)
	if err != nil {
		return workflows.SignupInput{}, err
	}
	if err := validate.Password(req.Password); err != nil {
		return workflows.SignupInput{}, err
	}
	return workflows.SignupInput{
		AccountID: uuid.NewString(), UserID: uuid.NewString(),
		Email: email, Name: name, AccountName: accountName,
		PasswordHash: secret.HashPassword(req.Password),
	}, nil
}

// A dummy hash to verify against when the email is unknown, so a login's
// duration does not tell whether an account exists.
var dummyHash = secret.HashPassword("not a real password")

// CheckLogin answers which user logs in with this email and password from
// this address. Failures are rate-limited per account and per address;
// every refusal says the same thing, so it never tells whether an account
// exists.
func (p *Platform) CheckLogin(ctx context.Context, email, password, addr string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	attempt, allowed, err := p.logins.begin(ctx, email, addr)
	if err != nil {
		return "", err
	}
	if !allowed {
		return "", apperr.TooMany("too many failed logins: wait a few minutes, then try again")
	}
	var userID, hash string
	err = p.DB.QueryRow(ctx, `SELECT id, password_hash FROM users WHERE email = $1`, email).Scan(&userID, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		hash = dummyHash
	} else if err != nil {
		return "", err
	}
	if !secret.VerifyPassword(hash, password) || userID == "" {
		return "", apperr.Unauthorized("wrong email or password") // the attempt stays counted
	}
	return userID, attempt.succeeded(ctx)
}

// PasswordChange is the password form: the current one, the new one twice.
type PasswordChange struct {
	Current, New, Repeat string
	// Addr is where the request came from, for the login rate limit.
	Addr string
}

// ChangePassword checks the current password (rate-limited like a login),
// sets the new one and ends the user's API login tokens. The front end
// renews its own session.
func (p *Platform) ChangePassword(ctx context.Context, who Principal, in PasswordChange) error {
	if _, err := p.CheckLogin(ctx, who.Email, in.Current, in.Addr); err != nil {
		if apperr.KindOf(err) == apperr.KindUnauthorized {
			return apperr.Invalid("the current password is wrong")
		}
		return err
	}
	if err := validate.Password(in.New); err != nil {
		return err
	}
	if in.New != in.Repeat {
		return apperr.Invalid("the two new passwords differ")
	}
	if _, err := p.DB.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, secret.HashPassword(in.New), who.UserID); err != nil {
		return err
	}
	if _, err := p.DB.Exec(ctx, `DELETE FROM api_sessions WHERE user_id = $1`, who.UserID); err != nil {
		return err
	}
	return p.audit(ctx, who, "user.password_changed", "user", who.UserID, nil)
}
