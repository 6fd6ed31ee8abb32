// Package forum is the forum service's own pages: boards, threads and
// posts on the routed instance's database, end users who register and log
// in, and the search and moderation modules.
package forum

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

var members = tenant.Accounts{Users: "members", Sessions: "member_sessions", UserColumn: "member_id"}

// Handler serves the forum for whichever tenant the request carries.
func Handler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.GET("/", home)
	r.GET("/b/:slug", board)
	r.POST("/b/:slug/threads", members.SignedIn(newThread))
	r.GET("/t/:id", thread)
	r.POST("/t/:id/posts", reply)
	r.GET("/search", tenant.RequireModule("search", 1), search)
	r.POST("/posts/:id/hide", tenant.RequireModule("moderation", 1), hidePost)
	r.POST("/posts/:id/attachments", tenant.RequireModule("attachments", attachmentsSchema), attach)
	members.Routes(r, chrome, tenant.Fail)
	r.NoRoute(tenant.NotFound)
	return r
}

// chrome is the page frame: the signed-in member and the enabled
// modules' links.
func chrome(c *gin.Context, title string) tenant.Chrome {
	t := tenant.Of(c)
	ch := tenant.Chrome{Lang: t.Lang, Title: title}
	if u := user(c); u != nil {
		ch.User = u.Name
	}
	if t.Has("search") {
		ch.Nav = append(ch.Nav, tenant.Link{Href: "/search", Label: tenant.T(t.Lang, "search")})
	}
	return ch
}

// user is the signed-in member, looked up once per request.
func user(c *gin.Context) *tenant.User { return members.User(c) }

func home(c *gin.Context) {
	t := tenant.Of(c)
	rows, err := t.DB.Query(c.Request.Context(), `SELECT slug, title, description FROM boards ORDER BY position, id`)
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	boards, err := pgx.CollectRows(rows, pgx.RowToStructByPos[BoardView])
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	tenant.Render(c, http.StatusOK, HomePage(chrome(c, tenant.T(t.Lang, "boards")), boards))
}

// board lists a board's newest threads in one indexed query.
func board(c *gin.Context) {
	t := tenant.Of(c)
	rows, err := t.DB.Query(c.Request.Context(), `
		SELECT b.title, b.description, t.id, coalesce(t.title, '')
		FROM boards b LEFT JOIN LATERAL (
			SELECT id, title FROM threads WHERE board_id = b.id ORDER BY created_at DESC LIMIT 50) t ON true
		WHERE b.slug = $1`, c.Param("slug"))
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	v := BoardPageView{Slug: c.Param("slug")}
	found := false
	for rows.Next() {
		var id *int64
		var title string
		if err := rows.Scan(&v.Title, &v.Description, &id, &title); err != nil {
			tenant.Fail(c, err)
			return
		}
		found = true
		if id != nil {
			v.Threads = append(v.Threads, ThreadLink{ID: *id, Title: title})
		}
	}
	if err := rows.Err(); err != nil {
		tenant.Fail(c, err)
		return
	}
	if !found {
		tenant.NotFound(c)
		return
	}
	v.CanPost = user(c) != nil
	tenant.Render(c, http.StatusOK, BoardPage(chrome(c, v.Title), v))
}

func newThread(c *gin.Context, u *tenant.User) {
	t := tenant.Of(c)
	title, body := strings.TrimSpace(c.PostForm("title")), strings.TrimSpace(c.PostForm("body"))
	if err := checkText(title, 200, body); err != nil {
		tenant.Fail(c, err)
		return
	}
	ctx := c.Request.Context()
	var threadID int64
	err := pgx.BeginFunc(ctx, t.DB, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO threads (board_id, author_id, title)
			SELECT id, $2, $3 FROM boards WHERE slug = $1 RETURNING id`, c.Param("slug"), u.ID, title).Scan(&threadID)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("no such board")
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO posts (thread_id, author_id, body) VALUES ($1, $2, $3)`, threadID, u.ID, body)
		return err
	})
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/t/"+strconv.FormatInt(threadID, 10))
}

func checkText(title string, maxTitle int, body string) error {
	if title == "" || len(title) > maxTitle {
		return apperr.Invalid("a title needs 1 to %d characters", maxTitle)
	}
	if body == "" || len(body) > 20000 {
		return apperr.Invalid("a message needs 1 to 20000 characters")
	}
	return nil
}

