package appearance

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"

	"esign/pdf"
)

// Glyph-to-text evidence, strongest first: a glyph alone in its cluster
// stands for the cluster's text; a glyph the font maps a cluster character
// to stands for that character; otherwise the font's cmap is asked in
// reverse, and last the whole cluster's text is used.
const (
	evidenceNone = iota
	evidenceCluster
	evidenceReverseCmap
	evidenceNominal
	evidenceSole
)

// fontUse collects what one appearance draws with a font: the glyphs and
// the text each stands for, for the subset, /W and /ToUnicode.
type fontUse struct {
	f        *Font
	text     map[int]string
	evidence map[int]int
}

func newFontUse(f *Font) *fontUse {
	return &fontUse{f: f, text: map[int]string{}, evidence: map[int]int{}}
}

func (fu *fontUse) note(gid int, text string, ev int) {
	if text != "" && ev > fu.evidence[gid] {
		fu.text[gid], fu.evidence[gid] = text, ev
	}
}

// add records the glyphs of a shaped line and what text they stand for.
func (fu *fontUse) add(l shapedLine) {
	runes := []rune(l.text)
	var unresolved []int
	for i, g := range l.glyphs {
		if g.gid == 0 {
			continue // never drawn
		}
		cluster := runes[g.cluster : g.cluster+g.clusterRunes]
		n := 0
		for _, h := range l.glyphs {
			if h.cluster == g.cluster {
				n++
			}
		}
		if n == 1 {
			fu.note(g.gid, string(cluster), evidenceSole)
			continue
		}
		found := false
		for _, r := range cluster {
			if gid, ok := fu.f.font.Cmap.Lookup(r); ok && int(gid) == g.gid {
				fu.note(g.gid, string(r), evidenceNominal)
				found = true
				break
			}
		}
		if !found {
			unresolved = append(unresolved, i)
		}
	}
	if len(unresolved) == 0 {
		return
	}
	// Glyphs a shaper made from a decomposition (SARA AM becomes NIKHAHIT
	// and SARA AA) are nominal glyphs of other characters.
	want := map[int]bool{}
	for _, i := range unresolved {
		want[l.glyphs[i].gid] = true
	}
	reverse := map[int]rune{}
	it := fu.f.font.Cmap.Iter()
	for it.Next() {
		r, gid := it.Char()
		if want[int(gid)] {
			if old, ok := reverse[int(gid)]; !ok || r < old {
				reverse[int(gid)] = r
			}
		}
	}
	for _, i := range unresolved {
		g := l.glyphs[i]
		if r, ok := reverse[g.gid]; ok {
			fu.note(g.gid, string(r), evidenceReverseCmap)
		} else {
			fu.note(g.gid, string(runes[g.cluster:g.cluster+g.clusterRunes]), evidenceCluster)
		}
	}
}

