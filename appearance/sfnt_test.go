package appearance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	ot "github.com/go-text/typesetting/font/opentype"
)

// synthFont builds a minimal TrueType font around the given glyph
// programs, for composite-glyph cases no real font has.
func synthFont(glyphs [][]byte) []byte {
	n := len(glyphs)
	head := make([]byte, 54)
	binary.BigEndian.PutUint32(head[0:], 0x00010000)
	binary.BigEndian.PutUint32(head[12:], 0x5f0f3cf5)
	binary.BigEndian.PutUint16(head[18:], 1000)
	binary.BigEndian.PutUint16(head[50:], 1) // long loca
	hhea := make([]byte, 36)
	binary.BigEndian.PutUint32(hhea, 0x00010000)
	binary.BigEndian.PutUint16(hhea[4:], 800)
	binary.BigEndian.PutUint16(hhea[6:], uint16(0xffff-199)) // -200
	binary.BigEndian.PutUint16(hhea[34:], uint16(n))
	maxp := make([]byte, 6)
	binary.BigEndian.PutUint32(maxp, 0x00005000)
	binary.BigEndian.PutUint16(maxp[4:], uint16(n))
	var glyf, loca, hmtx []byte
	for _, g := range glyphs {
		loca = binary.BigEndian.AppendUint32(loca, uint32(len(glyf)))
		glyf = append(glyf, g...)
		for len(glyf)%4 != 0 {
			glyf = append(glyf, 0)
		}
		hmtx = binary.BigEndian.AppendUint16(hmtx, 500)
		hmtx = binary.BigEndian.AppendUint16(hmtx, 0)
	}
	loca = binary.BigEndian.AppendUint32(loca, uint32(len(glyf)))
	return writeSFNT(map[string][]byte{"head": head, "hhea": hhea, "maxp": maxp, "hmtx": hmtx, "loca": loca, "glyf": glyf})
}

// simpleGlyph is a one-point outline.
func simpleGlyph() []byte {
	return []byte{0, 1, 0, 0, 0, 0, 0, 10, 0, 10, // one contour, bbox
		0, 0, // endPtsOfContours
		0, 0, // no instructions
		1,    // on-curve flag, long coordinates
		0, 5, // x
		0, 5} // y
}

// compositeGlyph refers to the given glyphs.
func compositeGlyph(components ...uint16) []byte {
	g := []byte{0xff, 0xff, 0, 0, 0, 0, 0, 10, 0, 10}
	for i, c := range components {
		flags := uint16(argsAreWords)
		if i < len(components)-1 {
			flags |= moreComponents
		}
		g = binary.BigEndian.AppendUint16(g, flags)
		g = binary.BigEndian.AppendUint16(g, c)
		g = append(g, 0, 0, 0, 0)
	}
	return g
}

