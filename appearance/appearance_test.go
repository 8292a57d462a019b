package appearance

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"esign/pdf"
	"esign/signer"
)

func TestThaiDate(t *testing.T) {
	bkk := Bangkok()
	cases := []struct {
		t    time.Time
		loc  *time.Location
		want string
	}{
		{time.Date(2026, 11, 22, 9, 0, 0, 0, bkk), nil, "22 พฤศจิกายน 2569"},
		{time.Date(2024, 1, 1, 0, 0, 0, 0, bkk), bkk, "1 มกราคม 2567"},
		{time.Date(2024, 2, 29, 12, 0, 0, 0, bkk), bkk, "29 กุมภาพันธ์ 2567"},
		{time.Date(2025, 3, 15, 12, 0, 0, 0, bkk), bkk, "15 มีนาคม 2568"},
		{time.Date(2025, 4, 13, 12, 0, 0, 0, bkk), bkk, "13 เมษายน 2568"},
		{time.Date(2025, 5, 4, 12, 0, 0, 0, bkk), bkk, "4 พฤษภาคม 2568"},
		{time.Date(2025, 6, 3, 12, 0, 0, 0, bkk), bkk, "3 มิถุนายน 2568"},
		{time.Date(2025, 7, 28, 12, 0, 0, 0, bkk), bkk, "28 กรกฎาคม 2568"},
		{time.Date(2025, 8, 12, 12, 0, 0, 0, bkk), bkk, "12 สิงหาคม 2568"},
		{time.Date(2025, 9, 30, 12, 0, 0, 0, bkk), bkk, "30 กันยายน 2568"},
		{time.Date(2025, 10, 23, 12, 0, 0, 0, bkk), bkk, "23 ตุลาคม 2568"},
		{time.Date(2025, 12, 5, 12, 0, 0, 0, bkk), bkk, "5 ธันวาคม 2568"},
		// 20:00 UTC on 31 December is already New Year in Bangkok:
		// the day, the month and the Buddhist year all roll over.
		{time.Date(2025, 12, 31, 20, 0, 0, 0, time.UTC), nil, "1 มกราคม 2569"},
		{time.Date(2025, 12, 31, 20, 0, 0, 0, time.UTC), time.UTC, "31 ธันวาคม 2568"},
		{time.Date(1999, 12, 31, 23, 59, 0, 0, time.UTC), time.FixedZone("+07", 7*3600), "1 มกราคม 2543"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			if got := ThaiDate(tc.t, tc.loc); got != tc.want {
				t.Errorf("ThaiDate(%v) = %q, want %q", tc.t, got, tc.want)
			}
		})
	}
}

func TestBangkok(t *testing.T) {
	// With or without time zone data, Bangkok is UTC+7 all year.
	for _, m := range []time.Month{time.January, time.July} {
		_, off := time.Date(2026, m, 1, 0, 0, 0, 0, Bangkok()).Zone()
		if off != 7*3600 {
			t.Errorf("Bangkok offset in %v: %d s", m, off)
		}
	}
}

