package signopts

import (
	"errors"
	"strings"
	"testing"

	"esign/signer"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		ok   bool
		want func(*Request) bool
	}{
		{"defaults", map[string]string{"signer": "s"}, true, func(r *Request) bool {
			return r.Options.Level == signer.LevelLT && r.Options.Certify == 0 && r.Placement == nil && !r.Visible
		}},
		{"no signer", map[string]string{"level": "B-B"}, false, nil},
		{"level", map[string]string{"signer": "s", "level": "B-LTA"}, true, func(r *Request) bool { return r.Options.Level == signer.LevelLTA }},
		{"bad level", map[string]string{"signer": "s", "level": "B-Z"}, false, nil},
		{"certify", map[string]string{"signer": "s", "certify": "2"}, true, func(r *Request) bool { return r.Options.Certify == 2 }},
		{"certify none", map[string]string{"signer": "s", "certify": "none"}, true, func(r *Request) bool { return r.Options.Certify == 0 }},
		{"bad certify", map[string]string{"signer": "s", "certify": "4"}, false, nil},
		{"lock", map[string]string{"signer": "s", "lock": "true"}, true, func(r *Request) bool { return r.Options.LockField }},
		{"bad lock", map[string]string{"signer": "s", "lock": "yes"}, false, nil},
		{"long reason", map[string]string{"signer": "s", "reason": strings.Repeat("ก", 400)}, false, nil},
		{"metadata", map[string]string{"signer": "s", "doc_number": "ศธ 0201/1234", "urgency": "ด่วนที่สุด"}, true, func(r *Request) bool {
			return r.Metadata.Number == "ศธ 0201/1234" && r.Metadata.Urgency == "ด่วนที่สุด"
		}},
		{"metadata not UTF-8", map[string]string{"signer": "s", "subject": "\xff"}, false, nil},
		{"placement", map[string]string{"signer": "s", "page": "2", "rect": "350,60,550,140"}, true, func(r *Request) bool {
			return r.Placement != nil && r.Placement.Page == 2 && r.Placement.Rect == [4]float64{350, 60, 550, 140} && r.NeedsAppearance()
		}},
		{"placement JSON", map[string]string{"signer": "s", "page": "1", "rect": "[10, 10, 200, 80]"}, true, func(r *Request) bool {
			return r.Placement.Rect == [4]float64{10, 10, 200, 80}
		}},
		{"rect without page", map[string]string{"signer": "s", "rect": "1,1,100,100"}, false, nil},
		{"page zero", map[string]string{"signer": "s", "page": "0", "rect": "1,1,100,100"}, false, nil},
		{"rect reversed", map[string]string{"signer": "s", "page": "1", "rect": "100,1,1,100"}, false, nil},
		{"rect too small", map[string]string{"signer": "s", "page": "1", "rect": "1,1,2,2"}, false, nil},
		{"visible without place", map[string]string{"signer": "s", "visible": "true"}, false, nil},
		{"visible in field", map[string]string{"signer": "s", "visible": "1", "field": "Registrar"}, true, func(r *Request) bool {
			return r.Visible && r.Options.Field == "Registrar"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(func(k string) string { return tc.in[k] }, nil)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, signer.ErrBadOptions) {
				t.Errorf("error %v is neither ErrInvalid nor signer.ErrBadOptions: the API would answer 500", err)
			}
			if tc.want != nil && !tc.want(r) {
				t.Errorf("parsed %+v", r)
			}
		})
	}
}

func TestImage(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := Parse(get(map[string]string{"signer": "s"}), []byte("png")); err == nil {
		t.Error("an image with no field and no page was accepted")
	}
	r, err := Parse(get(map[string]string{"signer": "s", "field": "f"}), []byte("png"))
	if err != nil || r.Placement == nil || r.Placement.Page != 0 {
		t.Errorf("image into a field: %+v %v", r, err)
	}
	if _, err := Parse(get(map[string]string{"signer": "s", "field": "f"}), make([]byte, MaxImage+1)); err == nil {
		t.Error("an image over MaxImage was accepted")
	}
}

// FuzzParse: any option values give a request or an error the API maps
// to 400, never a panic.
func FuzzParse(f *testing.F) {
	f.Add("B-LT", "none", "350,60,550,140", "1", "false", "false")
	f.Add("B-LTA", "3", "[1,2,300,400]", "2", "true", "1")
	f.Add("", "", "1e308,1,2,3", "-1", "", "true")
	f.Fuzz(func(t *testing.T, level, certify, rect, page, visible, lock string) {
		m := map[string]string{"signer": "s", "level": level, "certify": certify, "rect": rect, "page": page, "visible": visible, "lock": lock}
		r, err := Parse(func(k string) string { return m[k] }, nil)
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, signer.ErrBadOptions) {
				t.Fatalf("error %v would be a 500", err)
			}
			return
		}
		if r.Placement != nil && (r.Placement.Page < 1 || signer.CheckRect(r.Placement.Rect) != nil) {
			t.Fatalf("accepted a placement that cannot be drawn: %+v", r.Placement)
		}
	})
}