// tablesOf returns a copy of the tables of a font, for variants.
func tablesOf(t testing.TB, data []byte) map[string][]byte {
	t.Helper()
	f, err := parseSFNT(data)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for k, v := range f.tables {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

func TestSubsetLaksaman(t *testing.T) {
	full, err := Laksaman()
	must(t, err)
	used := []int{}
	for _, r := range "ผู้อำนวยการกองกลาง" {
		g, _ := full.font.Cmap.Lookup(r)
		used = append(used, int(g))
	}
	// Glyph 130 is a composite of 36 and 236 in Laksaman 0.7.3.
	comps, err := full.sf.components(130)
	must(t, err)
	if len(comps) != 2 {
		t.Fatalf("glyph 130 components %v", comps)
	}
	used = append(used, 130)
	out, err := full.sf.subset(used)
	must(t, err)
	sub, err := parseSFNT(out)
	if err != nil {
		t.Fatalf("subset does not parse: %v", err)
	}
	keep := map[int]bool{0: true, comps[0]: true, comps[1]: true}
	maxGID := 0
	for _, g := range used {
		keep[g] = true
		maxGID = max(maxGID, g, comps[0], comps[1])
	}
	if sub.numGlyphs != maxGID+1 {
		t.Errorf("subset has %d glyphs, want %d", sub.numGlyphs, maxGID+1)
	}
	for g := range sub.numGlyphs {
		got, orig := sub.glyph(g), full.sf.glyph(g)
		if keep[g] {
			if len(got) < len(orig) || !bytes.Equal(got[:len(orig)], orig) || len(got)-len(orig) >= 4 {
				t.Errorf("glyph %d: %d bytes, want the font's %d", g, len(got), len(orig))
			}
		} else if len(got) != 0 {
			t.Errorf("unused glyph %d kept %d bytes", g, len(got))
		}
		if sub.advance(g) != full.sf.advance(g) || sub.lsb(g) != full.sf.lsb(g) {
			t.Errorf("glyph %d metrics changed", g)
		}
	}
	for _, tag := range []string{"cmap", "GSUB", "GPOS", "GDEF", "name"} {
		if sub.tables[tag] != nil {
			t.Errorf("subset keeps %q", tag)
		}
	}
	for _, tag := range []string{"cvt ", "fpgm", "prep", "OS/2", "post"} {
		if sub.tables[tag] == nil {
			t.Errorf("subset lacks %q", tag)
		}
	}
	if len(out)*5 > len(laksaman) {
		t.Errorf("subset of %d glyphs is %d bytes, the font %d", len(keep), len(out), len(laksaman))
	}
	checkChecksums(t, out)
	// Another OpenType parser reads the subset too.
	ld, err := ot.NewLoader(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("go-text loader: %v", err)
	}
	if _, err := ld.RawTable(ot.MustNewTag("glyf")); err != nil {
		t.Errorf("go-text finds no glyf: %v", err)
	}
}

// checkChecksums verifies the table checksums and the whole-font
// checksum adjustment (OpenType head table).
func checkChecksums(t *testing.T, font []byte) {
	t.Helper()
	if got := checksum(font); got != 0xb1b0afba {
		t.Errorf("font checksum %#x, want 0xb1b0afba", got)
	}
	n := int(binary.BigEndian.Uint16(font[4:]))
	for i := range n {
		rec := font[12+16*i:]
		tag := string(rec[:4])
		sum, off, length := binary.BigEndian.Uint32(rec[4:]), binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
		data := append([]byte(nil), font[off:off+length]...)
		if tag == "head" {
			binary.BigEndian.PutUint32(data[8:], 0)
		}
		if checksum(data) != sum {
			t.Errorf("table %q checksum %#x, directory says %#x", tag, checksum(data), sum)
		}
		if off%4 != 0 {
			t.Errorf("table %q at unaligned offset %d", tag, off)
		}
	}
}

func TestSubsetComposites(t *testing.T) {
	// 0 .notdef, 1 simple, 2 -> 1, 3 -> 2 (nested), 4 -> 4 (itself),
	// 5 unused, 6 -> 7, 7 -> 6 (a cycle).
	font := synthFont([][]byte{simpleGlyph(), simpleGlyph(), compositeGlyph(1), compositeGlyph(2), compositeGlyph(4),
		simpleGlyph(), compositeGlyph(7), compositeGlyph(6)})
	sf, err := parseSFNT(font)
	must(t, err)
	cases := []struct {
		used []int
		want []int
	}{
		{[]int{3}, []int{0, 1, 2, 3}},
		{[]int{4}, []int{0, 4}},
		{[]int{6}, []int{0, 6, 7}},
		{[]int{1, 1, 1}, []int{0, 1}},
	}
	for _, tc := range cases {
		got, err := sf.closure(tc.used)
		must(t, err)
		if !equalInts(got, tc.want) {
			t.Errorf("closure(%v) = %v, want %v", tc.used, got, tc.want)
		}
		out, err := sf.subset(tc.used)
		must(t, err)
		sub, err := parseSFNT(out)
		must(t, err)
		for g := range sub.numGlyphs {
			if in := contains(tc.want, g); in != (len(sub.glyph(g)) > 0) {
				t.Errorf("subset(%v): glyph %d has %d bytes", tc.used, g, len(sub.glyph(g)))
			}
		}
		checkChecksums(t, out)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestMalformedFonts feeds broken fonts to ParseFont and the subsetter:
// each must give ErrFont, never a panic.
func TestMalformedFonts(t *testing.T) {
	base := tablesOf(t, laksaman)
	variant := func(edit func(tb map[string][]byte)) []byte {
		tb := map[string][]byte{}
		for k, v := range base {
			tb[k] = append([]byte(nil), v...)
		}
		edit(tb)
		return writeSFNT(tb)
	}
	put16 := func(tag string, off int, v uint16) func(map[string][]byte) {
		return func(tb map[string][]byte) { binary.BigEndian.PutUint16(tb[tag][off:], v) }
	}
	deep := [][]byte{simpleGlyph(), simpleGlyph()}
	for i := 2; i < 14; i++ {
		deep = append(deep, compositeGlyph(uint16(i-1)))
	}
	truncatedComposite := compositeGlyph(1)
	truncatedComposite = truncatedComposite[:len(truncatedComposite)-3]

	parseCases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"short", []byte{0, 1, 0, 0, 0, 1}},
		{"CFF", append([]byte("OTTO"), make([]byte, 20)...)},
		{"collection", append([]byte("ttcf"), make([]byte, 20)...)},
		{"unknown version", append([]byte("abcd"), make([]byte, 20)...)},
		{"directory past the end", []byte{0, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0}},
		{"table past the end", func() []byte {
			b := append([]byte(nil), laksaman...)
			binary.BigEndian.PutUint32(b[12+8:], uint32(len(b)-4)) // first table's offset
			return b
		}()},
		{"truncated file", laksaman[:len(laksaman)/2]},
		{"no glyf", variant(func(tb map[string][]byte) { delete(tb, "glyf") })},
		{"short head", variant(func(tb map[string][]byte) { tb["head"] = tb["head"][:20] })},
		{"head magic", variant(put16("head", 12, 0))},
		{"unitsPerEm 0", variant(put16("head", 18, 0))},
		{"indexToLocFormat 2", variant(put16("head", 50, 2))},
		{"no glyphs", variant(put16("maxp", 4, 0))},
		{"more glyphs than loca", variant(put16("maxp", 4, 0xffff))},
		{"numberOfHMetrics 0", variant(put16("hhea", 34, 0))},
		{"short hmtx", variant(func(tb map[string][]byte) { tb["hmtx"] = tb["hmtx"][:100] })},
		{"loca backwards", variant(put16("loca", 20, 0))},
		{"loca past glyf", variant(func(tb map[string][]byte) { tb["glyf"] = tb["glyf"][:1000] })},
		{"glyph shorter than its header", synthFont([][]byte{simpleGlyph(), {0, 1, 0, 0}})},
		{"embedding forbidden", variant(put16("OS/2", 8, 0x0002))},
		{"bitmap embedding only", variant(put16("OS/2", 8, 0x0100))},
	}
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFont(tc.data)
			t.Log(err)
			if !errors.Is(err, ErrFont) {
				t.Errorf("ParseFont: %v, want ErrFont", err)
			}
		})
	}

	subsetCases := []struct {
		name string
		data []byte
		used []int
	}{
		{"component out of range", synthFont([][]byte{simpleGlyph(), compositeGlyph(9)}), []int{1}},
		{"truncated composite", synthFont([][]byte{simpleGlyph(), simpleGlyph(), truncatedComposite}), []int{2}},
		{"nesting too deep", synthFont(deep), []int{len(deep) - 1}},
		{"glyph out of range", synthFont([][]byte{simpleGlyph()}), []int{5}},
		{"negative glyph", synthFont([][]byte{simpleGlyph()}), []int{-1}},
	}
	for _, tc := range subsetCases {
		t.Run(tc.name, func(t *testing.T) {
			sf, err := parseSFNT(tc.data)
			must(t, err)
			_, err = sf.subset(tc.used)
			t.Log(err)
			if !errors.Is(err, ErrFont) {
				t.Errorf("subset: %v, want ErrFont", err)
			}
		})
	}
}

