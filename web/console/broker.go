package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
	"tenantry/internal/platform"
)

func (k *Console) showBroker(c *gin.Context, status int, errMsg string, created *NewBrokerCredentials) {
	list, err := k.P.BrokerCredentials(c.Request.Context(), who(c))
	if err != nil {
		k.fail(c, err)
		return
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	v := BrokerCredentials{Created: created, BrokerURL: scheme + "://" + c.Request.Host}
	for _, b := range list {
		row := BrokerCredentialRow{ID: b.ID, Name: b.Name, Username: b.Username, AllowedFrom: strings.Join(b.AllowedFrom, ", "),
			Created: b.CreatedAt.UTC().Format(time.DateTime), State: "active"}
		if b.RevokedAt != nil {
			row.State = "revoked"
		}
		v.List = append(v.List, row)
	}
	p := k.page(c, "Service broker")
	p.Error = errMsg
	k.render(c, status, BrokerPage(p, v))
}

func (k *Console) brokerPage(c *gin.Context) { k.showBroker(c, http.StatusOK, "", nil) }

// brokerSubmit makes broker credentials; the answer is the only time the
// password is shown.
func (k *Console) brokerSubmit(c *gin.Context) {
	password, cred, err := k.P.CreateBrokerCredential(c.Request.Context(), who(c),
		platform.NewBrokerCredential{Name: c.PostForm("name"), AllowedFrom: c.PostForm("allowed_from")})
	if err != nil {
		k.showBroker(c, apperr.HTTPStatus(err), apperr.Message(err), nil)
		return
	}
	k.showBroker(c, http.StatusCreated, "", &NewBrokerCredentials{Username: cred.Username, Password: password})
}

// brokerRevokeSubmit revokes broker credentials: the next request made
// with them is refused.
func (k *Console) brokerRevokeSubmit(c *gin.Context) {
	if err := k.P.RevokeBrokerCredential(c.Request.Context(), who(c), c.Param("credential")); err != nil {
		k.fail(c, err)
		return
	}
	k.redirect(c, "/broker", "Broker credentials revoked: they are refused from now on.")
}
