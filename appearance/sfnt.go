package appearance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"unicode/utf16"
)

// ErrFont reports a font file this package cannot use: not TrueType with
// glyf outlines, truncated, or inconsistent. Custom fonts are operator
// input, so every offset in them is checked.
var ErrFont = errors.New("appearance: unusable font")

// MaxFontSize bounds the font files this package reads.
const MaxFontSize = 32 << 20

// maxComponentDepth bounds composite glyph nesting; the OpenType spec
// allows nesting but real fonts use one or two levels.
const maxComponentDepth = 8

// sfnt is a parsed TrueType font: the tables a PDF embedding and a subset
// need, checked once so later reads cannot go out of bounds.
type sfnt struct {
	tables      map[string][]byte
	numGlyphs   int
	upem        int
	loca        []uint32 // numGlyphs+1 offsets into glyf
	glyf        []byte
	numHMetrics int
	hmtx        []byte

	bbox                 [4]int16 // xMin, yMin, xMax, yMax from head
	ascent, descent, gap int16    // hhea
	capHeight            int16    // OS/2 version 2+, else 0
	italicAngle          float64  // post
	fixedPitch           bool
	postScriptName       string // name ID 6, or ""
	weightClass          uint16 // OS/2 usWeightClass, or 0
	embed                uint16 // OS/2 fsType, or 0
}

func fontErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFont, fmt.Sprintf(format, args...))
}

