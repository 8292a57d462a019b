// Package appearance draws visible signatures for Thai official documents:
// the signer's name in parentheses, their position, an optional image of
// the handwritten signature and the date in the Buddhist era.
//
// Thai needs real shaping: vowels and tone marks stack above and below
// consonants, and fonts reposition them (GPOS mark attachment) or swap
// them for shifted forms (GSUB). Text is shaped with HarfBuzz's algorithm
// (github.com/go-text/typesetting) and every glyph is placed where the
// shaper says. The font goes into the PDF as a subset, with widths and a
// ToUnicode map, so the result is PDF/A-2 and PDF/A-3 compatible and the
// text can be searched and copied.
package appearance

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"esign/pdf"
	"esign/signer"
)

// ErrOptions reports an appearance that cannot be drawn as configured.
// It is also a signer.ErrBadOptions: the placement or image a request
// gave is at fault, not the service, so the signer's callers answer it
// as the caller's mistake without knowing this package.
var ErrOptions error = optionsError{}

type optionsError struct{}

func (optionsError) Error() string { return "appearance: invalid options" }

func (optionsError) Is(target error) bool { return target == signer.ErrBadOptions }

// MaxLineRunes bounds each line of text.
const MaxLineRunes = 200

// DefaultFontSize is the text size when Thai.FontSize is zero: 16 pt, the
// size Thai official letters set TH Sarabun in.
const DefaultFontSize = 16

var oidTitle = asn1.ObjectIdentifier{2, 5, 4, 12}

// Thai is a visible signature in the style of Thai official letters:
//
//	[signature image]
//	(นางสาวสมศรี ใจดี)
//	ผู้อำนวยการกองกลาง
//	22 พฤศจิกายน 2569
//
// It implements signer.Appearance. The zero value of each field but Rect
// has a sensible default.
type Thai struct {
	// Page is the 0-based page the signature goes on. Default 0.
	Page int
	// Rect is the signature's rectangle [x1 y1 x2 y2] in the page's
	// default user space (points from the lower left corner). Required.
	Rect [4]float64
	// Name is the signer's name, shown in parentheses. Default: the name
	// the signer puts in /Name (the certificate's common name).
	Name string
	// Position is the line under the name. Default: the certificate's
	// title attribute (2.5.4.12), else its first organizational unit,
	// else no line.
	Position string
	// Date is the date line. Default: ThaiDate of the signing time in
	// Location.
	Date string
	// Location is the time zone of the default date. Default: Bangkok.
	Location *time.Location
	// Image is an optional PNG of the handwritten signature, drawn above
	// the name. Its transparency is kept as a soft mask, which PDF/A-2
	// and PDF/A-3 allow (PDF/A-1 does not). Default: none.
	Image []byte
	// Font draws the text. Default: the embedded TLWG Laksaman. Parse a
	// font once with ParseFont or Laksaman and share it.
	Font *Font
	// FontSize is the largest text size in points; longer text shrinks to
	// fit the rectangle. Default DefaultFontSize.
	FontSize float64
}

var _ signer.Appearance = (*Thai)(nil)

// Lines returns the text lines the appearance shows for info.
func (t *Thai) Lines(info signer.AppearanceInfo) []string {
	name := t.Name
	if name == "" {
		name = info.Name
	}
	if name == "" && info.Certificate != nil {
		name = info.Certificate.Subject.CommonName
	}
	position := t.Position
	if position == "" {
		position = certPosition(info.Certificate)
	}
	date := t.Date
	if date == "" && !info.Time.IsZero() {
		date = ThaiDate(info.Time, t.Location)
	}
	var lines []string
	if name = clean(name); name != "" {
		lines = append(lines, "("+name+")")
	}
	for _, s := range []string{position, date} {
		if s = clean(s); s != "" {
			lines = append(lines, s)
		}
	}
	return lines
}

// certPosition is the certificate's title, or its first organizational
// unit when it has no title.
func certPosition(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	for _, atv := range c.Subject.Names {
		if atv.Type.Equal(oidTitle) {
			if s, ok := atv.Value.(string); ok && strings.TrimSpace(s) != "" {
				return s
			}
		}
	}
	if len(c.Subject.OrganizationalUnit) > 0 {
		return c.Subject.OrganizationalUnit[0]
	}
	return ""
}

// clean folds control characters (a line break in a name, say) into
// spaces: each string is one line.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// rect returns the normalised rectangle and its size, within the bounds
// signer.CheckRect sets for every signature field.
func (t *Thai) rect() (x1, y1, w, h float64, err error) {
	r := t.Rect
	if err := signer.CheckRect(r); err != nil {
		return 0, 0, 0, 0, fmt.Errorf("%w: %v", ErrOptions, err)
	}
	x1, x2 := min(r[0], r[2]), max(r[0], r[2])
	y1, y2 := min(r[1], r[3]), max(r[1], r[3])
	return x1, y1, x2 - x1, y2 - y1, nil
}

