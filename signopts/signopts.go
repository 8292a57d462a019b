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
	"mime"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"esign/audit"
	"esign/pdf"
	"esign/qrstamp"
	"esign/registry"
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
	"attachment", "attachment_name", "attachment_mime", "attachment_relationship", "attachment_description",
	"qr", "qr_page", "qr_rect", "register", "label",
}

// PerDocument are the options a batch document may set for itself,
// over the batch's: where its signature goes, its attached file (the
// file part "attachment" and its fields), its QR code and its registry
// entry.
var PerDocument = []string{
	"field", "page", "rect",
	"attachment", "attachment_name", "attachment_mime", "attachment_relationship", "attachment_description",
	"qr", "qr_page", "qr_rect", "register", "label",
}

// attachmentFields are the options that describe an attachment, refused
// without one.
var attachmentFields = []string{"attachment_name", "attachment_mime", "attachment_relationship", "attachment_description"}

// File is an uploaded file part.
type File struct {
	Name string // the part's file name, if any
	Data []byte
}

// Files are the file parts of a request, which come apart from the text
// options.
type Files struct {
	Image      []byte // the visible signature's PNG
	Attachment *File  // embedded in the signed revision; nil: none
}

// MaxAttachment bounds an attached file: a transcript's XML is tens of
// kilobytes.
const MaxAttachment = 10 << 20

// maxFileName bounds an attachment's name.
const maxFileName = 255

// QR places the QR code that leads to the document's verification page.
type QR struct {
	Page int        // 1-based
	Rect [4]float64 // zero: the stamp's default place
}

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
	// QR draws a QR code to the document's verification page; nil: none.
	QR *QR
	// Register records the signed document in the issuer registry; a QR
	// code registers it too (see Registered).
	Register bool
	// Label is the issuer's own reference of a registered document.
	Label string
}

// Registered reports whether the signed document goes into the issuer
// registry: asked for, or needed by its QR code.
func (r *Request) Registered() bool { return r.Register || r.QR != nil }

// Issue prepares a registered document's signature: with a QR code, an
// overlay leading to verifyURL, the document's own page on the public
// verifier ({ESIGN_PUBLIC_VERIFY_URL}/d/{id}).
func (r *Request) Issue(verifyURL string) error {
	if r.QR == nil {
		return nil
	}
	st, err := qrstamp.New(verifyURL, qrstamp.Options{Page: r.QR.Page, Rect: r.QR.Rect})
	if err != nil {
		return fmt.Errorf("%w: qr: %v", ErrInvalid, err)
	}
	r.Options.Overlays = append(r.Options.Overlays, st)
	return nil
}

// IssuerOf is who the public sees as the issuer of a document signed
// with key: its certificate's organisation, such as the university, else
// its common name.
func IssuerOf(key signer.Credential) string {
	if len(key.Chain) == 0 {
		return ""
	}
	subj := key.Chain[0].Subject
	if len(subj.Organization) > 0 && subj.Organization[0] != "" {
		return subj.Organization[0]
	}
	return subj.CommonName
}

// VerifyURL is the address of a registered document's page on the public
// verifier whose base address is base.
func VerifyURL(base, id string) string { return base + "/d/" + id }

// AppearanceFunc makes a credential's visible appearance for a placement.
type AppearanceFunc func(c *store.Credential, p Placement) (signer.Appearance, error)

