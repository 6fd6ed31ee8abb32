package store

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/web/tenant"
)

// The store's modules keep their data in tables that arrive with schema 2
// (store 1.1.0): reviews, coupons, and products' stock.
const modulesSchema = 2

// ReviewView is one customer's review of a product.
type ReviewView struct {
	Author string
	Stars  int
	Body   string
}

func reviews(c *gin.Context, sku string) ([]ReviewView, error) {
	rows, err := tenant.Of(c).DB.Query(c.Request.Context(), `SELECT cu.display_name, r.stars, r.body
		FROM reviews r JOIN products p ON p.id = r.product_id JOIN customers cu ON cu.id = r.customer_id
		WHERE p.sku = $1 ORDER BY r.created_at DESC LIMIT 100`, sku)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[ReviewView])
}

// review records (or replaces) the signed-in customer's review.
func review(c *gin.Context, u *tenant.User) {
	t := tenant.Of(c)
	stars, err := strconv.Atoi(c.PostForm("stars"))
	body := strings.TrimSpace(c.PostForm("body"))
	if err != nil || stars < 1 || stars > 5 || len(body) > 2000 {
		tenant.Fail(c, apperr.Invalid("a review needs 1 to 5 stars and at most 2000 characters"))
		return
	}
	sku := c.Param("sku")
	tag, err := t.DB.Exec(c.Request.Context(), `INSERT INTO reviews (product_id, customer_id, stars, body)
		SELECT id, $2, $3, $4 FROM products WHERE sku = $1 AND active
		ON CONFLICT (product_id, customer_id) DO UPDATE SET stars = EXCLUDED.stars, body = EXCLUDED.body, created_at = now()`,
		sku, u.ID, stars, body)
	if err == nil && tag.RowsAffected() == 0 {
		err = apperr.NotFound("no such product")
	}
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	t.Use("reviews")
	c.Redirect(http.StatusSeeOther, "/p/"+sku)
}

// redeem takes one use of a coupon and returns its percentage off.
func redeem(ctx context.Context, tx pgx.Tx, code string) (int64, error) {
	var pct int64
	err := tx.QueryRow(ctx, `UPDATE coupons SET uses_left = uses_left - 1
		WHERE code = $1 AND (uses_left IS NULL OR uses_left > 0) AND (expires_at IS NULL OR expires_at > now())
		RETURNING percent_off`, code).Scan(&pct)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, apperr.Invalid("coupon %q is not valid", code)
	}
	return pct, err
}

// reserveStock takes the ordered quantities out of stock for products
// that track it; one that has too few refuses the whole order.
func reserveStock(ctx context.Context, tx pgx.Tx, customer int64) error {
	var short string
	err := tx.QueryRow(ctx, `SELECT p.title FROM cart_items ci JOIN products p ON p.id = ci.product_id
		WHERE ci.customer_id = $1 AND p.stock IS NOT NULL AND p.stock < ci.quantity LIMIT 1`, customer).Scan(&short)
	if err == nil {
		return apperr.Conflict("not enough %s in stock", short)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE products p SET stock = p.stock - ci.quantity FROM cart_items ci
		WHERE ci.customer_id = $1 AND ci.product_id = p.id AND p.stock IS NOT NULL`, customer)
	return err
}

// createCoupon lets a store admin add a discount code.
func createCoupon(c *gin.Context, u *tenant.User) {
	if !u.IsAdmin {
		tenant.Fail(c, apperr.Forbidden("only the store's admins can create coupons"))
		return
	}
	code := strings.TrimSpace(c.PostForm("code"))
	pct, err := strconv.Atoi(c.PostForm("percent_off"))
	if code == "" || len(code) > 50 || err != nil || pct < 1 || pct > 100 {
		tenant.Fail(c, apperr.Invalid("a coupon needs a code of 1 to 50 characters and 1 to 100 percent off"))
		return
	}
	var uses *int
	if s := c.PostForm("uses"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			tenant.Fail(c, apperr.Invalid("uses must be a positive number"))
			return
		}
		uses = &n
	}
	_, err = tenant.Of(c).DB.Exec(c.Request.Context(), `INSERT INTO coupons (code, percent_off, uses_left) VALUES ($1, $2, $3)
		ON CONFLICT (code) DO UPDATE SET percent_off = EXCLUDED.percent_off, uses_left = EXCLUDED.uses_left`, code, pct, uses)
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/")
}