// Widget draws the appearance into u. It implements signer.Appearance.
func (t *Thai) Widget(ctx context.Context, u *pdf.Update, info signer.AppearanceInfo) (signer.Widget, error) {
	if err := ctx.Err(); err != nil {
		return signer.Widget{}, err
	}
	// An existing empty field decides where the signature goes.
	if info.Placed != nil {
		placed := *t
		placed.Page, placed.Rect = info.Placed.Page, info.Placed.Rect
		info.Placed = nil
		return placed.Widget(ctx, u, info)
	}
	if t.Page < 0 {
		return signer.Widget{}, fmt.Errorf("%w: page %d", ErrOptions, t.Page)
	}
	x1, y1, w, h, err := t.rect()
	if err != nil {
		return signer.Widget{}, err
	}
	size := t.FontSize
	if size == 0 {
		size = DefaultFontSize
	}
	if math.IsNaN(size) || size < 1 || size > 1000 {
		return signer.Widget{}, fmt.Errorf("%w: font size %v", ErrOptions, t.FontSize)
	}
	f := t.Font
	if f == nil {
		if f, err = Laksaman(); err != nil {
			return signer.Widget{}, err
		}
	}
	var img *rasterImage
	if len(t.Image) > 0 {
		if img, err = decodePNG(t.Image); err != nil {
			return signer.Widget{}, err
		}
	}
	var lines []shapedLine
	for _, s := range t.Lines(info) {
		if n := len([]rune(s)); n > MaxLineRunes {
			return signer.Widget{}, fmt.Errorf("%w: a line of %d characters (at most %d)", ErrOptions, n, MaxLineRunes)
		}
		l, err := f.shape(s)
		if err != nil {
			return signer.Widget{}, err
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 && img == nil {
		return signer.Widget{}, fmt.Errorf("%w: nothing to show (no name, position, date or image)", ErrOptions)
	}

	use := newFontUse(f)
	d := layout(f, use, lines, img != nil, w, h, size)
	content := d.ops
	resources := pdf.Dict{}
	if len(lines) > 0 {
		fontRef, err := use.embed(u)
		if err != nil {
			return signer.Widget{}, err
		}
		resources["Font"] = pdf.Dict{"F1": fontRef}
	}
	if img != nil {
		imgRef, err := img.embed(u)
		if err != nil {
			return signer.Widget{}, err
		}
		resources["XObject"] = pdf.Dict{"Im1": imgRef}
		content = append(imagePlacement(img, d.imageBox), content...)
	}
	form, err := pdf.FlateStream(pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
		"BBox":      pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Real(w), pdf.Real(h)},
		"Resources": resources,
	}, content)
	if err != nil {
		return signer.Widget{}, err
	}
	return signer.Widget{
		Page:   t.Page,
		Rect:   [4]float64{x1, y1, x1 + w, y1 + h},
		Normal: u.Add(form),
	}, nil
}

// Layout constants, in points or ems.
const (
	padding     = 2.0  // inside the rectangle
	lineGapEm   = 0.15 // between the ink of two lines
	imageShare  = 0.45 // of the height the image may take at least
	minFontSize = 4.0  // text never shrinks below this; it is clipped instead
)

// drawing is a content stream and, when there is an image, where it goes.
type drawing struct {
	ops      []byte
	imageBox [4]float64 // x, y, w, h
}

// layout sizes and places the lines: centred, stacked with a uniform
// pitch from the ink extents, below the image if there is one.
func layout(f *Font, use *fontUse, lines []shapedLine, withImage bool, w, h, size float64) drawing {
	upem := float64(f.sf.upem)
	var maxWidth, top, bottom int32
	first := true
	for _, l := range lines {
		maxWidth = max(maxWidth, l.width)
		if len(l.glyphs) == 0 || l.top == l.bottom {
			continue
		}
		if first || l.top > top {
			top = l.top
		}
		if first || l.bottom < bottom {
			bottom = l.bottom
		}
		first = false
	}
	if first { // only spaces: use the font's own extents
		top, bottom = int32(f.sf.ascent), int32(f.sf.descent)
	}
	gap := lineGapEm * upem
	pitch := float64(top-bottom) + gap // font units per line
	n := float64(len(lines))
	blockUnits := n*pitch - gap

	availW, availH := w-2*padding, h-2*padding
	textH := availH
	if withImage {
		textH = availH * (1 - imageShare)
	}
	fs := size
	if maxWidth > 0 {
		fs = min(fs, availW*upem/float64(maxWidth))
	}
	if blockUnits > 0 {
		fs = min(fs, textH*upem/blockUnits)
	}
	fs = max(fs, minFontSize)
	scale := fs / upem
	block := blockUnits * scale
	if len(lines) == 0 {
		block = 0
	}

	d := drawing{}
	base := (h - block) / 2 // the block's bottom edge
	if withImage {
		base = padding
		imgBottom := base + block
		if block > 0 {
			imgBottom += gap * scale
		}
		d.imageBox = [4]float64{padding, imgBottom, availW, h - padding - imgBottom}
	}
	var b []byte
	if len(lines) > 0 {
		b = append(b, "q 0 g\n"...)
		y := base + block - float64(top)*scale
		for _, l := range lines {
			x := (w - float64(l.width)*scale) / 2
			b = appendLine(b, use, l, x, y, fs)
			y -= pitch * scale
		}
		b = append(b, "Q\n"...)
	}
	d.ops = b
	return d
}