// Parse reads the options that get returns by name ("" when absent); the
// file parts, being bytes, come apart. Level defaults to B-LT, as on
// /sign.
func Parse(get func(string) string, files Files) (*Request, error) {
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
	if r.Placement, err = parsePlacement(get("page"), get("rect"), files.Image); err != nil {
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
	if err := r.parseAttachment(get, files.Attachment); err != nil {
		return r, err
	}
	if err := r.parseRegistry(get); err != nil {
		return r, err
	}
	return r, nil
}

// parseAttachment reads the attached file and its description.
func (r *Request) parseAttachment(get func(string) string, f *File) error {
	if f == nil {
		for _, k := range attachmentFields {
			if get(k) != "" {
				return fmt.Errorf(`%w: %q describes an attachment, but there is no "attachment"`, ErrInvalid, k)
			}
		}
		return nil
	}
	if len(f.Data) == 0 {
		return fmt.Errorf("%w: the attachment is empty", ErrInvalid)
	}
	if len(f.Data) > MaxAttachment {
		return fmt.Errorf("%w: the attachment is over %d bytes", ErrInvalid, MaxAttachment)
	}
	a := signer.Attachment{Name: or(get("attachment_name"), f.Name), Description: get("attachment_description"), Data: f.Data}
	if err := checkFileName(a.Name); err != nil {
		return err
	}
	if err := checkText("attachment_description", a.Description, maxText); err != nil {
		return err
	}
	var err error
	if a.MIME, err = mimeType(get("attachment_mime"), a.Name); err != nil {
		return err
	}
	switch a.Relationship = or(get("attachment_relationship"), "Data"); a.Relationship {
	case "Data", "Source", "Alternative", "Supplement":
	default:
		return fmt.Errorf("%w: attachment_relationship %q (want Data, Source, Alternative or Supplement)", ErrInvalid, a.Relationship)
	}
	r.Options.Attachments = append(r.Options.Attachments, a)
	return nil
}

func checkText(name, v string, limit int) error {
	if len(v) > limit {
		return fmt.Errorf("%w: %s is over %d bytes", ErrInvalid, name, limit)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, name)
	}
	return nil
}

// checkFileName refuses a name that is no plain file name: recipients'
// systems save the file under it.
func checkFileName(name string) error {
	if name == "" {
		return fmt.Errorf(`%w: the attachment has no name: give "attachment_name" or a file name on the part`, ErrInvalid)
	}
	if err := checkText("attachment_name", name, maxFileName); err != nil {
		return err
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: attachment_name %q is not a plain file name", ErrInvalid, name)
	}
	return nil
}

// mimeType is the attachment's media type: given, or from its name's
// extension (application/xml for .xml, whatever the system's table
// says), else application/octet-stream. Parameters are dropped: /Subtype
// holds the bare type.
func mimeType(given, name string) (string, error) {
	if given != "" {
		mt, params, err := mime.ParseMediaType(given)
		if err != nil || len(params) > 0 || !strings.Contains(mt, "/") || len(mt) > 127 {
			return "", fmt.Errorf("%w: attachment_mime %q (want a media type such as application/xml)", ErrInvalid, given)
		}
		return mt, nil
	}
	ext := strings.ToLower(path.Ext(name))
	if ext == ".xml" {
		return "application/xml", nil
	}
	if mt, _, err := mime.ParseMediaType(mime.TypeByExtension(ext)); err == nil && ext != "" {
		return mt, nil
	}
	return "application/octet-stream", nil
}

// parseRegistry reads the QR code's place and the registry's fields.
func (r *Request) parseRegistry(get func(string) string) error {
	qr, err := parseBool("qr", get("qr"))
	if err != nil {
		return err
	}
	if r.Register, err = parseBool("register", get("register")); err != nil {
		return err
	}
	if !qr {
		for _, k := range []string{"qr_page", "qr_rect"} {
			if get(k) != "" {
				return fmt.Errorf(`%w: %q places a QR code, but "qr" is not true`, ErrInvalid, k)
			}
		}
	} else {
		r.QR = &QR{Page: 1}
		if v := get("qr_page"); v != "" {
			if r.QR.Page, err = strconv.Atoi(v); err != nil || r.QR.Page < 1 {
				return fmt.Errorf("%w: qr_page %q (want a page number from 1)", ErrInvalid, v)
			}
		}
		if v := get("qr_rect"); v != "" {
			if r.QR.Rect, err = parseRect("qr_rect", v); err != nil {
				return err
			}
		}
	}
	r.Label = get("label")
	if r.Label != "" && !r.Registered() {
		return fmt.Errorf(`%w: "label" names a registered document: set "register" or "qr" to true`, ErrInvalid)
	}
	if err := registry.CheckLabel(r.Label); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
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
	if p.Rect, err = parseRect("rect", rect); err != nil {
		return nil, err
	}
	return p, nil
}

// parseRect reads "x1,y1,x2,y2" or a JSON array, in points.
func parseRect(name, rect string) ([4]float64, error) {
	var out [4]float64
	var err error
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
		return out, fmt.Errorf("%w: %s %q (want x1,y1,x2,y2 with x2>x1 and y2>y1)", ErrInvalid, name, rect)
	}
	copy(out[:], nums)
	// The appearance would refuse it too, but only once a signing slot
	// is taken; and its message would not name the form field.
	if err := signer.CheckRect(out); err != nil {
		return out, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	return out, nil
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
