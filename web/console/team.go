package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/access"
	"tenantry/internal/apperr"
	"tenantry/internal/platform"
)

func (k *Console) showTeam(c *gin.Context, status int, errMsg, notice string) {
	u := who(c)
	members, err := k.P.Team(c.Request.Context(), u)
	if err != nil {
		k.fail(c, err)
		return
	}
	t := Team{Roles: access.AccountRoles, CanManage: u.Can(access.TeamManage)}
	for _, m := range members {
		t.Members = append(t.Members, Member{ID: m.UserID, Email: m.Email, Name: m.Name, Role: m.Role, You: m.UserID == u.UserID})
	}
	p := k.page(c, "Team")
	p.Error = errMsg
	if notice != "" {
		p.Notice = notice
	}
	k.render(c, status, TeamPage(p, t))
}

func (k *Console) teamPage(c *gin.Context) { k.showTeam(c, http.StatusOK, "", "") }

// inviteSubmit adds a member. A new user gets a one-time password, shown
// once on this answer and never stored in clear.
func (k *Console) inviteSubmit(c *gin.Context) {
	in, err := k.P.InviteMember(c.Request.Context(), who(c), platform.Invite{Email: c.PostForm("email"), Name: c.PostForm("name"),
		Role: c.PostForm("role")})
	if err != nil {
		k.showTeam(c, apperr.HTTPStatus(err), apperr.Message(err), "")
		return
	}
	notice := "Invited " + in.Email + ". Give them this password to log in (it is shown only now): " + in.Password
	if in.Existing {
		notice = "Added " + in.Email + ": they log in as before and switch to this account at the top of any page."
	}
	k.showTeam(c, http.StatusCreated, "", notice)
}

// roleSubmit gives a member of the account another role. Someone of
// another account is not found; the last owner stays an owner.
func (k *Console) roleSubmit(c *gin.Context) {
	if err := k.P.SetMemberRole(c.Request.Context(), who(c), c.Param("user"), c.PostForm("role")); err != nil {
		if apperr.KindOf(err) == apperr.KindNotFound {
			k.fail(c, err)
			return
		}
		k.showTeam(c, apperr.HTTPStatus(err), apperr.Message(err), "")
		return
	}
	k.redirect(c, "/team", "Role changed.")
}

// removeSubmit takes a member off the account (or lets one leave it); the
// last owner stays. Someone who left is sent to their dashboard, which now
// shows another account of theirs or none.
func (k *Console) removeSubmit(c *gin.Context) {
	u := who(c)
	if err := k.P.RemoveMember(c.Request.Context(), u, c.Param("user")); err != nil {
		if apperr.KindOf(err) == apperr.KindNotFound {
			k.fail(c, err)
			return
		}
		k.showTeam(c, apperr.HTTPStatus(err), apperr.Message(err), "")
		return
	}
	if c.Param("user") == u.UserID {
		k.redirect(c, "/dashboard", "You left "+u.AccountName+".")
		return
	}
	k.redirect(c, "/team", "Removed from the account.")
}

func (k *Console) timelinePage(c *gin.Context) {
	list, err := k.P.Timeline(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	events := make([]Event, len(list))
	for i, e := range list {
		events[i] = Event{At: e.At.UTC().Format("2006-01-02 15:04:05 UTC"), Actor: e.Actor, Action: e.Action,
			ObjectType: e.ObjectType, ObjectID: e.ObjectID, Detail: e.Detail}
	}
	k.render(c, http.StatusOK, TimelinePage(k.page(c, "Timeline"), events))
}

func (k *Console) showTokens(c *gin.Context, status int, errMsg, created string) {
	u := who(c)
	list, err := k.P.APITokens(c.Request.Context(), u)
	if err != nil {
		k.fail(c, err)
		return
	}
	v := Tokens{Permissions: k.P.TokenPermissions(u), Created: created}
	for _, t := range list {
		row := Token{ID: t.ID, Name: t.Name, Permissions: strings.Join(t.Permissions, ", "),
			Created: t.CreatedAt.UTC().Format(time.DateTime), Expires: "never", State: t.State}
		if t.ExpiresAt != nil {
			row.Expires = t.ExpiresAt.UTC().Format(time.DateTime)
		}
		v.List = append(v.List, row)
	}
	p := k.page(c, "API tokens")
	p.Error = errMsg
	k.render(c, status, TokensPage(p, v))
}

func (k *Console) tokensPage(c *gin.Context) { k.showTokens(c, http.StatusOK, "", "") }

// tokenSubmit makes an API token scoped to some of the user's permissions;
// the answer is the only time the token is shown.
func (k *Console) tokenSubmit(c *gin.Context) {
	in := platform.NewAPIToken{Name: c.PostForm("name"), Permissions: c.PostFormArray("permissions")}
	if d := strings.TrimSpace(c.PostForm("expires_days")); d != "" {
		days, err := strconv.Atoi(d)
		if err != nil || days == 0 {
			days = -1 // refused by the platform with the rule
		}
		in.ExpiresInDays = days
	}
	token, _, err := k.P.CreateAPIToken(c.Request.Context(), who(c), in)
	if err != nil {
		k.showTokens(c, apperr.HTTPStatus(err), apperr.Message(err), "")
		return
	}
	k.showTokens(c, http.StatusCreated, "", token)
}

// revokeSubmit revokes one of the user's own tokens; every web process
// stops accepting it at once.
func (k *Console) revokeSubmit(c *gin.Context) {
	if err := k.P.RevokeAPIToken(c.Request.Context(), who(c), c.Param("token")); err != nil {
		k.fail(c, err)
		return
	}
	k.redirect(c, "/tokens", "Token revoked: it is refused from now on.")
}
