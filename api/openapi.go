package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPI describes every endpoint; TestOpenAPIMatchesRoutes keeps it in
// step with the handlers.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPI)
}

// OpenAPI is the OpenAPI document, for the tests of packages whose
// routes it also describes (batchapi).
func OpenAPI() []byte { return openAPI }