// glyphs returns the glyph IDs drawn, sorted.
func (fu *fontUse) glyphs() []int {
	out := make([]int, 0, len(fu.text))
	for g := range fu.text {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// width is the PDF glyph width (thousandths of text space) of gid.
func (fu *fontUse) width(gid int) float64 {
	return float64(fu.f.sf.advance(gid)) * 1000 / float64(fu.f.sf.upem)
}

// embed writes the Type 0 font, its CIDFontType2 descendant, descriptor,
// subset font program and ToUnicode CMap, and returns the Type 0 font.
func (fu *fontUse) embed(u *pdf.Update) (pdf.Ref, error) {
	gids := fu.glyphs()
	program, err := fu.f.sf.subset(gids)
	if err != nil {
		return pdf.Ref{}, err
	}
	base := pdf.Name(subsetTag(fu.f.name, gids) + "+" + fu.f.name)
	sf := fu.f.sf
	scale := func(v int16) pdf.Object {
		return pdf.Real(float64(v) * 1000 / float64(sf.upem))
	}
	flags := 4 // symbolic: glyphs outside the standard Latin set
	if sf.fixedPitch {
		flags |= 1
	}
	capHeight := sf.capHeight
	if capHeight == 0 {
		capHeight = sf.ascent
	}
	fontFile, err := pdf.FlateStream(pdf.Dict{"Length1": pdf.Integer(len(program))}, program)
	if err != nil {
		return pdf.Ref{}, err
	}
	desc := pdf.Dict{
		"Type": pdf.Name("FontDescriptor"), "FontName": base, "Flags": pdf.Integer(flags),
		"FontBBox":    pdf.Array{scale(sf.bbox[0]), scale(sf.bbox[1]), scale(sf.bbox[2]), scale(sf.bbox[3])},
		"ItalicAngle": pdf.Real(sf.italicAngle),
		"Ascent":      scale(sf.ascent), "Descent": scale(sf.descent), "CapHeight": scale(capHeight),
		// The font program does not record stem widths; this is the
		// customary estimate for a regular weight.
		"StemV":     pdf.Integer(80),
		"FontFile2": u.Add(fontFile),
	}
	if sf.weightClass >= 100 && sf.weightClass <= 900 {
		desc["FontWeight"] = pdf.Integer(sf.weightClass)
	}
	var w pdf.Array
	for i := 0; i < len(gids); {
		j := i
		run := pdf.Array{}
		for j < len(gids) && gids[j] == gids[i]+(j-i) {
			run = append(run, pdf.Real(fu.width(gids[j])))
			j++
		}
		w = append(w, pdf.Integer(gids[i]), run)
		i = j
	}
	cid := u.Add(pdf.Dict{
		"Type": pdf.Name("Font"), "Subtype": pdf.Name("CIDFontType2"), "BaseFont": base,
		"CIDSystemInfo": pdf.Dict{
			"Registry": pdf.String{Bytes: []byte("Adobe")}, "Ordering": pdf.String{Bytes: []byte("Identity")},
			"Supplement": pdf.Integer(0),
		},
		"FontDescriptor": u.Add(desc),
		"W":              w,
		// Codes are glyph IDs: no cmap lookup, and the subset keeps IDs.
		"CIDToGIDMap": pdf.Name("Identity"),
	})
	toUnicode, err := pdf.FlateStream(pdf.Dict{}, fu.toUnicode(gids))
	if err != nil {
		return pdf.Ref{}, err
	}
	return u.Add(pdf.Dict{
		"Type": pdf.Name("Font"), "Subtype": pdf.Name("Type0"), "BaseFont": base,
		"Encoding": pdf.Name("Identity-H"), "DescendantFonts": pdf.Array{cid},
		"ToUnicode": u.Add(toUnicode),
	}), nil
}

// subsetTag derives the six-letter subset prefix (ISO 32000-1 §9.6.4)
// from the font and glyph set, so equal subsets get equal names and
// different ones differ.
func subsetTag(name string, gids []int) string {
	h := sha256.New()
	h.Write([]byte(name))
	for _, g := range gids {
		h.Write([]byte{byte(g >> 8), byte(g)})
	}
	sum := h.Sum(nil)
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + sum[i]%26
	}
	return string(tag)
}

// toUnicode writes a ToUnicode CMap (ISO 32000-1 §9.10.3) for 2-byte
// glyph ID codes.
func (fu *fontUse) toUnicode(gids []int) []byte {
	var b strings.Builder
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n" +
		"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n" +
		"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n" +
		"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	for i := 0; i < len(gids); i += 100 { // at most 100 entries a block
		chunk := gids[i:min(i+100, len(gids))]
		fmt.Fprintf(&b, "%d beginbfchar\n", len(chunk))
		for _, g := range chunk {
			fmt.Fprintf(&b, "<%04X> <", g)
			for _, c := range utf16.Encode([]rune(fu.text[g])) {
				fmt.Fprintf(&b, "%04X", c)
			}
			b.WriteString(">\n")
		}
		b.WriteString("endbfchar\n")
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return []byte(b.String())
}
