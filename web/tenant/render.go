package tenant

import (
	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"
)

// Render writes a templ component as an HTML page with status.
func Render(c *gin.Context, status int, page templ.Component) {
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := page.Render(c.Request.Context(), c.Writer); err != nil {
		_ = c.Error(err)
	}
}
