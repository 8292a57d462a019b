package api

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestOpenAPIMatchesRoutes keeps the OpenAPI document and the handlers in
// step: every route is documented, and every documented operation exists.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q", doc.OpenAPI)
	}
	var documented []string
	for path, ops := range doc.Paths {
		if strings.HasPrefix(path, "/api/v1/batches") || strings.HasPrefix(path, "/api/v1/documents") ||
			path == "/api/v1/extend" || strings.HasPrefix(path, "/csc/") {
			continue // packages batchapi's, documentapi's, extendapi's and csc's routes, checked there
		}
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	s := New(Config{})
	engine, ok := s.Handler().(*gin.Engine)
	if !ok {
		t.Fatal("without mounts the handler is the gin engine")
	}
	var routed []string
	for _, r := range engine.Routes() {
		routed = append(routed, r.Method+" "+r.Path)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Errorf("routes and OpenAPI differ:\nrouted:\n%s\ndocumented:\n%s", strings.Join(routed, "\n"), strings.Join(documented, "\n"))
	}
}

// TestOpenAPISignFields keeps the documented form fields of /api/v1/sign
// and the fields the endpoint accepts in step.
func TestOpenAPISignFields(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]any `json:"properties"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var documented, accepted []string
	for k := range doc.Paths["/api/v1/sign"]["post"].RequestBody.Content["multipart/form-data"].Schema.Properties {
		documented = append(documented, k)
	}
	for k := range signFields {
		accepted = append(accepted, k)
	}
	sort.Strings(documented)
	sort.Strings(accepted)
	if strings.Join(documented, " ") != strings.Join(accepted, " ") {
		t.Errorf("/api/v1/sign fields differ:\naccepted:   %s\ndocumented: %s", strings.Join(accepted, " "), strings.Join(documented, " "))
	}
}