// pathID is the numeric :id of the path; anything else is not found.
func pathID(c *gin.Context) (int64, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		tenant.NotFound(c)
		return 0, false
	}
	return id, true
}

func thread(c *gin.Context) {
	t := tenant.Of(c)
	id, ok := pathID(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	u := user(c)
	v := ThreadPageView{ID: id, CanPost: u != nil, CanModerate: u != nil && u.IsAdmin && t.Has("moderation")}
	err := t.DB.QueryRow(ctx, `SELECT t.title, b.slug FROM threads t JOIN boards b ON b.id = t.board_id WHERE t.id = $1`, id).
		Scan(&v.Title, &v.BoardSlug)
	if errors.Is(err, pgx.ErrNoRows) {
		tenant.NotFound(c)
		return
	}
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	rows, err := t.DB.Query(ctx, `SELECT p.id, m.display_name, p.body, p.hidden, p.created_at
		FROM posts p JOIN members m ON m.id = p.author_id WHERE p.thread_id = $1 ORDER BY p.created_at, p.id`, id)
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	v.Posts, err = pgx.CollectRows(rows, pgx.RowToStructByPos[PostView])
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	if t.Offers("attachments", attachmentsSchema) {
		v.CanAttach = u != nil
		if v.Attachments, err = attachments(c, id); err != nil {
			tenant.Fail(c, err)
			return
		}
	}
	tenant.Render(c, http.StatusOK, ThreadPage(chrome(c, v.Title), v))
}

func reply(c *gin.Context) {
	t := tenant.Of(c)
	id, ok := pathID(c)
	if !ok {
		return
	}
	u := user(c)
	if u == nil {
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	body := strings.TrimSpace(c.PostForm("body"))
	if err := checkText("reply", 200, body); err != nil {
		tenant.Fail(c, err)
		return
	}
	tag, err := t.DB.Exec(c.Request.Context(), `INSERT INTO posts (thread_id, author_id, body)
		SELECT id, $2, $3 FROM threads WHERE id = $1`, id, u.ID, body)
	if err == nil && tag.RowsAffected() == 0 {
		err = apperr.NotFound("no such thread")
	}
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/t/"+strconv.FormatInt(id, 10))
}

// search finds visible posts whose text contains the query; each search is
// a metered use of the module.
func search(c *gin.Context) {
	t := tenant.Of(c)
	q := strings.TrimSpace(c.Query("q"))
	v := SearchView{Query: q}
	if q != "" {
		if len(q) > 200 {
			tenant.Fail(c, apperr.Invalid("a search needs at most 200 characters"))
			return
		}
		t.Use("search")
		rows, err := t.DB.Query(c.Request.Context(), `SELECT t.id, t.title FROM posts p JOIN threads t ON t.id = p.thread_id
			WHERE NOT p.hidden AND p.body ILIKE '%' || replace(replace(replace($1, '\', '\\'), '%', '\%'), '_', '\_') || '%'
			GROUP BY t.id, t.title ORDER BY max(p.created_at) DESC LIMIT 50`, q)
		if err != nil {
			tenant.Fail(c, err)
			return
		}
		if v.Results, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ThreadLink]); err != nil {
			tenant.Fail(c, err)
			return
		}
		v.Searched = true
	}
	tenant.Render(c, http.StatusOK, SearchPage(chrome(c, tenant.T(t.Lang, "search")), v))
}

// hidePost lets an admin hide a post; everybody else is refused.
func hidePost(c *gin.Context) {
	t := tenant.Of(c)
	id, ok := pathID(c)
	if !ok {
		return
	}
	u := user(c)
	if u == nil || !u.IsAdmin {
		tenant.Fail(c, apperr.Forbidden("only moderators can hide posts"))
		return
	}
	t.Use("moderation")
	var thread int64
	err := t.DB.QueryRow(c.Request.Context(), `UPDATE posts SET hidden = true WHERE id = $1 RETURNING thread_id`, id).Scan(&thread)
	if errors.Is(err, pgx.ErrNoRows) {
		tenant.NotFound(c)
		return
	}
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/t/"+strconv.FormatInt(thread, 10))
}