// appendLine writes one shaped line with its baseline starting at (x, y).
// Each glyph goes where the shaper put it: the TJ adjustments carry the
// shaped advances and x offsets, text rise (Ts) carries the y offsets of
// stacked marks. The line is marked with its exact text (/ActualText),
// since a shaper may decompose and reorder characters (SARA AM).
func appendLine(b []byte, use *fontUse, l shapedLine, x, y, fs float64) []byte {
	use.add(l)
	upem := float64(use.f.sf.upem)
	b = append(b, "/Span "...)
	b = pdf.AppendObject(b, pdf.Dict{"ActualText": pdf.TextString(l.text)})
	b = append(b, " BDC\nBT\n/F1 "...)
	b = appendNum(b, fs)
	b = append(b, " Tf\n"...)
	b = appendNum(b, x)
	b = append(b, ' ')
	b = appendNum(b, y)
	b = append(b, " Td\n"...)

	var arr []byte // the TJ array being built
	inHex := false // arr ends in an open hex string
	rise := 0.0    // the current text rise
	pending := 0.0 // thousandths of an em to move before the next glyph
	toThousandths := 1000 / upem
	flush := func() {
		if inHex {
			arr = append(arr, '>')
			inHex = false
		}
		if len(arr) > 0 {
			b = append(b, '[')
			b = append(b, arr...)
			b = append(b, "] TJ\n"...)
			arr = arr[:0]
		}
	}
	for _, g := range l.glyphs {
		adv := float64(g.advance) * toThousandths
		if g.gid == 0 { // an ignorable character the font lacks: move only
			pending += adv
			continue
		}
		dx := float64(g.xOff) * toThousandths
		if r := float64(g.yOff) * fs / upem; r != rise {
			flush()
			b = appendNum(b, r)
			b = append(b, " Ts\n"...)
			rise = r
		}
		if move := pending + dx; math.Abs(move) > 0.005 {
			if inHex {
				arr = append(arr, '>')
				inHex = false
			}
			arr = appendNum(arr, -move)
		}
		if !inHex {
			arr = append(arr, '<')
			inHex = true
		}
		arr = append(arr, "0123456789ABCDEF"[g.gid>>12&15], "0123456789ABCDEF"[g.gid>>8&15],
			"0123456789ABCDEF"[g.gid>>4&15], "0123456789ABCDEF"[g.gid&15])
		// The glyph moved the pen by its width; the shaper wants adv from
		// where the glyph would have stood without its x offset.
		pending = adv - use.width(g.gid) - dx
	}
	flush()
	if rise != 0 {
		b = append(b, "0 Ts\n"...)
	}
	return append(b, "ET\nEMC\n"...)
}

// imagePlacement draws Im1 as large as fits in box, keeping its aspect
// ratio, centred.
func imagePlacement(img *rasterImage, box [4]float64) []byte {
	bw, bh := box[2], box[3]
	if bw <= 0 || bh <= 0 {
		return nil
	}
	s := min(bw/float64(img.w), bh/float64(img.h))
	iw, ih := float64(img.w)*s, float64(img.h)*s
	x, y := box[0]+(bw-iw)/2, box[1]+(bh-ih)/2
	var b []byte
	b = append(b, "q "...)
	for _, v := range []float64{iw, 0, 0, ih, x, y} {
		b = appendNum(b, v)
		b = append(b, ' ')
	}
	return append(b, "cm /Im1 Do Q\n"...)
}

// appendNum writes v with at most three decimals, the precision content
// streams need (a thousandth of a point, or of an em).
func appendNum(b []byte, v float64) []byte {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	s = strings.TrimSuffix(s, ".")
	if s == "-0" || s == "" {
		s = "0"
	}
	return append(b, s...)
}