func TestLines(t *testing.T) {
	when := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	withTitle := &x509.Certificate{Subject: pkix.Name{CommonName: "นายสมชาย รักชาติ", OrganizationalUnit: []string{"กองกลาง"},
		Names: []pkix.AttributeTypeAndValue{{Type: oidTitle, Value: "ผู้อำนวยการกองกลาง"}}}}
	withOU := &x509.Certificate{Subject: pkix.Name{CommonName: "นางสาวสมศรี ใจดี", OrganizationalUnit: []string{"กองกลาง"}}}
	cases := []struct {
		name string
		app  Thai
		info signer.AppearanceInfo
		want []string
	}{
		{"title", Thai{}, signer.AppearanceInfo{Certificate: withTitle, Name: "นายสมชาย รักชาติ", Time: when},
			[]string{"(นายสมชาย รักชาติ)", "ผู้อำนวยการกองกลาง", "22 พฤศจิกายน 2569"}},
		{"organizational unit", Thai{}, signer.AppearanceInfo{Certificate: withOU, Time: when},
			[]string{"(นางสาวสมศรี ใจดี)", "กองกลาง", "22 พฤศจิกายน 2569"}},
		{"configured", Thai{Name: "ก ข", Position: "ค", Date: "ง"}, signer.AppearanceInfo{Certificate: withTitle, Name: "x", Time: when},
			[]string{"(ก ข)", "ค", "ง"}},
		{"control characters fold", Thai{Name: "นาย\nสมชาย\t\tรักชาติ ", Position: "\x00"}, signer.AppearanceInfo{Time: when},
			[]string{"(นาย สมชาย รักชาติ)", "22 พฤศจิกายน 2569"}},
		{"time zone", Thai{Location: time.UTC}, signer.AppearanceInfo{Name: "A", Time: time.Date(2025, 12, 31, 20, 0, 0, 0, time.UTC)},
			[]string{"(A)", "31 ธันวาคม 2568"}},
		{"nothing", Thai{}, signer.AppearanceInfo{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.app.Lines(tc.info)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Lines = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestShapeThai checks that shaping does what placing glyphs one by one
// from the cmap cannot: Laksaman's GSUB and GPOS lower tone marks that
// have no upper vowel beneath them, shift tone marks left of the tall
// stems of ป ฝ ฟ, drop the tails of ญ and ฐ above a lower vowel, and
// HarfBuzz's Thai shaper splits SARA AM around a tone mark.
func TestShapeThai(t *testing.T) {
	f, err := Laksaman()
	must(t, err)
	shape := func(s string) shapedLine {
		t.Helper()
		l, err := f.shape(s)
		if err != nil {
			t.Fatalf("shape %q: %v", s, err)
		}
		return l
	}
	nominal := func(r rune) int {
		g, ok := f.font.Cmap.Lookup(r)
		if !ok {
			t.Fatalf("no glyph for %q", r)
		}
		return int(g)
	}
	// markInk returns the ink box of glyph i, relative to the start of
	// the line.
	markInk := func(l shapedLine, i int) [4]int32 {
		t.Helper()
		var pen int32
		for j := range i {
			pen += l.glyphs[j].advance
		}
		g := l.glyphs[i]
		bb, ok := f.sf.glyphBBox(g.gid)
		if !ok {
			t.Fatalf("glyph %d has no outline", g.gid)
		}
		return [4]int32{pen + g.xOff + bb[0], g.yOff + bb[1], pen + g.xOff + bb[2], g.yOff + bb[3]}
	}

	low, high := shape("น้"), shape("นี้")
	if len(low.glyphs) != 2 || len(high.glyphs) != 3 {
		t.Fatalf("glyph counts %d and %d", len(low.glyphs), len(high.glyphs))
	}
	if low.glyphs[1].gid == nominal('้') {
		t.Error("a tone mark without upper vowel keeps its high form")
	}
	if lowTop, highTop := markInk(low, 1)[3], markInk(high, 2)[3]; highTop < lowTop+100 {
		t.Errorf("tone mark over SARA II tops out at %d, without it at %d: not stacked", highTop, lowTop)
	}
	if ii, tone := markInk(high, 1), markInk(high, 2); tone[1] < ii[3]-20 {
		t.Errorf("tone mark (bottom %d) collides with SARA II (top %d)", tone[1], ii[3])
	}

	tall := shape("ป้")
	shortEdge := markInk(low, 1)[2] - low.glyphs[0].advance
	tallEdge := markInk(tall, 1)[2] - tall.glyphs[0].advance
	if tallEdge > shortEdge-50 {
		t.Errorf("tone mark over ป ends %d from the advance, over น %d: not moved off the stem", tallEdge, shortEdge)
	}

	for _, s := range []string{"ญู", "ฐุ"} {
		l := shape(s)
		if l.glyphs[0].gid == nominal([]rune(s)[0]) {
			t.Errorf("%s: base keeps its tail above a lower vowel", s)
		}
	}

	am := shape("อ่ำ")
	var gids []int
	for _, g := range am.glyphs {
		gids = append(gids, g.gid)
	}
	want := []int{nominal('อ'), nominal('ํ'), -1, nominal('า')}
	if len(gids) != 4 || gids[0] != want[0] || gids[1] != want[1] || gids[3] != want[3] {
		t.Errorf("อ่ำ shaped to %v, want อ, NIKHAHIT, tone, SARA AA (%v)", gids, want)
	}
}

// TestContentPositions reads the content stream back like a PDF consumer
// (TJ adjustments, glyph widths, text rise) and checks every glyph lands
// where the shaper put it.
func TestContentPositions(t *testing.T) {
	f, err := Laksaman()
	must(t, err)
	for _, s := range []string{"(นางสาวสมศรี ใจดี)", "ผู้อำนวยการกองกลาง", "นี้ ปี่ ป้า ฝั่ง อ่ำ ปั้น ญู ฐุ ฎุ", "22 พฤศจิกายน 2569"} {
		t.Run(s, func(t *testing.T) {
			l, err := f.shape(s)
			must(t, err)
			use := newFontUse(f)
			const fs, x0, y0 = 16.0, 10.0, 20.0
			content := string(appendLine(nil, use, l, x0, y0, fs))
			if !strings.Contains(content, "/ActualText <FEFF") {
				t.Errorf("no /ActualText: %s", content)
			}
			got := interpretText(t, content, use, fs)
			scale := fs / float64(f.sf.upem)
			var pen float64
			i := 0
			for _, g := range l.glyphs {
				wantX := x0 + (pen+float64(g.xOff))*scale
				wantY := y0 + float64(g.yOff)*scale
				pen += float64(g.advance)
				if g.gid == 0 {
					continue
				}
				if i >= len(got) {
					t.Fatalf("content shows %d glyphs, shaper made more", len(got))
				}
				p := got[i]
				i++
				if p.gid != g.gid || math.Abs(p.x-wantX) > 0.002 || math.Abs(p.y-wantY) > 0.002 {
					t.Errorf("glyph %d drawn at (%.3f, %.3f), shaper says glyph %d at (%.3f, %.3f)", p.gid, p.x, p.y, g.gid, wantX, wantY)
				}
			}
			if i != len(got) {
				t.Errorf("content shows %d glyphs, shaper made %d", len(got), i)
			}
			// Through ToUnicode alone the glyphs read back as the text,
			// in drawing order.
			cmap := parseToUnicode(t, use.toUnicode(use.glyphs()))
			var text strings.Builder
			for _, p := range got {
				u, ok := cmap[p.gid]
				if !ok {
					t.Fatalf("glyph %d not in ToUnicode", p.gid)
				}
				text.WriteString(u)
			}
			if text.String() != glyphOrder(s) {
				t.Errorf("ToUnicode reads %q, want %q", text.String(), glyphOrder(s))
			}
		})
	}
}

// parseToUnicode reads the bfchar entries of a ToUnicode CMap.
func parseToUnicode(t *testing.T, cmap []byte) map[int]string {
	t.Helper()
	out := map[int]string{}
	in := false
	for _, line := range strings.Split(string(cmap), "\n") {
		switch {
		case strings.HasSuffix(line, "beginbfchar"):
			in = true
		case line == "endbfchar":
			in = false
		case in:
			var code, dst string
			if _, err := fmt.Sscanf(line, "<%4s> <%s", &code, &dst); err != nil {
				t.Fatalf("bfchar line %q: %v", line, err)
			}
			c, err := strconv.ParseUint(code, 16, 16)
			must(t, err)
			dst = strings.TrimSuffix(dst, ">")
			var u []uint16
			for i := 0; i+4 <= len(dst); i += 4 {
				v, err := strconv.ParseUint(dst[i:i+4], 16, 16)
				must(t, err)
				u = append(u, uint16(v))
			}
			if len(u) == 0 {
				t.Errorf("glyph %d maps to nothing", c)
			}
			out[int(c)] = string(utf16.Decode(u))
		}
	}
	return out
}

type placed struct {
	gid  int
	x, y float64
}

// interpretText runs the text operators appendLine writes: Tf, Td, Ts, TJ.
func interpretText(t *testing.T, content string, use *fontUse, fs float64) []placed {
	t.Helper()
	var out []placed
	var x, y, rise float64
	var operands []string
	for _, tok := range tokenize(content) {
		switch tok {
		case "Td":
			x, _ = strconv.ParseFloat(operands[0], 64)
			y, _ = strconv.ParseFloat(operands[1], 64)
		case "Ts":
			rise, _ = strconv.ParseFloat(operands[0], 64)
		case "TJ":
			for _, e := range operands {
				if strings.HasPrefix(e, "<") {
					h := strings.Trim(e, "<>")
					for i := 0; i+4 <= len(h); i += 4 {
						g, _ := strconv.ParseUint(h[i:i+4], 16, 16)
						out = append(out, placed{int(g), x, y + rise})
						x += use.width(int(g)) / 1000 * fs
					}
					continue
				}
				n, err := strconv.ParseFloat(e, 64)
				if err != nil {
					t.Fatalf("TJ element %q", e)
				}
				x -= n / 1000 * fs
			}
		}
		if isOperator(tok) {
			operands = operands[:0]
		} else if tok != "[" && tok != "]" {
			operands = append(operands, tok)
		}
	}
	return out
}

func isOperator(tok string) bool {
	return tok != "" && (tok[0] >= 'a' && tok[0] <= 'z' || tok[0] >= 'A' && tok[0] <= 'Z')
}

// tokenize splits our own content streams: numbers, names, hex strings,
// dictionaries (skipped as one token) and operators.
func tokenize(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\n':
			i++
		case c == '<' && i+1 < len(s) && s[i+1] == '<':
			j := strings.Index(s[i:], ">>")
			out = append(out, s[i:i+j+2])
			i += j + 2
		case c == '<':
			j := strings.IndexByte(s[i:], '>')
			out = append(out, s[i:i+j+1])
			i += j + 1
		case c == '[' || c == ']':
			out = append(out, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \n[]<", rune(s[j])) {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

// newUpdate opens a corpus file for an update the tests draw into.
func newUpdate(t *testing.T, name string) *pdf.Update {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", name))
	must(t, err)
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	must(t, err)
	return r.NewUpdate()
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	must(t, png.Encode(&b, img))
	return b.Bytes()
}

func TestWidgetErrors(t *testing.T) {
	info := signer.AppearanceInfo{Name: "นางสาวสมศรี ใจดี", Time: time.Now()}
	rect := [4]float64{100, 100, 300, 180}
	huge := image.NewGray(image.Rect(0, 0, 1, 1))
	hugeHeader := encodePNG(t, huge)
	// Patch the IHDR to claim 60000×60000 pixels; the CRC no longer
	// matches, and the size check must refuse it before decoding anyway.
	copy(hugeHeader[16:24], []byte{0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60})
	cases := []struct {
		name string
		app  Thai
		info signer.AppearanceInfo
		want error
	}{
		{"no rectangle", Thai{}, info, ErrOptions},
		{"too small", Thai{Rect: [4]float64{0, 0, 2, 50}}, info, ErrOptions},
		{"too large", Thai{Rect: [4]float64{0, 0, 20000, 50}}, info, ErrOptions},
		{"not a number", Thai{Rect: [4]float64{0, 0, math.NaN(), 50}}, info, ErrOptions},
		{"negative page", Thai{Page: -1, Rect: rect}, info, ErrOptions},
		{"font size", Thai{Rect: rect, FontSize: -3}, info, ErrOptions},
		{"not a PNG", Thai{Rect: rect, Image: []byte("GIF89a")}, info, ErrOptions},
		{"PNG too many pixels", Thai{Rect: rect, Image: hugeHeader}, info, ErrOptions},
		{"PNG too many bytes", Thai{Rect: rect, Image: make([]byte, MaxImageBytes+1)}, info, ErrOptions},
		{"line too long", Thai{Rect: rect, Name: strings.Repeat("ก", MaxLineRunes+1)}, info, ErrOptions},
		{"nothing to show", Thai{Rect: rect}, signer.AppearanceInfo{}, ErrOptions},
		{"character the font lacks", Thai{Rect: rect, Name: "王小明"}, info, ErrMissingGlyph},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpdate(t, "memo-chromium.pdf")
			_, err := tc.app.Widget(context.Background(), u, tc.info)
			if !errors.Is(err, tc.want) {
				t.Errorf("Widget: %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		app := Thai{Rect: rect}
		if _, err := app.Widget(ctx, newUpdate(t, "memo-chromium.pdf"), info); !errors.Is(err, context.Canceled) {
			t.Errorf("Widget: %v", err)
		}
	})
}

func TestWidgetRectAndSize(t *testing.T) {
	app := Thai{Page: 0, Rect: [4]float64{300, 180, 100, 100}} // corners swapped
	u := newUpdate(t, "memo-chromium.pdf")
	w, err := app.Widget(context.Background(), u, signer.AppearanceInfo{Name: "นางสาวสมศรี ใจดี", Time: time.Now()})
	must(t, err)
	if w.Rect != [4]float64{100, 100, 300, 180} || w.Page != 0 {
		t.Errorf("widget %+v", w)
	}
	o, err := u.Get(w.Normal)
	must(t, err)
	st := o.(*pdf.Stream)
	bbox := st.Dict["BBox"].(pdf.Array)
	if num(bbox[2]) != 200 || num(bbox[3]) != 80 {
		t.Errorf("BBox %v, want 200×80", bbox)
	}
}

func TestWidgetImageOnly(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 40, 20))
	img.SetNRGBA(3, 4, color.NRGBA{0, 0, 255, 200})
	app := Thai{Rect: [4]float64{100, 100, 300, 180}, Image: encodePNG(t, img)}
	u := newUpdate(t, "memo-chromium.pdf")
	w, err := app.Widget(context.Background(), u, signer.AppearanceInfo{})
	must(t, err)
	o, err := u.Get(w.Normal)
	must(t, err)
	res := o.(*pdf.Stream).Dict["Resources"].(pdf.Dict)
	if res["Font"] != nil || res["XObject"] == nil {
		t.Errorf("resources %v: want the image and no font", res)
	}
}

func TestDecodePNG(t *testing.T) {
	opaqueRGB := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	transparentGray := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	paletted := image.NewPaletted(image.Rect(0, 0, 5, 2), color.Palette{color.NRGBA{0, 0, 0, 0}, color.NRGBA{0, 0, 200, 255}})
	for y := range 3 {
		for x := range 4 {
			opaqueRGB.SetNRGBA(x, y, color.NRGBA{uint8(x * 60), 10, 200, 255})
			transparentGray.SetNRGBA(x, y, color.NRGBA{50, 50, 50, uint8(x * 80)})
		}
	}
	paletted.SetColorIndex(1, 1, 1)
	cases := []struct {
		name      string
		img       image.Image
		gray      bool
		wantAlpha bool
	}{
		{"opaque colour", opaqueRGB, false, false},
		{"grey with alpha", transparentGray, true, true},
		{"palette with a transparent entry", paletted, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			im, err := decodePNG(encodePNG(t, tc.img))
			must(t, err)
			b := tc.img.Bounds()
			comps := 3
			if tc.gray {
				comps = 1
			}
			if im.w != b.Dx() || im.h != b.Dy() || im.gray != tc.gray || len(im.color) != comps*im.w*im.h {
				t.Errorf("decoded %d×%d gray=%v, %d colour bytes", im.w, im.h, im.gray, len(im.color))
			}
			if (im.alpha != nil) != tc.wantAlpha {
				t.Errorf("alpha present %v, want %v", im.alpha != nil, tc.wantAlpha)
			}
			// The XObject decodes (through our PDF reader's predictor
			// code) back to the same samples.
			u := newUpdate(t, "memo-chromium.pdf")
			ref, err := im.embed(u)
			must(t, err)
			o, _ := u.Get(ref)
			st := o.(*pdf.Stream)
			if got := decodeStream(t, st); !bytes.Equal(got, im.color) {
				t.Errorf("image samples do not round-trip")
			}
			if tc.wantAlpha {
				mo, _ := u.Get(st.Dict["SMask"].(pdf.Ref))
				if got := decodeStream(t, mo.(*pdf.Stream)); !bytes.Equal(got, im.alpha) {
					t.Errorf("soft mask does not round-trip")
				}
			} else if st.Dict["SMask"] != nil {
				t.Error("opaque image has a soft mask")
			}
		})
	}
}

// decodeStream decodes a stream built for writing with the package pdf
// reader, by writing it into a one-object file.
func decodeStream(t *testing.T, st *pdf.Stream) []byte {
	t.Helper()
	var b []byte
	b = append(b, "%PDF-1.7\n"...)
	off := len(b)
	b = append(b, "1 0 obj\n"...)
	b = pdf.AppendObject(b, st)
	b = append(b, "\nendobj\n"...)
	off2 := len(b)
	b = append(b, "2 0 obj\n<</Type/Catalog>>\nendobj\n"...)
	xref := len(b)
	b = append(b, "xref\n0 3\n0000000000 65535 f \n"...)
	for _, o := range []int{off, off2} {
		b = append(b, []byte(strings.Repeat("0", 10-len(strconv.Itoa(o)))+strconv.Itoa(o)+" 00000 n \n")...)
	}
	b = append(b, "trailer\n<</Size 3/Root 2 0 R>>\nstartxref\n"...)
	b = append(b, strconv.Itoa(xref)+"\n%%EOF\n"...)
	r, err := pdf.NewReader(bytes.NewReader(b), int64(len(b)), nil)
	must(t, err)
	o, err := r.Object(pdf.Ref{Num: 1})
	must(t, err)
	data, err := r.StreamData(o.(*pdf.Stream))
	must(t, err)
	return data
}

// TestFontShared draws with one Font from many goroutines, as a server
// sharing a parsed font does; run it with -race.
func TestFontShared(t *testing.T) {
	f, err := Laksaman()
	must(t, err)
	info := signer.AppearanceInfo{Name: "นางสาวสมศรี ใจดี", Time: time.Now()}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			app := Thai{Rect: [4]float64{100, 100, 300, 180}, Position: "ผู้อำนวยการกองกลาง", Font: f}
			_, err := app.Widget(context.Background(), newUpdate(t, "memo-chromium.pdf"), info)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkWidget(b *testing.B) {
	shared, err := Laksaman()
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", "memo-chromium.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		b.Fatal(err)
	}
	info := signer.AppearanceInfo{Name: "นางสาวสมศรี ใจดี", Time: time.Now()}
	for _, bc := range []struct {
		name string
		font *Font
	}{{"shared font", shared}, {"font parsed per call", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			app := Thai{Rect: [4]float64{100, 100, 300, 180}, Position: "ผู้อำนวยการกองกลาง", Font: bc.font}
			for b.Loop() {
				if _, err := app.Widget(context.Background(), r.NewUpdate(), info); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
