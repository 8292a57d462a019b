// Package qrstamp draws a QR code that leads to a URL, such as the
// verification page of a signed document, as a signer.Overlay.
//
// The code is drawn as vector paths (one filled path of rectangles, a
// rectangle per horizontal run of dark modules), not as an image, so it
// stays sharp at any zoom or print resolution and adds a few kilobytes at
// most. The modules come from github.com/piglig/go-qr at error correction
// level M or higher.
package qrstamp

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	goqr "github.com/piglig/go-qr"

	"esign/appearance"
	"esign/pdf"
	"esign/signer"
)

// Caption is the text under the code.
const Caption = "ตรวจสอบเอกสาร / Verify"

// DefaultRect is the default placement: a 64 pt square 28 pt from the
// page's bottom-left corner.
var DefaultRect = [4]float64{28, 28, 92, 92}

// Limits on the placement, in points.
const (
	// MinSide keeps a code of a typical verification URL readable: at
	// about 1 pt (0.35 mm) a module a phone still reads it.
	MinSide = 40.0
	// MaxURL bounds the URL, which must fit one QR code at level M.
	MaxURL = 1024
)

// quietModules is the quiet zone ISO/IEC 18004 asks for around the code.
const quietModules = 4

// captionShare is the part of the rectangle's height kept for the
// caption, below the code and its quiet zone.
const captionShare = 0.16

// Options places the code. The zero value puts it at DefaultRect on the
// first page.
type Options struct {
	// Page is the 1-based page. Default 1.
	Page int
	// Rect is the rectangle in points of default user space, [x1 y1 x2
	// y2]. Default DefaultRect.
	Rect [4]float64
	// Font sets the caption. Default: appearance.Laksaman.
	Font *appearance.Font
}

// Stamp is a QR code for one URL, ready to be drawn into a document. It
// implements signer.Overlay and is safe for concurrent use.
type Stamp struct {
	url  string
	qr   *goqr.QrCode
	page int // 0-based
	rect [4]float64
	font *appearance.Font
}

// New encodes u and checks the placement. Errors are signer.ErrBadOptions.
func New(u string, opts Options) (*Stamp, error) {
	if err := checkURL(u); err != nil {
		return nil, err
	}
	if opts.Page == 0 {
		opts.Page = 1
	}
	if opts.Page < 1 {
		return nil, fmt.Errorf("%w: QR page %d (pages count from 1)", signer.ErrBadOptions, opts.Page)
	}
	if opts.Rect == [4]float64{} {
		opts.Rect = DefaultRect
	}
	r := opts.Rect
	for _, v := range r {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 14400 {
			return nil, fmt.Errorf("%w: QR rectangle %v", signer.ErrBadOptions, r)
		}
	}
	if w, h := r[2]-r[0], r[3]-r[1]; w < MinSide || h < MinSide {
		return nil, fmt.Errorf("%w: QR rectangle %v is smaller than %v pt a side", signer.ErrBadOptions, r, MinSide)
	}
	qr, err := goqr.EncodeText(u, goqr.Medium)
	if err != nil {
		return nil, fmt.Errorf("%w: encode QR code: %w", signer.ErrBadOptions, err)
	}
	f := opts.Font
	if f == nil {
		if f, err = appearance.Laksaman(); err != nil {
			return nil, err
		}
	}
	return &Stamp{url: u, qr: qr, page: opts.Page - 1, rect: r, font: f}, nil
}

// checkURL accepts absolute http and https URLs without spaces or
// control characters.
func checkURL(u string) error {
	if u == "" || len(u) > MaxURL {
		return fmt.Errorf("%w: QR URL of %d bytes (1 to %d)", signer.ErrBadOptions, len(u), MaxURL)
	}
	if strings.ContainsFunc(u, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: QR URL %q has spaces or control characters", signer.ErrBadOptions, u)
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return fmt.Errorf("%w: QR URL %q is not an absolute http or https URL", signer.ErrBadOptions, u)
	}
	return nil
}

// URL is the URL the code leads to.
func (s *Stamp) URL() string { return s.url }

// Overlay writes the code's form XObject into u. It implements
// signer.Overlay.
//
// Layout, inside the rectangle: a white background over all of it; the
// code with its quiet zone as the largest square that fits above a
// caption strip, centred; the caption centred in the strip below. The
// caption thus stays inside the rectangle, where the caller has chosen
// to mark the page, and never covers the code or its quiet zone.
func (s *Stamp) Overlay(ctx context.Context, u *pdf.Update) (signer.Placed, error) {
	if err := ctx.Err(); err != nil {
		return signer.Placed{}, err
	}
	w, h := s.rect[2]-s.rect[0], s.rect[3]-s.rect[1]
	capH := h * captionShare
	side := min(w, h-capH)
	n := s.qr.Size() + 2*quietModules
	m := side / float64(n)
	// The code's top-left corner, inside the quiet zone of a square
	// centred in the space above the caption.
	x0 := (w-side)/2 + quietModules*m
	y0 := capH + (h-capH-side)/2 + side - quietModules*m

	b := []byte("q\n1 g\n0 0 ")
	b = num(b, w)
	b = num(b, h)
	b = append(b, "re f\n0 g\n"...)
	size := s.qr.Size()
	for y := 0; y < size; y++ {
		for x := 0; x < size; {
			if !s.qr.Module(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < size && s.qr.Module(x+run, y) {
				run++
			}
			b = num(b, x0+float64(x)*m)
			b = num(b, y0-float64(y+1)*m)
			b = num(b, float64(run)*m)
			b = num(b, m)
			b = append(b, "re\n"...)
			x += run
		}
	}
	// One fill for all rectangles: a renderer covers their union at
	// once, so no hairline seams appear between rows.
	b = append(b, "f\nQ\n"...)

	caption, err := appearance.TextForm(u, s.font, []string{Caption}, w, capH, capH)
	if err != nil {
		return signer.Placed{}, fmt.Errorf("QR caption: %w", err)
	}
	b = append(b, "/Cap Do\n"...)
	form, err := pdf.FlateStream(pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
		"BBox":      pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Real(w), pdf.Real(h)},
		"Resources": pdf.Dict{"XObject": pdf.Dict{"Cap": caption}},
	}, b)
	if err != nil {
		return signer.Placed{}, err
	}
	return signer.Placed{Page: s.page, Rect: s.rect, XObject: u.Add(form)}, nil
}

// num appends v and a space, with the precision content streams need.
func num(b []byte, v float64) []byte {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-0" {
		s = "0"
	}
	return append(append(b, s...), ' ')
}
