package web

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"tenantry/web/console"
)

// openAPI describes the JSON API (every route under /api, and /healthz);
// a test holds it and the router to each other.
//
//go:embed openapi.json
var openAPI []byte

type openAPIDoc struct {
	Info struct {
		Title, Description string
	} `json:"info"`
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

type openAPIOp struct {
	Summary     string                     `json:"summary"`
	RequestBody json.RawMessage            `json:"requestBody"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

// DocumentedRoutes lists "METHOD /path" for every operation in the OpenAPI
// document, with gin's ":param" for "{param}".
func DocumentedRoutes() ([]string, error) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return nil, err
	}
	var out []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue
			}
			out = append(out, strings.ToUpper(method)+" "+ginPath(path))
		}
	}
	sort.Strings(out)
	return out, nil
}

func ginPath(p string) string {
	p = strings.ReplaceAll(p, "{", ":")
	return strings.ReplaceAll(p, "}", "")
}

// APIRoutes lists "METHOD /path" for every JSON route the router serves.
func (s *Server) APIRoutes() []string {
	var out []string
	for _, r := range s.engine.Routes() {
		if strings.HasPrefix(r.Path, "/api/") || r.Path == "/healthz" {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Server) openAPIDocument(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPI)
}

// docsPage renders the OpenAPI document as a page people read.
func (s *Server) docsPage(c *gin.Context) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		s.consoleFail(c, err)
		return
	}
	v := console.Docs{Title: doc.Info.Title, Description: doc.Info.Description}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, method := range []string{"get", "post", "put", "delete"} {
			raw, ok := doc.Paths[p][method]
			if !ok {
				continue
			}
			var op openAPIOp
			if err := json.Unmarshal(raw, &op); err != nil {
				s.consoleFail(c, err)
				return
			}
			e := console.Endpoint{Method: strings.ToUpper(method), Path: p, Summary: op.Summary}
			if len(op.RequestBody) > 0 {
				var pretty strings.Builder
				var body any
				_ = json.Unmarshal(op.RequestBody, &body)
				enc := json.NewEncoder(&pretty)
				enc.SetIndent("", "  ")
				_ = enc.Encode(body)
				e.Request = pretty.String()
			}
			codes := make([]string, 0, len(op.Responses))
			for code := range op.Responses {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			for _, code := range codes {
				var r struct {
					Description string `json:"description"`
					Ref         string `json:"$ref"`
				}
				_ = json.Unmarshal(op.Responses[code], &r)
				if r.Ref != "" {
					r.Description = "error: {\"error\": \"...\"}"
				}
				e.Responses = append(e.Responses, fmt.Sprintf("%s: %s", code, r.Description))
			}
			v.Endpoints = append(v.Endpoints, e)
		}
	}
	s.render(c, http.StatusOK, console.DocsPage(s.page(c, "API documentation"), v))
}
