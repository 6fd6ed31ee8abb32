package auth

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"tenantry/internal/apperr"
)

// WriteError answers a request refused before any handler ran (the session
// store down, a cross-origin form): JSON {"error": …} under /api, a small
// page elsewhere; an unavailable answer carries Retry-After.
func WriteError(w http.ResponseWriter, r *http.Request, status int, message string) {
	apperr.SetRetryAfter(w.Header(), status)
	w.Header().Set("Cache-Control", "no-store")
	if IsAPI(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": message})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorPage.Execute(w, map[string]any{"Title": http.StatusText(status), "Message": message,
		"Retry": status == http.StatusServiceUnavailable})
}

// IsAPI tells a JSON API request from a console one.
func IsAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · Tenantry</title></head>
<body><main><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .Retry}}<p>Nothing was lost. <a href="">Try again</a> in a few seconds.</p>{{end}}
<p><a href="/">Back to the console</a></p></main></body></html>
`))
