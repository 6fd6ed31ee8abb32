// Package tenant is what a service's pages get from the host router: the
// routed instance (its modules, language and own database pool), end-user
// accounts and sessions stored in that database, page strings, and the
// shared page layout.
package tenant

import (
	"context"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"tenantry/internal/apperr"
)

// Tenant is the instance a request was routed to.
type Tenant struct {
	InstanceID string
	Service    string
	Version    string
	Schema     uint // the tenant database's schema version
	Host       string
	Modules    []string
	Lang       string
	DB         *pgxpool.Pool // the instance's own database, its own role
	// Meter counts one use of a metered feature ("feature.search");
	// nil counts nothing.
	Meter func(metric string)
}

// Has says whether a module is enabled on the instance.
func (t *Tenant) Has(module string) bool { return slices.Contains(t.Modules, module) }

// Offers says whether a module's feature is available: the module is
// enabled and the instance's schema has the tables it needs.
func (t *Tenant) Offers(module string, minSchema uint) bool {
	return t.Has(module) && t.Schema >= minSchema
}

// Use counts one use of a module's feature.
func (t *Tenant) Use(module string) {
	if t.Meter != nil {
		t.Meter("feature." + module)
	}
}

type ctxKey struct{}

// With returns ctx carrying t.
func With(ctx context.Context, t *Tenant) context.Context { return context.WithValue(ctx, ctxKey{}, t) }

// From returns the tenant a request was routed to, or nil.
func From(ctx context.Context) *Tenant {
	t, _ := ctx.Value(ctxKey{}).(*Tenant)
	return t
}

// Of is From for a gin handler.
func Of(c *gin.Context) *Tenant { return From(c.Request.Context()) }

// RequireModule answers 404 unless the instance offers the module (see
// Offers): a feature that is not enabled does not exist for its users.
func RequireModule(module string, minSchema uint) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !Of(c).Offers(module, minSchema) {
			NotFound(c)
			c.Abort()
			return
		}
		c.Next()
	}
}

// NotFound renders the tenant's 404 page.
func NotFound(c *gin.Context) {
	t := Of(c)
	Render(c, http.StatusNotFound, MessagePage(Chrome{Lang: t.Lang, Title: T(t.Lang, "not_found")}, T(t.Lang, "not_found_text")))
}

// Fail answers a domain error with its status and message, anything else
// with a generic 500 page; the cause goes to the router's log through
// c.Error, never to the page.
func Fail(c *gin.Context, err error) {
	t := Of(c)
	_ = c.Error(err)
	status := apperr.HTTPStatus(err)
	apperr.SetRetryAfter(c.Writer.Header(), status)
	if status == http.StatusNotFound {
		NotFound(c)
		return
	}
	Render(c, status, MessagePage(Chrome{Lang: t.Lang, Title: http.StatusText(status)}, apperr.Message(err)))
}
