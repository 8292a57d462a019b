package signer

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"esign/pdf"
)

var (
	// ErrAttachmentForbidden reports an attachment on a PDF/A-1 or PDF/A-2
	// input, whose parts forbid such embedded files (ISO 19005-1 §6.1.11,
	// ISO 19005-2 §6.8): the API answers 422.
	ErrAttachmentForbidden = errors.New("signer: the document's PDF/A part forbids attached files")
	// ErrAlreadySigned reports an attachment or overlay asked for on a
	// document that already carries signatures: adding either after
	// signing is a change that recipients should not have to judge, so
	// the API answers 409.
	ErrAlreadySigned = errors.New("signer: the document is already signed; files and marks can only be added before the first signature")
)

// Attachment is a file embedded in the signature's own revision, before
// the signature is computed, so that the signature covers it: an
// associated file in the sense of ISO 32000-2 §14.13 and ISO 19005-3.
type Attachment struct {
	// Name is the file name written to /F and /UF.
	Name string
	// MIME is the media type written to /Subtype, such as
	// "application/xml".
	MIME string
	// Relationship is /AFRelationship: Data (default), Source,
	// Alternative or Supplement.
	Relationship string
	// Description is written to /Desc when not empty.
	Description string
	// Data is the file's content.
	Data []byte
	// ModDate is /Params /ModDate. Default: the signing time.
	ModDate time.Time
}

// Overlay draws on a page in the signature's revision, before the
// signature is computed, such as a QR code that leads to the
// verification page of the document.
type Overlay interface {
	// Overlay adds its form XObject (and what it uses) to u and says where
	// it goes.
	Overlay(ctx context.Context, u *pdf.Update) (Placed, error)
}

// Placed puts a form XObject on a page.
type Placed struct {
	Page    int        // 0-based
	Rect    [4]float64 // in default user space
	XObject pdf.Ref
}

// Bounds on what an attachment may be.
const (
	maxAttachmentName = 255 // bytes, as file systems allow
	maxAttachmentDesc = 1000
	maxMIME           = 255 // RFC 6838 §4.2 allows 127 + 1 + 127
)

// relationships are the /AFRelationship values a caller may ask for
// (ISO 32000-2 Table 43); Unspecified and EncryptedPayload are not
// meaningful for a file the issuer attaches on purpose.
var relationships = map[string]bool{"Data": true, "Source": true, "Alternative": true, "Supplement": true}

