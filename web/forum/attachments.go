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

// The attachments module keeps files' metadata (name, size) per post; its
// table arrives with schema 2 (forum 1.1.0).
const (
	attachmentsSchema  = 2
	maxAttachmentBytes = 10 << 20
	maxPerPost         = 10
)

// AttachmentView is one attached file's metadata.
type AttachmentView struct {
	FileName string
	Bytes    int64
}

// attachments lists a thread's attachments by post.
func attachments(c *gin.Context, thread int64) (map[int64][]AttachmentView, error) {
	rows, err := tenant.Of(c).DB.Query(c.Request.Context(), `SELECT a.post_id, a.file_name, a.byte_size
		FROM attachments a JOIN posts p ON p.id = a.post_id WHERE p.thread_id = $1 AND NOT p.hidden ORDER BY a.id`, thread)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]AttachmentView{}
	for rows.Next() {
		var post int64
		var a AttachmentView
		if err := rows.Scan(&post, &a.FileName, &a.Bytes); err != nil {
			return nil, err
		}
		out[post] = append(out[post], a)
	}
	return out, rows.Err()
}

// attach records a file's metadata on a post; only its author or an admin
// may, within the per-post quota.
func attach(c *gin.Context) {
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
	name := strings.TrimSpace(c.PostForm("file_name"))
	size, err := strconv.ParseInt(c.PostForm("byte_size"), 10, 64)
	switch {
	case name == "" || len(name) > 200 || strings.ContainsAny(name, `/\`):
		tenant.Fail(c, apperr.Invalid("a file name needs 1 to 200 characters and no slashes"))
		return
	case err != nil || size < 0 || size > maxAttachmentBytes:
		tenant.Fail(c, apperr.Invalid("a file may have at most %d bytes", maxAttachmentBytes))
		return
	}
	ctx := c.Request.Context()
	var thread int64
	err = pgx.BeginFunc(ctx, t.DB, func(tx pgx.Tx) error {
		var author int64
		err := tx.QueryRow(ctx, `SELECT thread_id, author_id FROM posts WHERE id = $1 AND NOT hidden FOR UPDATE`, id).Scan(&thread, &author)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.NotFound("no such post")
		}
		if err != nil {
			return err
		}
		if author != u.ID && !u.IsAdmin {
			return apperr.Forbidden("only the post's author can attach files to it")
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM attachments WHERE post_id = $1`, id).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerPost {
			return apperr.Conflict("a post can have at most %d attachments", maxPerPost)
		}
		_, err = tx.Exec(ctx, `INSERT INTO attachments (post_id, file_name, byte_size) VALUES ($1, $2, $3)`, id, name, size)
		return err
	})
	if err != nil {
		tenant.Fail(c, err)
		return
	}
	t.Use("attachments")
	c.Redirect(http.StatusSeeOther, "/t/"+strconv.FormatInt(thread, 10))
}
