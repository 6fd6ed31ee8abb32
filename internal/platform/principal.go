package platform

import (
	"cmp"
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
)

// Principal is who acts: a user, the account they act on (one of those
// they belong to), and what their grants allow there. Front ends resolve
// it once per request (from a session, a login token or an API token) and
// pass it to every operation.
type Principal struct {
	UserID string
	Email  string
	Name   string
	// AccountID is the account acted on; empty for a user who belongs to
	// no account (a platform operator may).
	AccountID   string
	AccountName string
	// Role is the user's role on that account.
	Role string
	// PlatformRoles are the user's roles on the platform.
	PlatformRoles []string
	// Perms is what the grants allow: the account role's and the platform
	// roles' permissions.
	Perms access.Set
	// Scope narrows Perms for a request made with an API token; nil for a
	// login session.
	Scope access.Set
	// Memberships are the accounts the user belongs to, by name, as
	// resolved with the principal (for the console's account switcher,
	// which would otherwise ask on every page).
	Memberships []Membership
}

// ShellOperator is whoever runs an operator's command from a shell
// (`tenantry servers`) holding the control database's credentials and the
// secret key: with those they hold the platform developer's permissions
// anyway, as `tenantry grant` shows. No front end serving requests may
// use it.
func ShellOperator() Principal {
	return Principal{Name: "an operator at a shell", PlatformRoles: []string{"developer"}, Perms: access.OfRole("developer")}
}

// Can says whether the principal may do perm: the grants hold it and, with
// an API token, the token is scoped to it.
func (p Principal) Can(perm string) bool {
	return p.Perms.Allows(perm) && (p.Scope == nil || p.Scope.Allows(perm))
}

// Membership is one account a user belongs to, with their role there.
type Membership struct {
	AccountID   string `json:"account_id"`
	AccountName string `json:"account_name"`
	Role        string `json:"role"`
}

// errNoUser is what resolving a user that no longer exists answers.
var errNoUser = apperr.Unauthorized("the user no longer exists: log in again")

// PrincipalOf resolves a user acting on an account from their grants. An
// empty accountID acts on the user's first account (the oldest
// membership); an account the user does not (or no longer) belong to
// leaves AccountID empty, with the platform roles' permissions only, so a
// token made for one account never acts on another.
func (p *Platform) PrincipalOf(ctx context.Context, userID, accountID string) (Principal, error) {
	// One round trip: the user and every grant (a row of NULLs for a user
	// without any), as this runs for every API request.
	rows, err := p.DB.Query(ctx, `
		SELECT u.id::text, u.email, u.name, coalesce(g.account_id::text, ''), coalesce(a.name, ''), coalesce(g.role, '')
		FROM users u LEFT JOIN grants g ON g.user_id = u.id LEFT JOIN accounts a ON a.id = g.account_id
		WHERE u.id = $1 ORDER BY g.created_at, g.role`, userID)
	if err != nil {
		return Principal{}, err
	}
	var who Principal
	var grants []Membership
	for rows.Next() {
		var g Membership
		if err := rows.Scan(&who.UserID, &who.Email, &who.Name, &g.AccountID, &g.AccountName, &g.Role); err != nil {
			rows.Close()
			return Principal{}, err
		}
		if g.Role != "" {
			grants = append(grants, g)
		}
	}
	if err := rows.Err(); err != nil {
		return Principal{}, err
	}
	if who.UserID == "" {
		return who, errNoUser
	}
	var member *Membership
	for i, g := range grants {
		if g.AccountID == "" {
			who.PlatformRoles = append(who.PlatformRoles, g.Role)
			continue
		}
		who.Memberships = append(who.Memberships, g)
		if g.AccountID == accountID || (member == nil && accountID == "") {
			member = &grants[i]
		}
	}
	slices.SortStableFunc(who.Memberships, func(a, b Membership) int {
		return cmp.Or(cmp.Compare(a.AccountName, b.AccountName), cmp.Compare(a.AccountID, b.AccountID))
	})
	if member != nil {
		who.AccountID, who.AccountName, who.Role = member.AccountID, member.AccountName, member.Role
		who.Perms = append(who.Perms, access.OfRole(member.Role)...)
	}
	for _, r := range who.PlatformRoles {
		who.Perms = append(who.Perms, access.OfRole(r)...)
	}
	return who, nil
}

// Memberships lists the accounts the principal belongs to, for switching.
func (p *Platform) Memberships(ctx context.Context, who Principal) ([]Membership, error) {
	rows, err := p.DB.Query(ctx, `
		SELECT g.account_id::text, a.name, g.role FROM grants g JOIN accounts a ON a.id = g.account_id
		WHERE g.user_id = $1 ORDER BY a.name, a.id`, who.UserID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Membership])
}

// SwitchAccount resolves the principal acting on another of its accounts;
// an account the user does not belong to is not found. An API token acts
// on its own account only.
func (p *Platform) SwitchAccount(ctx context.Context, who Principal, accountID string) (Principal, error) {
	if who.Scope != nil {
		return who, apperr.Forbidden("an API token acts on its own account only: make a token on the other account")
	}
	list, err := p.Memberships(ctx, who)
	if err != nil {
		return who, err
	}
	if !slices.ContainsFunc(list, func(m Membership) bool { return m.AccountID == accountID }) {
		return who, apperr.NotFound("you do not belong to account %s", accountID)
	}
	return p.PrincipalOf(ctx, who.UserID, accountID)
}
