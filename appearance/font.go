package appearance

import (
	"bytes"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode"

	gofont "github.com/go-text/typesetting/font"
	ot "github.com/go-text/typesetting/font/opentype"
	"github.com/go-text/typesetting/harfbuzz"
	"github.com/go-text/typesetting/language"
)

// laksaman is TLWG Laksaman regular (GPL-2+ with the font exception, see
// fonts/LICENSE), metrically compatible with TH Sarabun PSK, the font of
// Thai government documents.
//
//go:embed fonts/Laksaman.ttf
var laksaman []byte

// ErrMissingGlyph reports text the font has no glyph for.
var ErrMissingGlyph = errors.New("appearance: the font has no glyph for a character")

// Font is a TrueType font that appearances draw text with and embed as a
// subset. It is immutable and safe for concurrent use; parse it once and
// share it between signatures.
type Font struct {
	sf   *sfnt
	font *gofont.Font // the shaping engine's view of the same bytes
	name string
}

// Laksaman returns the embedded TLWG Laksaman font.
func Laksaman() (*Font, error) { return ParseFont(laksaman) }

// ParseFont reads a TrueType font (glyf outlines; not CFF, not a
// collection). The font's licence must allow embedding: fonts whose OS/2
// fsType forbids it (restricted licence embedding) are refused.
func ParseFont(data []byte) (*Font, error) {
	// Our own checks come first: they bound every offset the subsetter
	// reads and refuse what a PDF cannot embed.
	sf, err := parseSFNT(data)
	if err != nil {
		return nil, err
	}
	if sf.embed&0x000f == 0x0002 {
		return nil, fontErr("the font's licence forbids embedding (OS/2 fsType %#04x)", sf.embed)
	}
	if sf.embed&0x0100 != 0 {
		return nil, fontErr("the font allows only bitmap embedding (OS/2 fsType %#04x)", sf.embed)
	}
	f, err := loadShapingFont(data)
	if err != nil {
		return nil, err
	}
	name := sf.postScriptName
	if name == "" {
		name = "Font"
	}
	return &Font{sf: sf, font: f, name: name}, nil
}

// loadShapingFont parses the font for the shaping engine. The engine is
// third-party code meeting operator-supplied fonts: a panic in it becomes
// an error rather than the end of the server.
func loadShapingFont(data []byte) (f *gofont.Font, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fontErr("the shaping engine cannot read the font: %v", p)
		}
	}()
	ld, err := ot.NewLoader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFont, err)
	}
	if f, err = gofont.NewFont(ld); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFont, err)
	}
	return f, nil
}

// Name is the font's PostScript name.
func (f *Font) Name() string { return f.name }

// shapedGlyph is one glyph of shaped text, in font units.
type shapedGlyph struct {
	gid          int
	advance      int32 // pen movement after the glyph
	xOff, yOff   int32 // where the glyph is drawn relative to the pen
	cluster      int   // index of the first rune the glyph comes from
	clusterRunes int   // how many runes the cluster spans
}

// shapedLine is one line of text after shaping.
type shapedLine struct {
	text   string
	glyphs []shapedGlyph
	width  int32 // sum of advances
	// ink extents over all glyphs, from the glyphs' bounding boxes
	top, bottom int32
}

// shape runs the OpenType shaper (GSUB and GPOS, with HarfBuzz's Thai
// shaper for Thai text) over one line of text.
func (f *Font) shape(text string) (line shapedLine, err error) {
	defer func() {
		if p := recover(); p != nil { // see loadShapingFont
			line, err = shapedLine{}, fontErr("the shaping engine failed on %q: %v", text, p)
		}
	}()
	runes := []rune(text)
	line = shapedLine{text: text}
	if len(runes) == 0 {
		return line, nil
	}
	face := gofont.NewFace(f.font) // faces cache lookups and are per call
	buf := harfbuzz.NewBuffer()
	// Per-character clusters keep marks apart from their base, so the
	// ToUnicode map can name each glyph's own character.
	buf.ClusterLevel = harfbuzz.MonotoneCharacters
	buf.AddRunes(runes, 0, -1)
	buf.Props = harfbuzz.SegmentProperties{
		Script:    textScript(runes),
		Direction: harfbuzz.LeftToRight,
		Language:  language.NewLanguage("th"),
	}
	buf.Shape(harfbuzz.NewFont(face), nil)

	line.glyphs = make([]shapedGlyph, len(buf.Info))
	for i, info := range buf.Info {
		pos := buf.Pos[i]
		g := shapedGlyph{
			gid: int(info.Glyph), advance: pos.XAdvance,
			xOff: pos.XOffset, yOff: pos.YOffset, cluster: info.Cluster,
		}
		if g.gid >= f.sf.numGlyphs {
			return line, fontErr("shaper produced glyph %d of %d", g.gid, f.sf.numGlyphs)
		}
		if g.gid == 0 && info.Cluster < len(runes) && !ignorable(runes[info.Cluster]) {
			r := runes[info.Cluster]
			return line, fmt.Errorf("%w: %q (U+%04X) in %q, font %s", ErrMissingGlyph, r, r, text, f.name)
		}
		line.glyphs[i] = g
	}
	// A cluster spans the runes up to the next larger cluster value.
	for i := range line.glyphs {
		end := len(runes)
		for _, h := range line.glyphs {
			if h.cluster > line.glyphs[i].cluster && h.cluster < end {
				end = h.cluster
			}
		}
		line.glyphs[i].clusterRunes = end - line.glyphs[i].cluster
	}
	first := true
	var pen int32
	for _, g := range line.glyphs {
		if bb, ok := f.sf.glyphBBox(g.gid); ok {
			top, bottom := g.yOff+bb[3], g.yOff+bb[1]
			if first || top > line.top {
				line.top = top
			}
			if first || bottom < line.bottom {
				line.bottom = bottom
			}
			first = false
		}
		pen += g.advance
	}
	line.width = pen
	return line, nil
}

// textScript is the script of the first character that has one; Thai
// when there is none, so a line of digits and spaces still gets the Thai
// shaper's treatment.
func textScript(runes []rune) language.Script {
	for _, r := range runes {
		if s := language.LookupScript(r); s != language.Common && s != language.Inherited && s != language.Unknown {
			return s
		}
	}
	return language.Thai
}

// ignorable reports characters that legitimately shape to no visible
// glyph: format controls such as ZWSP and ZWJ, and spaces.
func ignorable(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.IsSpace(r)
}

// glyphBBox returns xMin, yMin, xMax and yMax from a glyph's header;
// false for a glyph without outline.
func (f *sfnt) glyphBBox(gid int) ([4]int32, bool) {
	g := f.glyph(gid)
	if len(g) < 10 {
		return [4]int32{}, false
	}
	var b [4]int32
	for i := range b {
		b[i] = int32(int16(binary.BigEndian.Uint16(g[2+2*i:])))
	}
	return b, true
}
