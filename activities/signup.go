package activities

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/apperr"
	"tenantry/internal/controldb"
	"tenantry/internal/secret"
	"tenantry/internal/validate"
)

// CreateAccountInput carries a signup. The password arrives already hashed:
// a clear password never enters a workflow payload.
type CreateAccountInput struct {
	AccountID    string
	UserID       string
	Email        string
	Name         string
	AccountName  string
	PasswordHash string
}

type CreateAccountResult struct {
	AccountID string
	UserID    string
}

// CreateAccount creates the account and its owner in one transaction. A retry
// of the same signup returns what the first attempt created; another signup
// with the same email is a conflict.
func (a *Activities) CreateAccount(ctx context.Context, in CreateAccountInput) (CreateAccountResult, error) {
	return finish(a.createAccount(ctx, in))
}

func (a *Activities) createAccount(ctx context.Context, in CreateAccountInput) (CreateAccountResult, error) {
	email, err := validate.Email(in.Email)
	if err != nil {
		return CreateAccountResult{}, err
	}
	name, err := validate.Name("name", in.Name)
	if err != nil {
		return CreateAccountResult{}, err
	}
	accountName, err := validate.Name("account name", in.AccountName)
	if err != nil {
		return CreateAccountResult{}, err
	}
	if !secret.LooksLikePasswordHash(in.PasswordHash) {
		return CreateAccountResult{}, apperr.Invalid("password must arrive hashed")
	}
	res := CreateAccountResult{AccountID: in.AccountID, UserID: in.UserID}
	err = a.inTx(ctx, func(tx pgx.Tx) error {
		var existingUser string
		err := tx.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, email).Scan(&existingUser)
		if err == nil {
			if existingUser == in.UserID {
				return nil // this signup already ran
			}
			return apperr.Conflict("an account with email %s already exists", email)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name) VALUES ($1, $2)`, in.AccountID, accountName); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)`,
			in.UserID, email, name, in.PasswordHash); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO grants (user_id, role, account_id) VALUES ($1, 'owner', $2)`,
			in.UserID, in.AccountID); err != nil {
			return err
		}
		return controldb.Audit(ctx, tx, "signup/"+in.UserID, in.AccountID, in.UserID, "account.created", "account", in.AccountID,
			map[string]any{"email": email})
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return res, apperr.Conflict("an account with email %s already exists", email)
	}
	return res, err
}
