package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"esign/signer"
)

// addFields handles POST /api/v1/fields: the e-Saraban system prepares
// one empty signature field per official on the document's route, in one
// incremental update, before anyone signs.
func (s *Server) addFields(c *gin.Context) {
	f, err := s.readForm(c, fieldsFields)
	if err != nil {
		abort(c, err)
		return
	}
	defer f.close()
	file, size := f.file, f.file.size
	var specs []signer.FieldSpec
	dec := json.NewDecoder(strings.NewReader(f.get("fields")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&specs); err != nil {
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			abort(c, fmt.Errorf("%w: %v", errUnknownField, err))
			return
		}
		abort(c, fmt.Errorf(`%w: "fields" must be a JSON array of {"name","page","rect":[x1,y1,x2,y2]}: %v`, errBadRequest, err))
		return
	}
	if dec.More() {
		abort(c, fmt.Errorf(`%w: "fields" holds more than one JSON value`, errBadRequest))
		return
	}
	res, err := signer.AddFields(c.Request.Context(), file, size, specs)
	if err != nil {
		abort(c, err)
		return
	}
	c.Header("Content-Type", "application/pdf")
	c.Header("Content-Length", strconv.FormatInt(res.Size(), 10))
	c.Header("Content-Disposition", `attachment; filename="fields.pdf"`)
	c.Status(http.StatusOK)
	if _, err := res.Write(c.Writer, file); err != nil {
		_ = c.Error(fmt.Errorf("stream PDF: %w", err))
	}
}