// FuzzSubset checks the parser and subsetter on arbitrary fonts (custom
// fonts are operator input): no panic, and a subset that parses again
// with the kept glyphs intact.
func FuzzSubset(f *testing.F) {
	f.Add(laksaman, []byte{1, 2, 3})
	f.Add(synthFont([][]byte{simpleGlyph(), compositeGlyph(2), compositeGlyph(1)}), []byte{1})
	f.Add(synthFont([][]byte{simpleGlyph(), compositeGlyph(0, 1)}), []byte{1, 0})
	f.Fuzz(func(t *testing.T, data []byte, picks []byte) {
		sf, err := parseSFNT(data)
		if err != nil {
			if !errors.Is(err, ErrFont) {
				t.Fatalf("error without ErrFont: %v", err)
			}
			return
		}
		var used []int
		for i := 0; i+1 < len(picks) && len(used) < 64; i += 2 {
			used = append(used, int(binary.BigEndian.Uint16(picks[i:]))%sf.numGlyphs)
		}
		if len(picks)%2 == 1 {
			used = append(used, int(picks[len(picks)-1])%sf.numGlyphs)
		}
		out, err := sf.subset(used)
		if err != nil {
			if !errors.Is(err, ErrFont) {
				t.Fatalf("error without ErrFont: %v", err)
			}
			return
		}
		sub, err := parseSFNT(out)
		if err != nil {
			t.Fatalf("subset does not parse: %v", err)
		}
		keep, err := sf.closure(used)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range keep {
			got, orig := sub.glyph(g), sf.glyph(g)
			if len(got) < len(orig) || !bytes.Equal(got[:len(orig)], orig) {
				t.Fatalf("glyph %d changed", g)
			}
		}
		if checksum(out) != 0xb1b0afba {
			t.Fatal("bad checksum adjustment")
		}
		// The whole of ParseFont, the shaping engine's parser included,
		// must not panic either.
		if font, err := ParseFont(data); err == nil {
			if _, err := font.shape("ผู้อำนวยการ"); err != nil && !errors.Is(err, ErrMissingGlyph) && !errors.Is(err, ErrFont) {
				t.Fatalf("shape: %v", err)
			}
		}
	})
}