// parseSFNT reads the table directory and checks the tables a subset needs.
func parseSFNT(data []byte) (*sfnt, error) {
	if len(data) > MaxFontSize {
		return nil, fontErr("%d bytes, more than the %d allowed", len(data), MaxFontSize)
	}
	if len(data) < 12 {
		return nil, fontErr("too short for a table directory")
	}
	switch v := binary.BigEndian.Uint32(data); v {
	case 0x00010000, 0x74727565: // 1.0 and 'true'
	case 0x4f54544f: // 'OTTO'
		return nil, fontErr("CFF-flavoured OpenType; a TrueType (glyf) font is needed")
	case 0x74746366: // 'ttcf'
		return nil, fontErr("font collection; give a single TrueType font")
	default:
		return nil, fontErr("unknown sfnt version %#08x", v)
	}
	n := int(binary.BigEndian.Uint16(data[4:]))
	if 12+16*n > len(data) {
		return nil, fontErr("table directory of %d entries runs past the end", n)
	}
	f := &sfnt{tables: make(map[string][]byte, n)}
	for i := range n {
		rec := data[12+16*i:]
		tag := string(rec[:4])
		off, length := binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
		if uint64(off)+uint64(length) > uint64(len(data)) {
			return nil, fontErr("table %q at %d+%d runs past the end (%d bytes)", tag, off, length, len(data))
		}
		if _, dup := f.tables[tag]; dup {
			return nil, fontErr("table %q appears twice", tag)
		}
		f.tables[tag] = data[off : off+length : off+length]
	}
	for _, tag := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf"} {
		if f.tables[tag] == nil {
			return nil, fontErr("no %q table", tag)
		}
	}

	head := f.tables["head"]
	if len(head) < 54 {
		return nil, fontErr("head table of %d bytes, want 54", len(head))
	}
	if binary.BigEndian.Uint32(head[12:]) != 0x5f0f3cf5 {
		return nil, fontErr("head table without the magic number")
	}
	f.upem = int(binary.BigEndian.Uint16(head[18:]))
	if f.upem < 16 || f.upem > 16384 {
		return nil, fontErr("unitsPerEm %d outside 16..16384", f.upem)
	}
	for i := range 4 {
		f.bbox[i] = int16(binary.BigEndian.Uint16(head[36+2*i:]))
	}
	longLoca := false
	switch binary.BigEndian.Uint16(head[50:]) {
	case 0:
	case 1:
		longLoca = true
	default:
		return nil, fontErr("indexToLocFormat %d", int16(binary.BigEndian.Uint16(head[50:])))
	}

	maxp := f.tables["maxp"]
	if len(maxp) < 6 {
		return nil, fontErr("maxp table of %d bytes", len(maxp))
	}
	f.numGlyphs = int(binary.BigEndian.Uint16(maxp[4:]))
	if f.numGlyphs < 1 {
		return nil, fontErr("no glyphs")
	}

	hhea := f.tables["hhea"]
	if len(hhea) < 36 {
		return nil, fontErr("hhea table of %d bytes, want 36", len(hhea))
	}
	f.ascent = int16(binary.BigEndian.Uint16(hhea[4:]))
	f.descent = int16(binary.BigEndian.Uint16(hhea[6:]))
	f.gap = int16(binary.BigEndian.Uint16(hhea[8:]))
	f.numHMetrics = int(binary.BigEndian.Uint16(hhea[34:]))
	if f.numHMetrics < 1 || f.numHMetrics > f.numGlyphs {
		return nil, fontErr("numberOfHMetrics %d for %d glyphs", f.numHMetrics, f.numGlyphs)
	}
	f.hmtx = f.tables["hmtx"]
	if want := 4*f.numHMetrics + 2*(f.numGlyphs-f.numHMetrics); len(f.hmtx) < want {
		return nil, fontErr("hmtx table of %d bytes, want %d", len(f.hmtx), want)
	}

	f.glyf = f.tables["glyf"]
	loca := f.tables["loca"]
	f.loca = make([]uint32, f.numGlyphs+1)
	if longLoca {
		if len(loca) < 4*(f.numGlyphs+1) {
			return nil, fontErr("loca table of %d bytes for %d glyphs", len(loca), f.numGlyphs)
		}
		for i := range f.loca {
			f.loca[i] = binary.BigEndian.Uint32(loca[4*i:])
		}
	} else {
		if len(loca) < 2*(f.numGlyphs+1) {
			return nil, fontErr("loca table of %d bytes for %d glyphs", len(loca), f.numGlyphs)
		}
		for i := range f.loca {
			f.loca[i] = 2 * uint32(binary.BigEndian.Uint16(loca[2*i:]))
		}
	}
	for i := range f.numGlyphs {
		if f.loca[i] > f.loca[i+1] {
			return nil, fontErr("loca offsets of glyph %d go backwards", i)
		}
		if l := f.loca[i+1] - f.loca[i]; l > 0 && l < 10 {
			return nil, fontErr("glyph %d is %d bytes, shorter than a glyph header", i, l)
		}
	}
	if int64(f.loca[f.numGlyphs]) > int64(len(f.glyf)) {
		return nil, fontErr("loca points %d bytes into a glyf table of %d", f.loca[f.numGlyphs], len(f.glyf))
	}

	if post := f.tables["post"]; len(post) >= 16 {
		f.italicAngle = float64(int32(binary.BigEndian.Uint32(post[4:]))) / 65536
		f.fixedPitch = binary.BigEndian.Uint32(post[12:]) != 0
	}
	if os2 := f.tables["OS/2"]; len(os2) >= 78 {
		f.weightClass = binary.BigEndian.Uint16(os2[4:])
		f.embed = binary.BigEndian.Uint16(os2[8:])
		if binary.BigEndian.Uint16(os2) >= 2 && len(os2) >= 90 {
			f.capHeight = int16(binary.BigEndian.Uint16(os2[88:]))
		}
	}
	f.postScriptName = postScriptName(f.tables["name"])
	return f, nil
}

// postScriptName reads name ID 6 from a name table, or returns "" when it
// is absent or unreadable: the name only labels the font in the PDF.
func postScriptName(name []byte) string {
	if len(name) < 6 {
		return ""
	}
	count := int(binary.BigEndian.Uint16(name[2:]))
	storage := int(binary.BigEndian.Uint16(name[4:]))
	for i := range count {
		rec := 6 + 12*i
		if rec+12 > len(name) {
			return ""
		}
		platform := binary.BigEndian.Uint16(name[rec:])
		id := binary.BigEndian.Uint16(name[rec+6:])
		length := int(binary.BigEndian.Uint16(name[rec+8:]))
		off := storage + int(binary.BigEndian.Uint16(name[rec+10:]))
		if id != 6 || off+length > len(name) {
			continue
		}
		raw := name[off : off+length]
		var s string
		switch platform {
		case 0, 3: // UTF-16BE
			u := make([]uint16, len(raw)/2)
			for j := range u {
				u[j] = binary.BigEndian.Uint16(raw[2*j:])
			}
			s = string(utf16.Decode(u))
		case 1: // Mac Roman; PostScript names are ASCII
			s = string(raw)
		default:
			continue
		}
		if s = pdfNameSafe(s); s != "" {
			return s
		}
	}
	return ""
}

