package store

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"

	"tenantry/internal/apperr"
	"tenantry/web/tenant"
)

var (
	skuRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	priceRe = regexp.MustCompile(`^(\d{1,9})(?:\.(\d{1,2}))?$`)
)

// parsePrice reads a decimal amount such as "12.5" into minor units (1250),
// never through a float.
func parsePrice(s string) (int64, error) {
	m := priceRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, apperr.Invalid("a price looks like 12.50")
	}
	major, _ := strconv.ParseInt(m[1], 10, 64)
	minor := int64(0)
	if m[2] != "" {
		frac := m[2]
		if len(frac) == 1 {
			frac += "0"
		}
		minor, _ = strconv.ParseInt(frac, 10, 64)
	}
	return major*100 + minor, nil
}

// addProduct lets a store admin put a product on sale (with a stock level
// when inventory is offered).
func addProduct(c *gin.Context, u *tenant.User) {
	t := tenant.Of(c)
	if !u.IsAdmin {
		tenant.Fail(c, apperr.Forbidden("only the store's admins can add products"))
		return
	}
	sku, title := strings.TrimSpace(c.PostForm("sku")), strings.TrimSpace(c.PostForm("title"))
	if !skuRe.MatchString(sku) || title == "" || len(title) > 200 {
		tenant.Fail(c, apperr.Invalid("a product needs a SKU of lower-case letters, digits and dashes, and a title of 1 to 200 characters"))
		return
	}
	price, err := parsePrice(c.PostForm("price"))
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	query := `INSERT INTO products (sku, title, description, price_minor) VALUES ($1, $2, $3, $4)`
	args := []any{sku, title, strings.TrimSpace(c.PostForm("description")), price}
	if s := c.PostForm("stock"); s != "" && t.Offers("inventory", modulesSchema) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			tenant.Fail(c, apperr.Invalid("stock must be zero or more"))
			return
		}
		query = `INSERT INTO products (sku, title, description, price_minor, stock) VALUES ($1, $2, $3, $4, $5)`
		args = append(args, n)
	}
	_, err = t.DB.Exec(c.Request.Context(), query, args...)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		err = apperr.Conflict("a product with SKU %s exists", sku)
	}
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/p/"+sku)
}
