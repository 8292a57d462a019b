package appearance

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"esign/hsm/hsmtest"
	"esign/internal/extverify"
	"esign/internal/testenv"
	"esign/pdf"
	"esign/signer"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

// -review writes the rendered signature areas to testdata/review, for a
// person to look at: go test ./appearance -run TestSignVisible -args -review
var review = flag.Bool("review", false, "write rendered signature areas to testdata/review")

// -keep DIR keeps the signed files for inspection with other tools.
var keep = flag.String("keep", "", "directory to copy signed files to")

// signatureImage draws a blue handwritten-looking stroke on a transparent
// background with soft (partly transparent) edges, as a scanned signature
// with its background removed looks.
func signatureImage(t testing.TB) []byte {
	t.Helper()
	const w, h = 300, 100
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := 10; x < w-10; x++ {
		fx := float64(x)
		cy := 50 + 28*math.Sin(fx/23) + 10*math.Sin(fx/7)
		for y := 0; y < h; y++ {
			d := math.Abs(float64(y) - cy)
			if d < 4 {
				a := 1.0
				if d > 2 {
					a = (4 - d) / 2
				}
				if old := float64(img.NRGBAAt(x, y).A) / 255; a < old {
					a = old
				}
				img.SetNRGBA(x, y, color.NRGBA{R: 0x10, G: 0x30, B: 0xa0, A: uint8(a * 255)})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// signed is a signed file and what the test asked for.
type signed struct {
	path string
	data []byte
	page int
	rect [4]float64
	res  *signer.Result
}

func signVisible(t *testing.T, env *testenv.Env, corpus string, app *Thai) signed {
	t.Helper()
	in, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", corpus))
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Signer.Sign(context.Background(), bytes.NewReader(in), int64(len(in)),
		env.Creds["dev-official"], signer.Options{Appearance: app, Reason: "อนุมัติ"})
	if err != nil {
		t.Fatalf("sign %s: %v", corpus, err)
	}
	var out bytes.Buffer
	if _, err := res.Write(&out, bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signed-"+corpus)
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if *keep != "" {
		must(t, os.MkdirAll(*keep, 0o755))
		must(t, os.WriteFile(filepath.Join(*keep, "signed-"+corpus), out.Bytes(), 0o644))
	}
	return signed{path: path, data: out.Bytes(), page: app.Page, rect: app.Rect, res: res}
}

func TestSignVisible(t *testing.T) {
	env := testenv.New(t)
	nss := extverify.NSSDB(t, env.PKI.Root)
	full, err := Laksaman()
	if err != nil {
		t.Fatal(err)
	}
	sigPNG := signatureImage(t)
	chrome := startChromium(t)
	cwd, err := os.Getwd()
	must(t, err)
	const position = "ผู้อำนวยการกองกลาง"
	cases := []struct {
		corpus string
		app    Thai
		pdfa   bool
	}{
		{corpus: "memo-chromium.pdf", app: Thai{Rect: [4]float64{340, 12, 540, 122}, Position: position, Image: sigPNG, Font: full}},
		{corpus: "memo-libreoffice-pdfa2b.pdf", app: Thai{Page: 2, Rect: [4]float64{330, 40, 545, 150}, Position: position, Image: sigPNG}, pdfa: true},
		// Stacked marks of every kind: tone marks over upper vowels, over
		// tall consonants, SARA AM after a tone mark, consonants whose
		// descender gives way to a lower vowel.
		{corpus: "memo-ghostscript.pdf", app: Thai{Rect: [4]float64{300, 12, 560, 122},
			Name: "นี้ ปี่ ป้า ฝั่ง อ่ำ ปั้น ญู ฐุ ฎุ", Position: "ฟ้าผ่า ที่นั่น น้ำใจ กำลัง", Image: sigPNG}},
		{corpus: "transcript-libreoffice-pdfa3b.pdf", app: Thai{Rect: [4]float64{360, 20, 560, 90}, Position: position}, pdfa: true},
	}
	for _, tc := range cases {
		t.Run(tc.corpus, func(t *testing.T) {
			app := tc.app
			s := signVisible(t, env, tc.corpus, &app)
			sigs := extverify.PDFSig(t, nss, s.path)
			if len(sigs) != 1 || !sigs[0].Valid || !sigs[0].Trusted || !sigs[0].TotalDocument {
				t.Errorf("pdfsig: %+v", sigs)
			}
			if err := extverify.QPDFCheck(s.path); err != nil {
				t.Error(err)
			}
			date := ThaiDate(s.res.SigningTime, nil)
			leaf := env.Creds["dev-official"].Chain[0]
			wantLines := app.Lines(signer.AppearanceInfo{Certificate: leaf, Name: leaf.Subject.CommonName, Time: s.res.SigningTime})
			if len(wantLines) != 3 || wantLines[2] != date {
				t.Fatalf("lines %q", wantLines)
			}

			ap := readAppearance(t, s.data)
			checkSubset(t, ap, full)
			checkPDFA(t, ap, tc.pdfa)
			checkPDFFonts(t, s)

			// Text extraction of the signature area only: the memo prints
			// the same name elsewhere on the page.
			text := extractText(t, s)
			for _, want := range wantLines {
				if !strings.Contains(text, want) {
					t.Errorf("pdftotext of the signature area lacks %q:\n%s", want, text)
				}
			}
			mtext := mutoolText(t, s)
			for _, want := range wantLines {
				if !strings.Contains(mtext, glyphOrder(want)) {
					t.Errorf("mutool text of the page lacks %q:\n%s", glyphOrder(want), mtext)
				}
			}

			pageW, pageH := pageSize(t, s)
			renderers := []renderer{popplerRender, mupdfRender, {"chromium", func(t *testing.T, path string, page int) (image.Image, float64) {
				return chrome.render(t, path, page, pageW, pageH), chromiumPxPerPt
			}}}
			for _, r := range renderers {
				before, k := r.render(t, filepath.Join(cwd, "..", "testdata", "corpus", tc.corpus), s.page)
				after, _ := r.render(t, s.path, s.page)
				crop := cropRect(after, s.rect, k)
				if prior := darkPixels(cropRect(before, s.rect, k)); prior != 0 {
					t.Errorf("%s: the unsigned page already has %d dark pixels in the rectangle", r.name, prior)
				}
				// Ink is measured in square points, whatever the scale. The
				// lower half of the rectangle holds only text (the image
				// sits above it); the three lines blacken hundreds of
				// square points.
				cb := crop.Bounds()
				lower := cropRect(crop, [4]float64{0, 0, float64(cb.Dx()), float64(cb.Dy()) / 2}, 1)
				text := float64(darkPixels(lower)) / (k * k)
				blue := float64(bluePixels(crop)) / (k * k)
				t.Logf("%s: %.0f pt² of text ink below, %.0f pt² of blue ink", r.name, text, blue)
				if text < 250 {
					t.Errorf("%s: only %.0f pt² of ink in the text half of the signature", r.name, text)
				}
				if app.Image != nil && blue < 100 {
					t.Errorf("%s: the signature image is missing (%.0f pt² of blue ink)", r.name, blue)
				}
				if app.Image == nil && blue > 20 {
					t.Errorf("%s: %.0f pt² of blue ink without a signature image", r.name, blue)
				}
				if *review {
					name := strings.TrimSuffix(tc.corpus, ".pdf") + "-" + r.name + ".png"
					writePNG(t, filepath.Join("testdata", "review", name), scaleTo(crop, 200.0/72/k))
				}
			}
		})
	}
}

// appearanceObjects is what the signed file says about the appearance.
type appearanceObjects struct {
	r        *pdf.Reader
	form     *pdf.Stream
	content  []byte
	font     pdf.Dict // Type0
	cidFont  pdf.Dict
	desc     pdf.Dict
	program  []byte
	toUni    []byte
	image    *pdf.Stream // nil without an image
	resource pdf.Dict
}

// readAppearance finds the signature widget with our reader and reads its
// appearance stream and font.
func readAppearance(t *testing.T, data []byte) appearanceObjects {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, _, err := r.Catalog()
	must(t, err)
	acro, err := r.Dict(cat["AcroForm"])
	must(t, err)
	fields, err := r.Array(acro["Fields"])
	must(t, err)
	var widget pdf.Dict
	for _, f := range fields {
		d, err := r.Dict(f)
		must(t, err)
		if d["FT"] == pdf.Name("Sig") && d["AP"] != nil {
			widget = d
		}
	}
	if widget == nil {
		t.Fatal("no signature widget with an appearance")
	}
	ap, err := r.Dict(widget["AP"])
	must(t, err)
	nObj, err := r.Resolve(ap["N"])
	must(t, err)
	form, ok := nObj.(*pdf.Stream)
	if !ok {
		t.Fatalf("/AP /N is %T", nObj)
	}
	out := appearanceObjects{r: r, form: form}
	out.content, err = r.StreamData(form)
	must(t, err)
	out.resource, err = r.Dict(form.Dict["Resources"])
	must(t, err)
	fonts, err := r.Dict(out.resource["Font"])
	must(t, err)
	out.font, err = r.Dict(fonts["F1"])
	must(t, err)
	desc, err := r.Array(out.font["DescendantFonts"])
	must(t, err)
	out.cidFont, err = r.Dict(desc[0])
	must(t, err)
	out.desc, err = r.Dict(out.cidFont["FontDescriptor"])
	must(t, err)
	out.program = streamData(t, r, out.desc["FontFile2"])
	out.toUni = streamData(t, r, out.font["ToUnicode"])
	if xo, err := r.Dict(out.resource["XObject"]); err == nil && xo != nil {
		o, err := r.Resolve(xo["Im1"])
		must(t, err)
		out.image, _ = o.(*pdf.Stream)
	}
	return out
}

func streamData(t *testing.T, r *pdf.Reader, o pdf.Object) []byte {
	t.Helper()
	v, err := r.Resolve(o)
	must(t, err)
	st, ok := v.(*pdf.Stream)
	if !ok {
		t.Fatalf("want a stream, got %T", v)
	}
	b, err := r.StreamData(st)
	must(t, err)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var hexString = regexp.MustCompile(`<([0-9A-Fa-f]*)>`)

// contentGlyphs lists the glyph IDs the content stream shows, from the hex
// strings inside TJ arrays.
func contentGlyphs(t *testing.T, content []byte) []int {
	t.Helper()
	var out []int
	for _, line := range strings.Split(string(content), "\n") {
		if !strings.HasSuffix(line, "TJ") {
			continue
		}
		for _, m := range hexString.FindAllStringSubmatch(line, -1) {
			if len(m[1])%4 != 0 {
				t.Fatalf("odd glyph string %q", m[1])
			}
			for i := 0; i < len(m[1]); i += 4 {
				g, _ := strconv.ParseUint(m[1][i:i+4], 16, 16)
				out = append(out, int(g))
			}
		}
	}
	return out
}

// checkSubset parses the embedded font program back and checks it holds
// exactly the glyphs the content draws (with their components) and little
// else.
func checkSubset(t *testing.T, ap appearanceObjects, full *Font) {
	t.Helper()
	used := contentGlyphs(t, ap.content)
	if len(used) < 20 {
		t.Fatalf("content shows only %d glyphs", len(used))
	}
	sub, err := parseSFNT(ap.program)
	if err != nil {
		t.Fatalf("embedded font program: %v", err)
	}
	need, err := full.sf.closure(used)
	must(t, err)
	needSet := map[int]bool{}
	for _, g := range need {
		needSet[g] = true
	}
	for g := range sub.numGlyphs {
		got, orig := sub.glyph(g), full.sf.glyph(g)
		switch {
		case needSet[g] && !bytes.Equal(got, orig):
			t.Errorf("glyph %d: %d bytes in the subset, %d in the font", g, len(got), len(orig))
		case !needSet[g] && len(got) != 0:
			t.Errorf("glyph %d is not used but has %d bytes of outline", g, len(got))
		}
		if needSet[g] && sub.advance(g) != full.sf.advance(g) {
			t.Errorf("glyph %d: advance %d, font has %d", g, sub.advance(g), full.sf.advance(g))
		}
	}
	outlines := 0
	for _, g := range used {
		if g >= sub.numGlyphs {
			t.Fatalf("content shows glyph %d, the subset has %d", g, sub.numGlyphs)
		}
		if len(full.sf.glyph(g)) > 0 {
			outlines++
			if len(sub.glyph(g)) == 0 {
				t.Errorf("glyph %d lost its outline", g)
			}
		}
	}
	if outlines < 20 {
		t.Errorf("only %d drawn glyphs have outlines", outlines)
	}
	if len(ap.program)*5 > len(laksaman) {
		t.Errorf("subset is %d bytes, the font %d: want under a fifth", len(ap.program), len(laksaman))
	}
	// Every drawn glyph has a width and a ToUnicode entry.
	w, err := ap.r.Array(ap.cidFont["W"])
	must(t, err)
	widths := map[int]float64{}
	for i := 0; i+1 < len(w); i += 2 {
		start, _ := w[i].(pdf.Integer)
		run, _ := w[i+1].(pdf.Array)
		for j, v := range run {
			widths[int(start)+j] = num(v)
		}
	}
	for _, g := range used {
		want := float64(full.sf.advance(g)) * 1000 / float64(full.sf.upem)
		if got, ok := widths[g]; !ok || math.Abs(got-want) > 0.01 {
			t.Errorf("glyph %d: /W %v (present %v), font advance %v", g, got, ok, want)
		}
		if !bytes.Contains(ap.toUni, fmt.Appendf(nil, "<%04X> <", g)) {
			t.Errorf("glyph %d has no ToUnicode entry", g)
		}
	}
	base, _ := ap.font["BaseFont"].(pdf.Name)
	if !regexp.MustCompile(`^[A-Z]{6}\+Laksaman$`).MatchString(string(base)) {
		t.Errorf("BaseFont %q, want a subset tag and Laksaman", base)
	}
}

func num(o pdf.Object) float64 {
	switch v := o.(type) {
	case pdf.Integer:
		return float64(v)
	case pdf.Real:
		return float64(v)
	}
	return math.NaN()
}

// checkPDFA checks the rules of PDF/A-2 and -3 that an appearance can
// break (ISO 19005-2 §6.2): fonts embedded with ToUnicode and an identity
// CIDToGIDMap, no Interpolate, soft masks only where PDF/A-2 allows them,
// and no transparency group without a colour space.
func checkPDFA(t *testing.T, ap appearanceObjects, pdfa bool) {
	t.Helper()
	if ap.cidFont["CIDToGIDMap"] != pdf.Name("Identity") {
		t.Errorf("CIDToGIDMap %v", ap.cidFont["CIDToGIDMap"])
	}
	if ap.font["Encoding"] != pdf.Name("Identity-H") || ap.font["ToUnicode"] == nil {
		t.Errorf("Type0 font %v", ap.font)
	}
	if _, ok := ap.desc["FontFile2"].(pdf.Ref); !ok {
		t.Error("font program not embedded")
	}
	if ap.form.Dict["Group"] != nil {
		t.Error("the appearance has a transparency group")
	}
	if ap.image != nil {
		if ap.image.Dict["Interpolate"] != nil {
			t.Error("image with /Interpolate")
		}
		if ap.image.Dict["SMask"] == nil {
			t.Error("transparent signature image without /SMask")
		}
	}
	if pdfa {
		cat, _, err := ap.r.Catalog()
		must(t, err)
		if cat["Metadata"] == nil || cat["OutputIntents"] == nil {
			t.Error("PDF/A input lost its metadata or output intent")
		}
	}
}

// checkPDFFonts asks poppler's pdffonts about the signature's font.
func checkPDFFonts(t *testing.T, s signed) {
	t.Helper()
	p := strconv.Itoa(s.page + 1)
	out, err := exec.Command("pdffonts", "-f", p, "-l", p, s.path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdffonts: %v\n%s", err, out)
	}
	re := regexp.MustCompile(`(?m)^[A-Z]{6}\+Laksaman\s+CID TrueType\s+Identity-H\s+yes\s+yes\s+yes`)
	if !re.Match(out) {
		t.Errorf("pdffonts does not list an embedded Laksaman subset with ToUnicode:\n%s", out)
	}
}

// extractText runs pdftotext over the signature rectangle only.
func extractText(t *testing.T, s signed) string {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(s.data), int64(len(s.data)), nil)
	must(t, err)
	_, page, err := r.Page(s.page)
	must(t, err)
	box, err := r.Array(page["MediaBox"])
	must(t, err)
	top := num(box[3])
	p := strconv.Itoa(s.page + 1)
	args := []string{"-f", p, "-l", p, "-r", "72",
		"-x", strconv.Itoa(int(s.rect[0]) - 1), "-y", strconv.Itoa(int(top-s.rect[3]) - 1),
		"-W", strconv.Itoa(int(s.rect[2]-s.rect[0]) + 2), "-H", strconv.Itoa(int(s.rect[3]-s.rect[1]) + 2),
		s.path, "-"}
	out, err := exec.Command("pdftotext", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

// glyphOrder is s in the order a reader that ignores /ActualText (MuPDF
// 1.21) recovers it from ToUnicode alone: SARA AM decomposed into NIKHAHIT
// and SARA AA, NIKHAHIT moved before tone marks, as the shaper draws them.
// It looks the same; poppler, which reads /ActualText, gets s itself.
func glyphOrder(s string) string {
	var out []rune
	for _, r := range s {
		if r != 'ำ' {
			out = append(out, r)
			continue
		}
		i := len(out)
		for i > 0 && out[i-1] >= 0x0e48 && out[i-1] <= 0x0e4b {
			i--
		}
		out = append(out[:i], append([]rune{'ํ'}, out[i:]...)...)
		out = append(out, 'า')
	}
	return string(out)
}

// mutoolText is MuPDF's text extraction of the signed page.
func mutoolText(t *testing.T, s signed) string {
	t.Helper()
	out, err := exec.Command("mutool", "draw", "-q", "-F", "txt", "-o", "-", s.path, strconv.Itoa(s.page+1)).CombinedOutput()
	if err != nil {
		t.Fatalf("mutool draw -F txt: %v\n%s", err, out)
	}
	return string(out)
}

const renderDPI = 100

// renderer draws a page and says its scale in pixels per point.
type renderer struct {
	name   string
	render func(t *testing.T, path string, page int) (image.Image, float64)
}

var (
	popplerRender = renderer{"poppler", func(t *testing.T, path string, page int) (image.Image, float64) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "page")
		p := strconv.Itoa(page + 1)
		if b, err := exec.Command("pdftoppm", "-r", strconv.Itoa(renderDPI), "-f", p, "-l", p, "-singlefile", "-png", path, out).CombinedOutput(); err != nil {
			t.Fatalf("pdftoppm: %v\n%s", err, b)
		}
		return readPNG(t, out+".png"), renderDPI / 72.0
	}}
	mupdfRender = renderer{"mupdf", func(t *testing.T, path string, page int) (image.Image, float64) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "page.png")
		if b, err := exec.Command("mutool", "draw", "-q", "-r", strconv.Itoa(renderDPI), "-o", out, path, strconv.Itoa(page+1)).CombinedOutput(); err != nil {
			t.Fatalf("mutool draw: %v\n%s", err, b)
		}
		return readPNG(t, out), renderDPI / 72.0
	}}
)

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	must(t, err)
	return img
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	must(t, png.Encode(&b, img))
	must(t, os.WriteFile(path, b.Bytes(), 0o644))
}

// cropRect cuts the rectangle (PDF points, origin lower left) out of a
// page rendered at k pixels per point.
func cropRect(img image.Image, r [4]float64, k float64) image.Image {
	h := img.Bounds().Dy()
	rect := image.Rect(int(r[0]*k), h-int(r[3]*k), int(math.Ceil(r[2]*k)), h-int(r[1]*k))
	out := image.NewNRGBA(image.Rect(0, 0, rect.Dx(), rect.Dy()))
	for y := range rect.Dy() {
		for x := range rect.Dx() {
			out.Set(x, y, img.At(rect.Min.X+x, rect.Min.Y+y))
		}
	}
	return out
}

// scaleTo resizes img by k (nearest neighbour), for review pictures of a
// comparable size from every renderer.
func scaleTo(img image.Image, k float64) image.Image {
	b := img.Bounds()
	w, h := int(float64(b.Dx())*k), int(float64(b.Dy())*k)
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			out.Set(x, y, img.At(b.Min.X+int(float64(x)/k), b.Min.Y+int(float64(y)/k)))
		}
	}
	return out
}

// pageSize reads the signed page's MediaBox.
func pageSize(t *testing.T, s signed) (float64, float64) {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(s.data), int64(len(s.data)), nil)
	must(t, err)
	_, page, err := r.Page(s.page)
	must(t, err)
	box, err := r.Array(page["MediaBox"])
	must(t, err)
	if len(box) != 4 {
		t.Fatalf("MediaBox %v", box)
	}
	return num(box[2]) - num(box[0]), num(box[3]) - num(box[1])
}

func darkPixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if (r+g+bl)/3 < 0x8000 {
				n++
			}
		}
	}
	return n
}

// bluePixels counts the signature image's ink: strongly blue pixels.
// Colours are averaged over three pixels in a row first, which cancels
// the coloured fringes of sub-pixel text rendering (Chromium's viewer
// uses it) while a blue stroke stays blue.
func bluePixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X + 1; x < b.Max.X-1; x++ {
			var r, g, bl uint32
			for dx := -1; dx <= 1; dx++ {
				rr, gg, bb, _ := img.At(x+dx, y).RGBA()
				r, g, bl = r+rr, g+gg, bl+bb
			}
			if bl > r+3*0x6000 && bl > g+3*0x4000 {
				n++
			}
		}
	}
	return n
}
