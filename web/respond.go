package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"tenantry/internal/apperr"
)

// fail answers with the error's status and a message a user can act on.
// Internal causes go to the log only.
func (s *Server) fail(c *gin.Context, err error) {
	status := apperr.HTTPStatus(err)
	if status >= 500 {
		s.Log.Error("request failed", "path", c.FullPath(), "err", err)
	}
	c.AbortWithStatusJSON(status, gin.H{"error": apperr.Message(err)})
}

// bindJSON decodes a request body strictly: unknown fields and trailing data
// are errors, so a typo in a field name is reported instead of ignored.
func bindJSON(c *gin.Context, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return apperr.Invalid("the request body must be a JSON object")
		case errors.As(err, &syntax):
			return apperr.Invalid("the request body is not valid JSON (at byte %d)", syntax.Offset)
		case errors.As(err, &typ):
			return apperr.Invalid("field %q must be a %s", typ.Field, typ.Type)
		default:
			return apperr.Invalid("the request body is invalid: %s", err.Error())
		}
	}
	if dec.More() {
		return apperr.Invalid("the request body must hold one JSON object")
	}
	return nil
}

func required(field, value string) error {
	if value == "" {
		return apperr.Invalid("%s is required", field)
	}
	return nil
}
