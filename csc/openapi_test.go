package csc_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"esign/api"
	"esign/store"
)

// TestOpenAPIDocumentsRoutes: every CSC route is in the OpenAPI
// document, and nothing else under /csc/ is.
func TestOpenAPIDocumentsRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/csc/") {
			continue
		}
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	f := newFixture(t, store.SQLite)
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	srv := f.server
	srv.Routes(&engine.RouterGroup)
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
