package pdf

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// TestLinkScanner checks what the reference scanner reports against what
// the parser makes of the same object.
func TestLinkScanner(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  string
		want []Link
	}{
		{"dictionary", "<</Type/Page/Contents 5 0 R/Resources<</Font<</F1 7 0 R>>>>/Parent 2 0 R>>",
			[]Link{{"Contents", Ref{5, 0}}, {"Resources", Ref{7, 0}}, {"Parent", Ref{2, 0}}}},
		{"array", "[1 0 R 2 3 R]", []Link{{"", Ref{1, 0}}, {"", Ref{2, 3}}}},
		{"reference-like text in strings", "<</T(4 0 R)/U<34203020>/V (a\\) 5 0 R) /W 6 0 R>>",
			[]Link{{"W", Ref{6, 0}}}},
		{"names and numbers between", "<</A /B 7 /C 8 0 R /D [9 0 R 10] /E 11>>",
			[]Link{{"C", Ref{8, 0}}, {"D", Ref{9, 0}}}},
		{"comment", "<</A 1 0 R % 2 0 R\n/B 3 0 R>>", []Link{{"A", Ref{1, 0}}, {"B", Ref{3, 0}}}},
		{"a real number is no object number", "[1.0 0 R 2 0.0 R 3 0 R]", []Link{{"", Ref{3, 0}}}},
		{"stream dictionary", "<</Length 4 0 R/Filter/FlateDecode>>stream\n1 0 R", []Link{{"Length", Ref{4, 0}}}},
		{"bare reference", "12 0 R", []Link{{"", Ref{12, 0}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := linkScanner{buf: []byte(tc.obj), complete: true}
			s.scan()
			if !reflect.DeepEqual(s.links, tc.want) && !(len(s.links) == 0 && len(tc.want) == 0) {
				t.Errorf("links %v, want %v", s.links, tc.want)
			}
		})
	}
}

// TestLinksMatchParser checks Links on every object of every corpus file
// against the references the parser finds in the same object.
func TestLinksMatchParser(t *testing.T) {
	compared := 0
	for _, path := range corpus(t) {
		r, _ := open(t, path)
		if r == nil {
			continue
		}
		for n := uint32(1); n < r.NextObjectNumber(); n++ {
			e, ok, err := r.lookup(n)
			if err != nil || !ok || e.Type == 0 {
				continue
			}
			ref := Ref{Num: n, Gen: e.RefGen()}
			o, err := r.Object(ref)
			if err != nil || o == nil {
				continue
			}
			links, found, err := r.Links(ref)
			if err != nil || !found {
				t.Errorf("%s: object %v: links found %v, %v", path, ref, found, err)
				continue
			}
			var got, want []Ref
			for _, l := range links {
				got = append(got, l.To)
			}
			collectRefs(o, &want)
			compared++
			if fmt.Sprint(sortedRefs(got)) != fmt.Sprint(sortedRefs(want)) {
				t.Errorf("%s: object %v: Links %v, parser %v", path, ref, got, want)
			}
		}
	}
	if compared < 1000 {
		t.Errorf("only %d objects compared", compared)
	}
	t.Logf("%d objects compared", compared)
}

func collectRefs(o Object, out *[]Ref) {
	switch x := o.(type) {
	case Ref:
		*out = append(*out, x)
	case Array:
		for _, e := range x {
			collectRefs(e, out)
		}
	case Dict:
		for _, e := range x {
			collectRefs(e, out)
		}
	case *Stream:
		collectRefs(x.Dict, out)
	}
}

func sortedRefs(r []Ref) []Ref {
	out := append([]Ref(nil), r...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].Num < out[i].Num || out[j].Num == out[i].Num && out[j].Gen < out[i].Gen {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestContentPaints(t *testing.T) {
	for _, tc := range []struct {
		content string
		want    bool
	}{
		{"", false},
		{"q 1 0 0 1 0 0 cm Q", false},
		{"0 0 10 10 re n", false},
		{"0 0 10 10 re f", true},
		{"BT /F1 12 Tf (x) Tj ET", true},
		{"BT /F1 12 Tf [(a) 2 (b)] TJ ET", true},
		{"/Im1 Do", true},
		{"(f S Tj) pop <666653> /Tj", false},
		{"% f S\n0 0 m", false},
		{"/Sh sh", true},
		{"BI /W 1 /H 1 ID x EI", true},
	} {
		if got := ContentPaints([]byte(tc.content)); got != tc.want {
			t.Errorf("ContentPaints(%q) = %v, want %v", tc.content, got, tc.want)
		}
	}
}

// FuzzLinkScanner feeds arbitrary bytes to the reference scanner and the
// painting check: they must end, and every reference reported must be
// spelled "N G R" in the input.
func FuzzLinkScanner(f *testing.F) {
	f.Add([]byte("<</A 1 0 R/B[2 0 R (3 0 R)]>>"))
	f.Add([]byte("BT (x) Tj ET"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := linkScanner{buf: data, complete: true}
		s.scan()
		for _, l := range s.links {
			if !bytes.Contains(data, []byte(fmt.Sprintf("%d", l.To.Num))) {
				t.Fatalf("reference %v is not in the input", l.To)
			}
		}
		ContentPaints(data)
	})
}
