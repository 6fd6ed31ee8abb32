// Package store is the store service's own pages: a product catalogue, a
// cart and orders on the routed instance's database, for end users who
// register and log in. Prices are integer minor units.
package store

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"tenantry/internal/apperr"
	"tenantry/web/tenant"
)

var customers = tenant.Accounts{Users: "customers", Sessions: "customer_sessions", UserColumn: "customer_id"}

// Handler serves the store for whichever tenant the request carries.
func Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/", products)
	r.GET("/p/:sku", product)
	r.POST("/p/:sku/reviews", tenant.RequireModule("reviews", modulesSchema), customers.SignedIn(review))
	r.POST("/products", customers.SignedIn(addProduct))
	r.POST("/coupons", tenant.RequireModule("coupons", modulesSchema), customers.SignedIn(createCoupon))
	r.GET("/cart", customers.SignedIn(cart))
	r.POST("/cart", customers.SignedIn(addToCart))
	r.POST("/checkout", customers.SignedIn(checkout))
	r.GET("/orders", customers.SignedIn(orders))
	customers.Routes(r, chrome, tenant.Fail)
	r.NoRoute(tenant.NotFound)
	return r
}

func chrome(c *gin.Context, title string) tenant.Chrome {
	t := tenant.Of(c)
	ch := tenant.Chrome{Lang: t.Lang, Title: title}
	if u := user(c); u != nil {
		ch.User = u.Name
		ch.Nav = []tenant.Link{{Href: "/cart", Label: tenant.T(t.Lang, "cart")}, {Href: "/orders", Label: tenant.T(t.Lang, "orders")}}
	}
	return ch
}

// user is the signed-in customer, looked up once per request.
func user(c *gin.Context) *tenant.User { return customers.User(c) }

func products(c *gin.Context) {
	t := tenant.Of(c)
	rows, err := t.DB.Query(c.Request.Context(), `SELECT sku, title, description, price_minor FROM products WHERE active ORDER BY title, id LIMIT 200`)
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ProductView])
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	u := user(c)
	admin := u != nil && u.IsAdmin
	tenant.Render(c, http.StatusOK, ProductsPage(chrome(c, tenant.T(t.Lang, "products")), ProductsView{
		Products: list, CanBuy: u != nil, CanAddProducts: admin,
		CanSetStock: admin && t.Offers("inventory", modulesSchema), CanCreateCoupons: admin && t.Offers("coupons", modulesSchema)}))
}

func product(c *gin.Context) {
	t := tenant.Of(c)
	v := ProductPageView{CanBuy: user(c) != nil}
	p := &v.Product
	stock := t.Offers("inventory", modulesSchema)
	query := `SELECT sku, title, description, price_minor, NULL::integer FROM products WHERE sku = $1 AND active`
	if stock {
		query = `SELECT sku, title, description, price_minor, stock FROM products WHERE sku = $1 AND active`
	}
	err := t.DB.QueryRow(c.Request.Context(), query, c.Param("sku")).Scan(&p.SKU, &p.Title, &p.Description, &p.PriceMinor, &v.Stock)
	if errors.Is(err, pgx.ErrNoRows) {
		tenant.NotFound(c)
		return
	}
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	if t.Offers("reviews", modulesSchema) {
		v.ShowReviews, v.CanReview = true, v.CanBuy
		if v.Reviews, err = reviews(c, p.SKU); err != nil {
			tenant.Fail(c, err)
			return
		}
	}
	tenant.Render(c, http.StatusOK, ProductPage(chrome(c, p.Title), v))
}

func addToCart(c *gin.Context, u *tenant.User) {
	t := tenant.Of(c)
	qty, err := strconv.Atoi(c.DefaultPostForm("quantity", "1"))
	if err != nil || qty < 1 || qty > 1000 {
		tenant.Fail(c, apperr.Invalid("quantity must be 1 to 1000"))
		return
	}
	tag, err := t.DB.Exec(c.Request.Context(), `INSERT INTO cart_items (customer_id, product_id, quantity)
		SELECT $1, id, $3 FROM products WHERE sku = $2 AND active
		ON CONFLICT (customer_id, product_id) DO UPDATE SET quantity = least(cart_items.quantity + EXCLUDED.quantity, 1000)`,
		u.ID, c.PostForm("sku"), qty)
	if err == nil && tag.RowsAffected() == 0 {
		err = apperr.NotFound("no such product")
	}
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/cart")
}

func cart(c *gin.Context, u *tenant.User) {
	t := tenant.Of(c)
	rows, err := t.DB.Query(c.Request.Context(), `SELECT p.sku, p.title, ci.quantity, p.price_minor
		FROM cart_items ci JOIN products p ON p.id = ci.product_id WHERE ci.customer_id = $1 ORDER BY p.title`, u.ID)
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	v := CartView{}
	if v.Lines, err = pgx.CollectRows(rows, pgx.RowToStructByPos[LineView]); err != nil {
		tenant.Fail(c, err)
		return
	}
	for _, l := range v.Lines {
		v.TotalMinor += int64(l.Quantity) * l.PriceMinor
	}
	v.Coupons = t.Offers("coupons", modulesSchema)
	tenant.Render(c, http.StatusOK, CartPage(chrome(c, tenant.T(t.Lang, "cart")), v))
}

// checkout turns the cart into an order at the current prices, in one
// transaction: an enabled coupon takes its percentage off (rounded in the
// customer's favour), inventory takes the quantities out of stock. An empty
// cart orders nothing.
func checkout(c *gin.Context, u *tenant.User) {
	t := tenant.Of(c)
	ctx := c.Request.Context()
	code := strings.TrimSpace(c.PostForm("coupon"))
	useCoupon := code != "" && t.Offers("coupons", modulesSchema)
	err := pgx.BeginFunc(ctx, t.DB, func(tx pgx.Tx) error {
		var pct int64
		if useCoupon {
			var err error
			if pct, err = redeem(ctx, tx, code); err != nil {
				return err
			}
		}
		if t.Offers("inventory", modulesSchema) {
			if err := reserveStock(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		var order int64
		err := tx.QueryRow(ctx, `INSERT INTO orders (customer_id, total_minor)
			SELECT $1, sum(ci.quantity * p.price_minor) * (100 - $2) / 100 FROM cart_items ci JOIN products p ON p.id = ci.product_id
			WHERE ci.customer_id = $1 HAVING count(*) > 0 RETURNING id`, u.ID, pct).Scan(&order)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Invalid("your cart is empty")
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO order_lines (order_id, product_id, quantity, price_minor)
			SELECT $2, ci.product_id, ci.quantity, p.price_minor FROM cart_items ci JOIN products p ON p.id = ci.product_id
			WHERE ci.customer_id = $1`, u.ID, order); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM cart_items WHERE customer_id = $1`, u.ID)
		return err
	})
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	if useCoupon {
		t.Use("coupons")
	}
	c.Redirect(http.StatusSeeOther, "/orders")
}

func orders(c *gin.Context, u *tenant.User) {
	t := tenant.Of(c)
	rows, err := t.DB.Query(c.Request.Context(), `SELECT id, status, total_minor, created_at FROM orders
		WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 100`, u.ID)
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[OrderView])
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	tenant.Render(c, http.StatusOK, OrdersPage(chrome(c, tenant.T(t.Lang, "orders")), list))
}
