package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
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

// ServedRoutes lists "METHOD /path" for every JSON route an engine serves.
func ServedRoutes(r *gin.Engine) []string {
	var out []string
	for _, rt := range r.Routes() {
		if strings.HasPrefix(rt.Path, "/api/") || rt.Path == "/healthz" {
			out = append(out, rt.Method+" "+rt.Path)
		}
	}
	sort.Strings(out)
	return out
}

// Reference is the OpenAPI document as people read it.
type Reference struct {
	Title, Description string
	Endpoints          []Endpoint
}

// Endpoint is one operation of the JSON API.
type Endpoint struct {
	Method, Path, Summary, Request string
	Responses                      []string
}

// ReadReference turns the OpenAPI document into a Reference, paths in
// order.
func ReadReference() (Reference, error) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return Reference{}, err
	}
	ref := Reference{Title: doc.Info.Title, Description: doc.Info.Description}
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
				return ref, err
			}
			e := Endpoint{Method: strings.ToUpper(method), Path: p, Summary: op.Summary}
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
			ref.Endpoints = append(ref.Endpoints, e)
		}
	}
	return ref, nil
}