// pdfNameSafe keeps the characters PostScript font names allow (printable
// ASCII without delimiters), so the name needs no escaping in a PDF.
func pdfNameSafe(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0x20 && r < 0x7f && !isPDFDelimiter(byte(r)) {
			out = append(out, byte(r))
		}
		if len(out) == 63 { // PostScript name limit
			break
		}
	}
	return string(out)
}

func isPDFDelimiter(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%', '#':
		return true
	}
	return false
}

// advance returns the advance width of gid in font units.
func (f *sfnt) advance(gid int) int {
	if gid >= f.numHMetrics {
		gid = f.numHMetrics - 1
	}
	return int(binary.BigEndian.Uint16(f.hmtx[4*gid:]))
}

// lsb returns the left side bearing of gid in font units.
func (f *sfnt) lsb(gid int) int16 {
	if gid < f.numHMetrics {
		return int16(binary.BigEndian.Uint16(f.hmtx[4*gid+2:]))
	}
	return int16(binary.BigEndian.Uint16(f.hmtx[4*f.numHMetrics+2*(gid-f.numHMetrics):]))
}

// glyph returns the glyf data of gid; empty for a glyph without outline.
func (f *sfnt) glyph(gid int) []byte {
	return f.glyf[f.loca[gid]:f.loca[gid+1]]
}

// Composite glyph flags (OpenType glyf table).
const (
	argsAreWords   = 0x0001
	haveScale      = 0x0008
	moreComponents = 0x0020
	haveXYScale    = 0x0040
	haveTwoByTwo   = 0x0080
)

// components lists the glyphs a composite glyph refers to; nil for a
// simple glyph.
func (f *sfnt) components(gid int) ([]int, error) {
	g := f.glyph(gid)
	if len(g) == 0 || int16(binary.BigEndian.Uint16(g)) >= 0 {
		return nil, nil
	}
	var out []int
	p := 10
	for {
		if p+4 > len(g) {
			return nil, fontErr("composite glyph %d is truncated", gid)
		}
		flags := binary.BigEndian.Uint16(g[p:])
		c := int(binary.BigEndian.Uint16(g[p+2:]))
		if c >= f.numGlyphs {
			return nil, fontErr("composite glyph %d refers to glyph %d of %d", gid, c, f.numGlyphs)
		}
		out = append(out, c)
		p += 4
		if flags&argsAreWords != 0 {
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&haveScale != 0:
			p += 2
		case flags&haveXYScale != 0:
			p += 4
		case flags&haveTwoByTwo != 0:
			p += 8
		}
		if p > len(g) {
			return nil, fontErr("composite glyph %d is truncated", gid)
		}
		if flags&moreComponents == 0 {
			return out, nil
		}
	}
}

// closure returns the sorted glyph set a subset of used needs: .notdef,
// the glyphs themselves and every component of composite glyphs.
func (f *sfnt) closure(used []int) ([]int, error) {
	keep := map[int]bool{0: true}
	level := []int{}
	for _, g := range used {
		if g < 0 || g >= f.numGlyphs {
			return nil, fontErr("glyph %d outside the font's %d", g, f.numGlyphs)
		}
		if !keep[g] {
			keep[g] = true
			level = append(level, g)
		}
	}
	level = append(level, 0)
	for depth := 0; len(level) > 0; depth++ {
		var next []int
		for _, g := range level {
			comps, err := f.components(g)
			if err != nil {
				return nil, err
			}
			if len(comps) > 0 && depth >= maxComponentDepth {
				return nil, fontErr("composite glyphs nest deeper than %d at glyph %d", maxComponentDepth, g)
			}
			for _, c := range comps {
				if !keep[c] {
					keep[c] = true
					next = append(next, c)
				}
			}
		}
		level = next
	}
	out := make([]int, 0, len(keep))
	for g := range keep {
		out = append(out, g)
	}
	sort.Ints(out)
	return out, nil
}