// check validates a and fills its defaults.
func (a Attachment) check(now time.Time) (Attachment, error) {
	bad := func(format string, args ...any) (Attachment, error) {
		return a, fmt.Errorf("%w: attachment %q: %s", ErrBadOptions, a.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case a.Name == "" || strings.TrimSpace(a.Name) == "":
		return bad("no file name")
	case len(a.Name) > maxAttachmentName:
		return bad("file name of %d bytes (at most %d)", len(a.Name), maxAttachmentName)
	case !utf8.ValidString(a.Name) || strings.ContainsFunc(a.Name, unicode.IsControl):
		return bad("file name with control characters or invalid UTF-8")
	case strings.ContainsAny(a.Name, `/\`):
		return bad("file name with a path separator")
	case len(a.Data) == 0:
		return bad("no content")
	case len(a.Description) > maxAttachmentDesc || !utf8.ValidString(a.Description) || strings.ContainsRune(a.Description, 0):
		return bad("description too long or not text")
	}
	if !validMIME(a.MIME) {
		return bad("media type %q is not type/subtype", a.MIME)
	}
	if a.Relationship == "" {
		a.Relationship = "Data"
	}
	if !relationships[a.Relationship] {
		return bad("relationship %q (want Data, Source, Alternative or Supplement)", a.Relationship)
	}
	if a.ModDate.IsZero() {
		a.ModDate = now
	}
	return a, nil
}

// validMIME checks type/subtype with RFC 6838 §4.2 restricted names;
// parameters are not allowed, since /Subtype is a name.
func validMIME(s string) bool {
	if len(s) > maxMIME {
		return false
	}
	typ, sub, ok := strings.Cut(s, "/")
	return ok && mimeName(typ) && mimeName(sub)
}

func mimeName(s string) bool {
	if s == "" || len(s) > 127 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && strings.IndexByte("!#$&-^_.+", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// checkAdditions refuses attachments and overlays the input cannot take:
// on a signed document (ErrAlreadySigned) and attachments on PDF/A-1 or
// PDF/A-2 (ErrAttachmentForbidden). A PDF/A-3 file stays one; a file
// claiming no PDF/A part may take anything.
func checkAdditions(r *pdf.Reader, cat pdf.Dict, fields []field, opts Options) error {
	if len(opts.Attachments) == 0 && len(opts.Overlays) == 0 {
		return nil
	}
	for _, f := range fields {
		if f.signed {
			return fmt.Errorf("%w (field %q)", ErrAlreadySigned, f.name)
		}
	}
	if len(opts.Attachments) == 0 {
		return nil
	}
	id, err := documentPDFA(r, cat)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPDF, err)
	}
	if id.Part == 1 || id.Part == 2 {
		return fmt.Errorf("%w: the input is PDF/A-%d%s, which allows no such embedded files; convert it to PDF/A-3 or send it without the attachment",
			ErrAttachmentForbidden, id.Part, strings.ToLower(id.Conformance))
	}
	return nil
}

// addAttachments embeds each attachment (ISO 32000-2 §7.11.4), names it
// in /Names /EmbeddedFiles and lists it in the catalog's /AF (§14.13).
//
// The file specifications go in the catalog's /AF only, not a page's: the
// files this service attaches (a transcript's XML) describe the whole
// document, and §14.13.2 ties a page's /AF to that page's content.
func addAttachments(f *form, atts []Attachment) error {
	if len(atts) == 0 {
		return nil
	}
	names, namesRef, err := f.catSubDict("Names")
	if err != nil {
		return fmt.Errorf("%w: read /Names: %w", ErrInvalidPDF, err)
	}
	tree, err := readNameTree(f.u, names["EmbeddedFiles"])
	if err != nil {
		return fmt.Errorf("%w: /Names /EmbeddedFiles: %w", ErrInvalidPDF, err)
	}
	root := names["EmbeddedFiles"]
	var specs pdf.Array
	for _, a := range atts {
		spec, err := embedFile(f.u, a)
		if err != nil {
			return err
		}
		specs = append(specs, spec)
		if root, err = tree.insert(root, tree.uniqueKey(a.Name), spec); err != nil {
			return fmt.Errorf("%w: /Names /EmbeddedFiles: %w", ErrInvalidPDF, err)
		}
	}
	if _, ok := root.(pdf.Dict); ok {
		root = f.u.Add(root) // a new or direct root becomes its own object
	}
	names["EmbeddedFiles"] = root
	f.setCatSubDict("Names", names, namesRef)

	switch af := f.cat["AF"].(type) {
	case pdf.Ref:
		cur, err := f.u.Get(af)
		if err != nil {
			return fmt.Errorf("%w: read /AF: %w", ErrInvalidPDF, err)
		}
		arr, ok := cur.(pdf.Array)
		if !ok {
			return fmt.Errorf("%w: catalog /AF is not an array", ErrInvalidPDF)
		}
		f.u.Set(af, append(append(pdf.Array{}, arr...), specs...))
	case pdf.Array:
		f.cat["AF"] = append(append(pdf.Array{}, af...), specs...)
		f.catDirty = true
	case nil:
		f.cat["AF"] = specs
		f.catDirty = true
	default:
		return fmt.Errorf("%w: catalog /AF is not an array", ErrInvalidPDF)
	}
	return nil
}

// embedFile writes the embedded file stream and its file specification.
func embedFile(u *pdf.Update, a Attachment) (pdf.Ref, error) {
	sum := md5.Sum(a.Data) // §7.11.4 Table 45: /CheckSum is MD5
	st, err := pdf.FlateStream(pdf.Dict{
		"Type":    pdf.Name("EmbeddedFile"),
		"Subtype": pdf.Name(a.MIME),
		"Params": pdf.Dict{
			"Size":     pdf.Integer(len(a.Data)),
			"ModDate":  pdf.TextString(pdf.FormatDate(a.ModDate)),
			"CheckSum": pdf.String{Bytes: sum[:], Hex: true},
		},
	}, a.Data)
	if err != nil {
		return pdf.Ref{}, err
	}
	ef := u.Add(st)
	spec := pdf.Dict{
		"Type":           pdf.Name("Filespec"),
		"F":              pdf.String{Bytes: asciiFileName(a.Name)},
		"UF":             pdf.TextString(a.Name),
		"AFRelationship": pdf.Name(a.Relationship),
		"EF":             pdf.Dict{"F": ef, "UF": ef},
	}
	if a.Description != "" {
		spec["Desc"] = pdf.TextString(a.Description)
	}
	return u.Add(spec), nil
}

// asciiFileName is /F for readers that predate /UF: the name itself when
// it is printable ASCII, else with every other character as '_', keeping
// the extension readable.
func asciiFileName(name string) []byte {
	var b []byte
	for _, r := range name {
		if r >= 0x20 && r < 0x7f {
			b = append(b, byte(r))
		} else {
			b = append(b, '_')
		}
	}
	return b
}
