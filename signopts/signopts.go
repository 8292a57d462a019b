// Package signopts reads the options of one signature — the fields of a
// POST /api/v1/sign form, or the same names in a batch's JSON — into the
// signer's options, the e-Saraban metadata and the visible placement.
// The sign endpoint and batch jobs share it, so a batch accepts exactly
// what /sign accepts and refuses it with the same words.
package signopts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"esign/audit"
	"esign/pdf"
	"esign/signer"
	"esign/store"
)

// ErrInvalid reports an option with a value that is not accepted; the
// API answers it with 400 bad_request.
var ErrInvalid = errors.New("invalid signing option")

// Names are the option names a signature request may carry, besides the
// file: the /sign form fields, and the members of a batch's JSON.
var Names = []string{
	"signer", "level", "certify", "reason", "location", "contact", "field", "lock",
	"visible", "page", "rect", "image", "activation",
	"doc_number", "doc_date", "subject", "urgency", "secrecy",
}

// PerDocument are the options a batch document may set for itself,
// over the batch's.
var PerDocument = []string{"field", "page", "rect"}

// Placement puts a visible signature on a page: "page" (1-based) and
// "rect" ("x1,y1,x2,y2" in points from the lower left, or a JSON array),
// with an optional PNG signature image in "image".
type Placement struct {
	Page  int
	Rect  [4]float64
	Image []byte // PNG, optional
}

// MaxImage bounds the signature image.
const MaxImage = 2 << 20

// maxText bounds reason, location, contact and field name.
const maxText = 1024

// Request is one signature's parsed options.
type Request struct {
	Signer    string // the credential's name
	Options   signer.Options
	Metadata  audit.Metadata
	Placement *Placement // nil: no page and rect, and no image
	Visible   bool       // draw into the existing field named by Options.Field
}

// AppearanceFunc makes a credential's visible appearance for a placement.
type AppearanceFunc func(c *store.Credential, p Placement) (signer.Appearance, error)

// Parse reads the options that get returns by name ("" when absent); the
// image, being bytes, comes apart. Level defaults to B-LT, as on /sign.
func Parse(get func(string) string, image []byte) (*Request, error) {
	r := &Request{Signer: get("signer")}
	if r.Signer == "" {
		return r, fmt.Errorf("%w: missing \"signer\"", ErrInvalid)
	}
	var err error
	if r.Options.Level, err = signer.ParseLevel(or(get("level"), string(signer.LevelLT))); err != nil {
		return r, err
	}
	switch v := or(get("certify"), "none"); v {
	case "none":
	case "1", "2", "3":
		r.Options.Certify, _ = strconv.Atoi(v)
	default:
		return r, fmt.Errorf("%w: certify %q (want none, 1, 2 or 3)", ErrInvalid, v)
	}
	r.Options.Reason = get("reason")
	r.Options.Location = get("location")
	r.Options.ContactInfo = get("contact")
	r.Options.Field = get("field")
	if r.Options.LockField, err = parseBool("lock", get("lock")); err != nil {
		return r, err
	}
	for _, v := range []string{r.Options.Reason, r.Options.Location, r.Options.ContactInfo, r.Options.Field} {
		if len(v) > maxText {
			return r, fmt.Errorf("%w: a text field is longer than %d bytes", ErrInvalid, maxText)
		}
	}
	r.Metadata = audit.Metadata{
		Number: get("doc_number"), Date: get("doc_date"), Subject: get("subject"),
		Urgency: get("urgency"), Secrecy: get("secrecy"),
	}
	if err := r.Metadata.Validate(); err != nil {
		return r, fmt.Errorf("%w: e-Saraban metadata: %v", ErrInvalid, err)
	}
	if r.Placement, err = parsePlacement(get("page"), get("rect"), image); err != nil {
		return r, err
	}
	if r.Placement != nil && r.Placement.Page == 0 && r.Options.Field == "" {
		return r, fmt.Errorf(`%w: an "image" needs "page" and "rect", or "field" (an existing empty field)`, ErrInvalid)
	}
	if r.Visible, err = parseBool("visible", get("visible")); err != nil {
		return r, err
	}
	if r.Visible && r.Options.Field == "" && r.Placement == nil {
		return r, fmt.Errorf(`%w: visible needs "field" (an existing empty field) or "page" and "rect"`, ErrInvalid)
	}
	return r, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func parseBool(name, v string) (bool, error) {
	switch v {
	case "true", "1":
		return true, nil
	case "false", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("%w: %s %q (want true or false)", ErrInvalid, name, v)
}

func parsePlacement(page, rect string, img []byte) (*Placement, error) {
	if len(img) > MaxImage {
		return nil, fmt.Errorf("%w: image is over %d bytes", ErrInvalid, MaxImage)
	}
	if page == "" && rect == "" {
		if img != nil {
			return &Placement{Image: img}, nil // an existing field gives the place
		}
		return nil, nil
	}
	p := &Placement{Image: img}
	var err error
	if p.Page, err = strconv.Atoi(page); err != nil || p.Page < 1 {
		return nil, fmt.Errorf("%w: page %q (want a page number from 1)", ErrInvalid, page)
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
		return nil, fmt.Errorf("%w: rect %q (want x1,y1,x2,y2 with x2>x1 and y2>y1)", ErrInvalid, rect)
	}
	copy(p.Rect[:], nums)
	// The appearance would refuse it too, but only once a signing slot
	// is taken; and its message would not name the form field.
	if err := signer.CheckRect(p.Rect); err != nil {
		return nil, fmt.Errorf("%w: rect: %v", ErrInvalid, err)
	}
	return p, nil
}

// NeedsAppearance reports whether the signature is visible.
func (r *Request) NeedsAppearance() bool { return r.Placement != nil || r.Visible }

// Draw sets the visible appearance from the placement or, for an
// existing field, from the field's own place. With no AppearanceFunc,
// a placement is refused.
func (r *Request) Draw(cred *store.Credential, appearance AppearanceFunc) error {
	if appearance == nil {
		if r.Placement != nil {
			return fmt.Errorf("%w: visible signatures are not configured", ErrInvalid)
		}
		return nil
	}
	p := Placement{}
	if r.Placement != nil {
		p = *r.Placement
	}
	app, err := appearance(cred, p)
	if err != nil {
		return fmt.Errorf("%w: appearance: %v", ErrInvalid, err)
	}
	if p.Page == 0 {
		// No page and rect: only an existing empty field gives the place.
		app = inField{app, r.Options.Field}
	}
	r.Options.Appearance = app
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
