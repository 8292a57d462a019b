package qrstamp_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"regexp"
	"strconv"
	"testing"

	goqr "github.com/piglig/go-qr"

	"esign/pdf"
	"esign/qrstamp"
	"esign/signer"
)

const url = "https://verify.example.go.th/d/Hq3v1yS0cWJm2x8ZpL4dKA"

func TestNewRefuses(t *testing.T) {
	cases := []struct {
		name string
		url  string
		opts qrstamp.Options
	}{
		{"empty URL", "", qrstamp.Options{}},
		{"relative URL", "/d/abc", qrstamp.Options{}},
		{"other scheme", "javascript:alert(1)", qrstamp.Options{}},
		{"space in URL", "https://a.example/d/a b", qrstamp.Options{}},
		{"URL too long", "https://a.example/" + string(bytes.Repeat([]byte("a"), qrstamp.MaxURL)), qrstamp.Options{}},
		{"negative page", url, qrstamp.Options{Page: -1}},
		{"inverted rectangle", url, qrstamp.Options{Rect: [4]float64{92, 92, 28, 28}}},
		{"too small", url, qrstamp.Options{Rect: [4]float64{0, 0, 20, 20}}},
		{"NaN", url, qrstamp.Options{Rect: [4]float64{0, 0, math.NaN(), 64}}},
		{"off any page size", url, qrstamp.Options{Rect: [4]float64{0, 0, 1e9, 1e9}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := qrstamp.New(c.url, c.opts); !errors.Is(err, signer.ErrBadOptions) {
				t.Fatalf("error %v, want ErrBadOptions", err)
			}
		})
	}
}

// overlay draws s into an update on a corpus file and returns the
// placement and the form's decoded content.
func overlay(t *testing.T, s *qrstamp.Stamp) (signer.Placed, *pdf.Stream, []byte, *pdf.Update) {
	t.Helper()
	in, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	r, err := pdf.NewReader(bytes.NewReader(in), int64(len(in)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	p, err := s.Overlay(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := u.Get(p.XObject)
	st, ok := o.(*pdf.Stream)
	if !ok {
		t.Fatalf("XObject %v is %T", p.XObject, o)
	}
	data, err := r.StreamData(st)
	if err != nil {
		t.Fatal(err)
	}
	return p, st, data, u
}

var reOp = regexp.MustCompile(`(?m)^(\S+) (\S+) (\S+) (\S+) re$`)

// TestOverlayDrawing checks the form: defaults, vector modules in runs
// that match the encoder's modules, the quiet zone and the caption's
// place.
func TestOverlayDrawing(t *testing.T) {
	s, err := qrstamp.New(url, qrstamp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, st, data, u := overlay(t, s)
	if p.Page != 0 || p.Rect != qrstamp.DefaultRect {
		t.Errorf("placed on page %d at %v, want page 0 at %v", p.Page, p.Rect, qrstamp.DefaultRect)
	}
	res := st.Dict["Resources"].(pdf.Dict)
	if res["XObject"] == nil || len(res) != 1 {
		t.Errorf("resources %v: want only the caption form", res)
	}
	capRef := res["XObject"].(pdf.Dict)["Cap"].(pdf.Ref)
	co, _ := u.Get(capRef)
	capBox := co.(*pdf.Stream).Dict["BBox"].(pdf.Array)
	capTop := float64(capBox[3].(pdf.Real))

	qr, _ := goqr.EncodeText(url, goqr.Medium)
	dark, runs := 0, 0
	for y := 0; y < qr.Size(); y++ {
		for x := 0; x < qr.Size(); x++ {
			if qr.Module(x, y) {
				dark++
				if x == 0 || !qr.Module(x-1, y) {
					runs++
				}
			}
		}
	}
	ms := reOp.FindAllStringSubmatch(string(data), -1)
	if len(ms) != runs {
		t.Fatalf("%d rectangles for %d runs of %d dark modules", len(ms), runs, dark)
	}
	w, h := p.Rect[2]-p.Rect[0], p.Rect[3]-p.Rect[1]
	if !bytes.HasPrefix(data, []byte("q\n1 g\n0 0 64 64 re f\n0 g\n")) {
		t.Errorf("the form does not start with a white background over all of it: %.40q", data)
	}
	module := math.Inf(1)
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, m := range ms {
		var v [4]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(m[i+1], 64)
		}
		module = min(module, v[3])
		minX, minY = min(minX, v[0]), min(minY, v[1])
		maxX, maxY = max(maxX, v[0]+v[2]), max(maxY, v[1]+v[3])
	}
	quiet := 4 * module * 0.99
	if minX < quiet || maxX > w-quiet || maxY > h-quiet {
		t.Errorf("modules span [%v %v %v %v] in %v×%v: no quiet zone of 4 modules (%v)", minX, minY, maxX, maxY, w, h, module)
	}
	if minY-capTop < quiet {
		t.Errorf("the code's bottom %v is within 4 modules of the caption's top %v", minY, capTop)
	}
	if bytes.Contains(data, []byte("/Image")) || bytes.Contains(data, []byte("BI")) {
		t.Error("the form draws an image")
	}
}

// TestOverlayPlacement: page and rectangle are taken as given.
func TestOverlayPlacement(t *testing.T) {
	s, err := qrstamp.New(url, qrstamp.Options{Page: 3, Rect: [4]float64{400, 700, 500, 800}})
	if err != nil {
		t.Fatal(err)
	}
	p, st, _, _ := overlay(t, s)
	if p.Page != 2 || p.Rect != [4]float64{400, 700, 500, 800} {
		t.Errorf("placed %+v", p)
	}
	if box := st.Dict["BBox"].(pdf.Array); box[2] != pdf.Real(100) || box[3] != pdf.Real(100) {
		t.Errorf("BBox %v, want the rectangle's size", box)
	}
	if s.URL() != url {
		t.Errorf("URL %q", s.URL())
	}
}
