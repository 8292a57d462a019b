package appearance

import (
	"bytes"
	"errors"
	"math"
	"os"
	"testing"

	"esign/pdf"
	"esign/signer"
)

func TestTextForm(t *testing.T) {
	in, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	r, err := pdf.NewReader(bytes.NewReader(in), int64(len(in)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	ref, err := TextForm(u, nil, []string{"ตรวจสอบเอกสาร / Verify"}, 64, 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := u.Get(ref)
	st := o.(*pdf.Stream)
	if box := st.Dict["BBox"].(pdf.Array); box[2] != pdf.Real(64) || box[3] != pdf.Real(10) {
		t.Errorf("BBox %v", box)
	}
	fonts := st.Dict["Resources"].(pdf.Dict)["Font"].(pdf.Dict)
	f0, _ := u.Get(fonts["F1"].(pdf.Ref))
	if f0.(pdf.Dict)["Subtype"] != pdf.Name("Type0") || f0.(pdf.Dict)["ToUnicode"] == nil {
		t.Errorf("font %v: want an embedded Type 0 font with /ToUnicode", f0)
	}
	for _, c := range []struct {
		name       string
		lines      []string
		w, h, size float64
	}{
		{"no text", nil, 64, 10, 10},
		{"empty box", []string{"x"}, 0, 10, 10},
		{"NaN size", []string{"x"}, 64, 10, math.NaN()},
		{"huge box", []string{"x"}, 1e9, 10, 10},
	} {
		if _, err := TextForm(u, nil, c.lines, c.w, c.h, c.size); !errors.Is(err, signer.ErrBadOptions) {
			t.Errorf("%s: error %v, want ErrBadOptions", c.name, err)
		}
	}
}
