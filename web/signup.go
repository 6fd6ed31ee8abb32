package web

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"tenantry/internal/apperr"
	"tenantry/internal/billing"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
	"tenantry/workflows"
)

type signupRequest struct {
	Email       string `json:"email"`
	Name        string `json:"name"`
	AccountName string `json:"account_name"`
	Password    string `json:"password"`
}

// signup validates at once, then runs the Signup workflow and waits for it:
// it takes one short step, and the client wants its account now.
func (s *Server) signup(c *gin.Context) {
	var req signupRequest
	if err := bindJSON(c, &req); err != nil {
		s.fail(c, err)
		return
	}
	in, res, err := s.createAccount(c.Request.Context(), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"account_id": res.AccountID, "user_id": res.UserID, "email": in.Email,
		"workflow_id": workflows.SignupID(in.Email)})
}

// createAccount validates a signup, then runs the Signup workflow and waits
// for it.
func (s *Server) createAccount(ctx context.Context, req signupRequest) (workflows.SignupInput, workflows.SignupResult, error) {
	var res workflows.SignupResult
	in, err := signupInput(req)
	if err != nil {
		return in, res, err
	}
	var taken bool
	if err := s.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)`, in.Email).Scan(&taken); err != nil {
		return in, res, err
	}
	if taken {
		return in, res, apperr.Conflict("an account with email %s already exists", in.Email)
	}
	if res, err = workflows.RunSignup(ctx, s.Temporal, in); err != nil {
		return in, res, err
	}
	// The account's billing cycle starts now. Should this fail, the account
	// still exists: start-up and the billing API start missing cycles.
	if err := workflows.StartBillingCycle(ctx, s.Temporal, res.AccountID,
		billing.PeriodOf(s.Clock(), s.BillingPeriod), s.BillingPeriod); err != nil {
		s.Log.Error("start billing cycle", "account", res.AccountID, "err", err)
	}
	return in, res, nil
}

func signupInput(req signupRequest) (workflows.SignupInput, error) {
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
