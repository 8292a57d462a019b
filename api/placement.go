package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"esign/pdf"
	"esign/signer"
	"esign/store"
)

// Placement puts a visible signature on a page: form fields "page"
// (1-based) and "rect" ("x1,y1,x2,y2" in points from the lower left, or
// a JSON array), with an optional PNG signature image in "image".
type Placement struct {
	Page  int
	Rect  [4]float64
	Image []byte // PNG, optional
}

// maxImage bounds the signature image.
const maxImage = 2 << 20

func parsePlacement(f *form) (*Placement, error) {
	page, rect, img := f.get("page"), f.get("rect"), f.image
	if page == "" && rect == "" {
		if img != nil {
			return &Placement{Image: img}, nil // an existing field gives the place
		}
		return nil, nil
	}
	p := &Placement{Image: img}
	var err error
	if p.Page, err = strconv.Atoi(page); err != nil || p.Page < 1 {
		return nil, fmt.Errorf("%w: page %q (want a page number from 1)", errBadRequest, page)
	}
	var nums []float64
	if strings.HasPrefix(strings.TrimSpace(rect), "[") {
		err = json.Unmarshal([]byte(rect), &nums)
	} else {
		for _, f := range strings.Split(rect, ",") {
			v, perr := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if perr != nil {
				err = perr
				break
			}
			nums = append(nums, v)
		}
	}
	if err != nil || len(nums) != 4 || !(nums[2] > nums[0]) || !(nums[3] > nums[1]) {
		return nil, fmt.Errorf("%w: rect %q (want x1,y1,x2,y2 with x2>x1 and y2>y1)", errBadRequest, rect)
	}
	copy(p.Rect[:], nums)
	// The appearance would refuse it too, but only once a signing slot
	// is taken; and its message would not name the form field.
	if err := signer.CheckRect(p.Rect); err != nil {
		return nil, fmt.Errorf("%w: rect: %v", errBadRequest, err)
	}
	return p, nil
}

// appearance sets the request's visible appearance from its placement,
// or for an existing field, from the field's own place.
func (s *Server) appearance(cred *store.Credential, req *signRequest) error {
	if s.cfg.Appearance == nil {
		if req.placement != nil {
			return fmt.Errorf("%w: visible signatures are not configured", errBadRequest)
		}
		return nil
	}
	p := Placement{}
	if req.placement != nil {
		p = *req.placement
	}
	app, err := s.cfg.Appearance(cred, p)
	if err != nil {
		return fmt.Errorf("%w: appearance: %v", errBadRequest, err)
	}
	if p.Page == 0 {
		// No page and rect: only an existing empty field gives the place.
		app = inField{app, req.options.Field}
	}
	req.options.Appearance = app
	return nil
}

// inField draws only into an existing field. Without it, a visible
// signature naming a field the document lacks would make a new field with
// no place, and fail as an appearance without a rectangle.
type inField struct {
	signer.Appearance
	field string
}

func (a inField) Widget(ctx context.Context, u *pdf.Update, info signer.AppearanceInfo) (signer.Widget, error) {
	if info.Placed == nil {
		return signer.Widget{}, fmt.Errorf(`%w: the document has no empty signature field %q to draw in; give "page" and "rect" to place the signature`, signer.ErrBadOptions, a.field)
	}
	return a.Appearance.Widget(ctx, u, info)
}

// requestID is the ID logRequests gave the request (and sent in
// X-Request-Id), or a fresh one outside that middleware.
func requestID(c *gin.Context) string {
	if id := c.GetString(keyRequestID); id != "" {
		return id
	}
	return newRequestID()
}

// newRequestID makes a request ID: 16 random hex digits.
func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sha256Of fingerprints an upload for the audit log of a failed request.
func sha256Of(r io.ReaderAt, size int64) []byte {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return nil
	}
	return h.Sum(nil)
}