// subset returns a TrueType font holding only the outlines of used (and
// what they need, see closure). Glyph IDs stay as they are, so a PDF can
// address glyphs with /CIDToGIDMap /Identity: the other glyphs are left
// empty and the glyph count is cut after the highest one kept. Tables a
// PDF consumer does not read (cmap, name, layout tables) are left out.
func (f *sfnt) subset(used []int) ([]byte, error) {
	keep, err := f.closure(used)
	if err != nil {
		return nil, err
	}
	n := keep[len(keep)-1] + 1
	kept := make(map[int]bool, len(keep))
	for _, g := range keep {
		kept[g] = true
	}

	var glyf []byte
	offsets := make([]uint32, n+1)
	for g := range n {
		offsets[g] = uint32(len(glyf))
		if kept[g] {
			glyf = append(glyf, f.glyph(g)...)
			for len(glyf)%4 != 0 {
				glyf = append(glyf, 0)
			}
		}
	}
	offsets[n] = uint32(len(glyf))
	longLoca := len(glyf) > 0x1fffe
	var loca []byte
	for _, o := range offsets {
		if longLoca {
			loca = binary.BigEndian.AppendUint32(loca, o)
		} else {
			loca = binary.BigEndian.AppendUint16(loca, uint16(o/2))
		}
	}

	hmtx := make([]byte, 0, 4*n)
	for g := range n {
		hmtx = binary.BigEndian.AppendUint16(hmtx, uint16(f.advance(g)))
		hmtx = binary.BigEndian.AppendUint16(hmtx, uint16(f.lsb(g)))
	}

	head := append([]byte(nil), f.tables["head"][:54]...)
	binary.BigEndian.PutUint32(head[8:], 0) // checkSumAdjustment, set below
	if longLoca {
		binary.BigEndian.PutUint16(head[50:], 1)
	} else {
		binary.BigEndian.PutUint16(head[50:], 0)
	}
	hhea := append([]byte(nil), f.tables["hhea"][:36]...)
	binary.BigEndian.PutUint16(hhea[34:], uint16(n))
	maxp := append([]byte(nil), f.tables["maxp"]...)
	if len(maxp) > 32 {
		maxp = maxp[:32]
	}
	binary.BigEndian.PutUint16(maxp[4:], uint16(n))
	// post version 3.0: the metrics without glyph names.
	post := make([]byte, 32)
	if p := f.tables["post"]; len(p) >= 32 {
		copy(post, p[:32])
	}
	binary.BigEndian.PutUint32(post, 0x00030000)

	out := map[string][]byte{
		"head": head, "hhea": hhea, "maxp": maxp, "hmtx": hmtx,
		"loca": loca, "glyf": glyf, "post": post,
	}
	// Hinting programs and the tables rasterisers consult stay.
	for _, tag := range []string{"cvt ", "fpgm", "prep", "gasp", "OS/2"} {
		if t := f.tables[tag]; t != nil {
			out[tag] = t
		}
	}
	return writeSFNT(out), nil
}

// writeSFNT lays out tables with a sorted directory, 4-byte alignment and
// checksums, and sets head.checkSumAdjustment.
func writeSFNT(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	n := len(tags)
	entrySelector := 0
	for 1<<(entrySelector+1) <= n {
		entrySelector++
	}
	searchRange := 16 << entrySelector
	b := binary.BigEndian.AppendUint32(nil, 0x00010000)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint16(b, uint16(searchRange))
	b = binary.BigEndian.AppendUint16(b, uint16(entrySelector))
	b = binary.BigEndian.AppendUint16(b, uint16(16*n-searchRange))
	off := 12 + 16*n
	headOff := -1
	for _, t := range tags {
		data := tables[t]
		b = append(b, t...)
		b = binary.BigEndian.AppendUint32(b, checksum(data))
		b = binary.BigEndian.AppendUint32(b, uint32(off))
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
		if t == "head" {
			headOff = off
		}
		off += (len(data) + 3) &^ 3
	}
	for _, t := range tags {
		b = append(b, tables[t]...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	if headOff >= 0 {
		binary.BigEndian.PutUint32(b[headOff+8:], 0xb1b0afba-checksum(b))
	}
	return b
}

// checksum is the OpenType table checksum: the sum of big-endian uint32
// words, the last one zero-padded.
func checksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}
