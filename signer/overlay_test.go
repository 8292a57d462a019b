package signer

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"esign/pdf"
	"esign/pdf/pdftest"
)

// box is an overlay of a 10×10 form at rect on page.
type box struct {
	page int
	rect [4]float64
}

func (b box) Overlay(_ context.Context, u *pdf.Update) (Placed, error) {
	ref := u.Add(&pdf.Stream{Dict: pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
		"BBox": pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(10), pdf.Integer(10)},
	}, Data: []byte("0 0 10 10 re f")})
	return Placed{Page: b.page, Rect: b.rect, XObject: ref}, nil
}

// TestPaintOverlayResources: a page that inherits its resources from
// /Pages, and two pages sharing one indirect resource dictionary, each
// get their own direct copy with the mark added; what they shared is not
// changed, and the old contents are wrapped in q … Q.
func TestPaintOverlayResources(t *testing.T) {
	data := pdftest.Build(
		"<</Type/Catalog/Pages 2 0 R>>",
		"<</Type/Pages/Kids[3 0 R 4 0 R 5 0 R]/Count 3/Resources<</Font<</F1 9 0 R>>>>>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Contents 6 0 R>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Resources 7 0 R/Contents[6 0 R 6 0 R]>>",
		"<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Resources 7 0 R>>",
		"<</Length 8>>\nstream\n1 0 0 cm\nendstream",
		"<</XObject<</EsignMark1 8 0 R>>/Font<</F2 9 0 R>>>>",
		"<</Type/XObject/Subtype/Form/BBox[0 0 1 1]/Length 0>>\nstream\n\nendstream",
		"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
	)
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	f, err := openForm(u)
	if err != nil {
		t.Fatal(err)
	}
	rect := [4]float64{20, 30, 60, 50}
	if err := drawOverlays(context.Background(), f, []Overlay{box{0, rect}, box{1, rect}}); err != nil {
		t.Fatal(err)
	}
	page := func(n uint32) pdf.Dict {
		o, _ := u.Get(pdf.Ref{Num: n})
		return o.(pdf.Dict)
	}
	// Page 1 inherited its fonts: now they are its own, with the mark.
	res1, ok := page(3)["Resources"].(pdf.Dict)
	if !ok {
		t.Fatalf("page 1 /Resources %v is not direct", page(3)["Resources"])
	}
	if res1["Font"].(pdf.Dict)["F1"] == nil || res1["XObject"].(pdf.Dict)["EsignMark1"] == nil {
		t.Errorf("page 1 resources %v", res1)
	}
	c1 := page(3)["Contents"].(pdf.Array)
	if len(c1) != 3 || c1[1] != (pdf.Ref{Num: 6}) {
		t.Fatalf("page 1 /Contents %v", c1)
	}
	first, _ := u.Get(c1[0].(pdf.Ref))
	last, _ := u.Get(c1[2].(pdf.Ref))
	if string(first.(*pdf.Stream).Data) != "q\n" || string(last.(*pdf.Stream).Data) != "Q\nq /Artifact BMC 4 0 0 2 20 30 cm /EsignMark1 Do EMC Q\n" {
		t.Errorf("page 1 wrapping %q … %q", first.(*pdf.Stream).Data, last.(*pdf.Stream).Data)
	}
	// Page 2 shares object 7, which already has an EsignMark1.
	res2, ok := page(4)["Resources"].(pdf.Dict)
	if !ok {
		t.Fatalf("page 2 /Resources %v is not direct", page(4)["Resources"])
	}
	xo := res2["XObject"].(pdf.Dict)
	if xo["EsignMark1"] != (pdf.Ref{Num: 8}) || xo["EsignMark2"] == nil {
		t.Errorf("page 2 XObjects %v: the old name must stay, the mark get a new one", xo)
	}
	if c2 := page(4)["Contents"].(pdf.Array); len(c2) != 4 {
		t.Errorf("page 2 /Contents %v", c2)
	}
	// Nothing shared was touched: the pages node, object 7 and page 3.
	for _, n := range []uint32{2, 5, 7} {
		o, _ := u.Get(pdf.Ref{Num: n})
		orig, _ := r.Object(pdf.Ref{Num: n})
		if !reflect.DeepEqual(o, orig) {
			t.Errorf("object %d changed: %v", n, o)
		}
	}
	// A page that does not exist is the caller's mistake.
	if err := drawOverlays(context.Background(), f, []Overlay{box{3, rect}}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("page 4 of 3: %v, want ErrBadOptions", err)
	}
	if err := drawOverlays(context.Background(), f, []Overlay{box{0, [4]float64{5, 5, 5, 9}}}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("empty rectangle: %v, want ErrBadOptions", err)
	}
}
