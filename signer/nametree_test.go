package signer

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"esign/pdf"
	"esign/pdf/pdftest"
)

// treeDoc builds a file whose catalog names the tree at object 2 (the
// tree's nodes are objects 2 onward) and returns an update on it.
func treeDoc(t testing.TB, nodes ...string) *pdf.Update {
	t.Helper()
	objs := append([]string{"<</Type/Catalog/Names<</EmbeddedFiles 2 0 R>>>>"}, nodes...)
	data := pdftest.Build(objs...)
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.NewUpdate()
}

// flatten lists a tree's keys in order and checks every /Limits.
func flatten(t *testing.T, u *pdf.Update, o pdf.Object, isRoot bool) []string {
	t.Helper()
	tr := &nameTree{u: u}
	d, err := tr.dict(o)
	if err != nil || d == nil {
		t.Fatalf("node %v: %v", o, err)
	}
	var keys []string
	if kids, _ := tr.array(d["Kids"]); kids != nil {
		for _, k := range kids {
			keys = append(keys, flatten(t, u, k, false)...)
		}
	} else {
		names, _ := tr.array(d["Names"])
		for i := 0; i < len(names); i += 2 {
			keys = append(keys, string(names[i].(pdf.String).Bytes))
		}
	}
	lo, hi, ok := limits(d)
	switch {
	case isRoot && d["Limits"] != nil:
		t.Errorf("root node has /Limits")
	case !isRoot && (!ok || len(keys) == 0 || string(lo) != keys[0] || string(hi) != keys[len(keys)-1]):
		t.Errorf("node %v: /Limits %q..%q for keys %q", o, lo, hi, keys)
	}
	return keys
}

func TestNameTreeInsert(t *testing.T) {
	leafA := "<</Limits[(a.xml)(c.xml)]/Names[(a.xml) 10 0 R (c.xml) 11 0 R]>>"
	leafB := "<</Limits[(m.xml)(p.xml)]/Names[(m.xml) 12 0 R (p.xml) 13 0 R]>>"
	cases := []struct {
		name  string
		nodes []string
		add   []string
		want  []string
	}{
		{"flat", []string{"<</Names[(b.xml) 10 0 R (d.xml) 11 0 R]>>"}, []string{"c.xml"},
			[]string{"b.xml", "c.xml", "d.xml"}},
		{"flat, before all", []string{"<</Names[(b.xml) 10 0 R]>>"}, []string{"a.xml"},
			[]string{"a.xml", "b.xml"}},
		{"flat, name taken", []string{"<</Names[(t.xml) 10 0 R]>>"}, []string{"t.xml", "t.xml"},
			[]string{"t (2).xml", "t (3).xml", "t.xml"}},
		{"empty tree", []string{"<<>>"}, []string{"x.xml"}, []string{"x.xml"}},
		{"kids, into the first", []string{"<</Kids[3 0 R 4 0 R]>>", leafA, leafB}, []string{"b.xml"},
			[]string{"a.xml", "b.xml", "c.xml", "m.xml", "p.xml"}},
		{"kids, between leaves", []string{"<</Kids[3 0 R 4 0 R]>>", leafA, leafB}, []string{"e.xml"},
			[]string{"a.xml", "c.xml", "e.xml", "m.xml", "p.xml"}},
		{"kids, after all", []string{"<</Kids[3 0 R 4 0 R]>>", leafA, leafB}, []string{"z.xml"},
			[]string{"a.xml", "c.xml", "m.xml", "p.xml", "z.xml"}},
		{"kids, before all", []string{"<</Kids[3 0 R 4 0 R]>>", leafA, leafB}, []string{"0.xml"},
			[]string{"0.xml", "a.xml", "c.xml", "m.xml", "p.xml"}},
		{"two levels", []string{"<</Kids[3 0 R]>>", "<</Limits[(a.xml)(p.xml)]/Kids[4 0 R 5 0 R]>>", leafA, leafB},
			[]string{"q.xml"}, []string{"a.xml", "c.xml", "m.xml", "p.xml", "q.xml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := treeDoc(t, c.nodes...)
			root := pdf.Object(pdf.Ref{Num: 2})
			tr, err := readNameTree(u, root)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range c.add {
				if root, err = tr.insert(root, tr.uniqueKey(a), pdf.Integer(1)); err != nil {
					t.Fatal(err)
				}
			}
			if root != (pdf.Ref{Num: 2}) {
				t.Errorf("indirect root became %v", root)
			}
			got := flatten(t, u, root, true)
			if !slices.Equal(got, c.want) {
				t.Errorf("keys %q, want %q", got, c.want)
			}
		})
	}
}

func TestNameTreeHostile(t *testing.T) {
	cases := []struct {
		name  string
		nodes []string
		want  string
	}{
		{"loop", []string{"<</Kids[3 0 R]>>", "<</Kids[2 0 R]>>"}, "twice"},
		{"shared kid", []string{"<</Kids[3 0 R 3 0 R]>>", "<</Names[(a) 1]>>"}, "twice"},
		{"not a dictionary", []string{"42"}, "not a dictionary"},
		{"kids not an array", []string{"<</Kids 7>>"}, "not an array"},
		{"odd names", []string{"<</Names[(a) 1 (b)]>>"}, "pairs"},
		{"key not a string", []string{"<</Names[/a 1]>>"}, "not a string"},
	}
	// A chain deeper than the bound.
	var deep []string
	for i := 0; i < maxNameTreeDepth+2; i++ {
		deep = append(deep, "<</Kids["+itoa(i+3)+" 0 R]>>")
	}
	deep = append(deep, "<</Names[(a) 1]>>")
	cases = append(cases, struct {
		name  string
		nodes []string
		want  string
	}{"too deep", deep, "deeper"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := treeDoc(t, c.nodes...)
			_, err := readNameTree(u, pdf.Ref{Num: 2})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}

func itoa(i int) string { return string(pdf.AppendObject(nil, pdf.Integer(i))) }

// FuzzNameTree feeds hostile trees to the walker and, when it accepts
// one, inserts a key: neither may panic or run away, and an insertion
// into an accepted tree keeps the leaf it lands in sorted.
func FuzzNameTree(f *testing.F) {
	f.Add("<</Kids[3 0 R]>>", "<</Limits[(a)(c)]/Names[(a) 1 (c) 2]>>")
	f.Add("<</Names[(b) 1]>>", "null")
	f.Add("<</Kids[3 0 R 2 0 R]>>", "<</Kids[2 0 R]>>")
	f.Add("<</Kids[3 0 R]>>", "<</Kids 3 0 R>>")
	f.Fuzz(func(t *testing.T, root, kid string) {
		u := treeDoc(t, root, kid)
		tr, err := readNameTree(u, pdf.Ref{Num: 2})
		if err != nil {
			return
		}
		if _, err := tr.insert(pdf.Ref{Num: 2}, tr.uniqueKey("b"), pdf.Integer(9)); err != nil {
			return
		}
		if _, _, err := u.Bytes(); err != nil {
			t.Fatalf("update after insertion: %v", err)
		}
	})
}

func TestParsePDFAID(t *testing.T) {
	cases := []struct {
		name, xmp string
		part      int
		conf      string
		err       bool
	}{
		{"element", `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/"><pdfaid:part>2</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance></rdf:Description></rdf:RDF></x:xmpmeta>`, 2, "B", false},
		{"attribute", `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/" pdfaid:part="1" pdfaid:conformance="a"/></rdf:RDF>`, 1, "A", false},
		{"other prefix", `<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:id="http://www.aiim.org/pdfa/ns/id/"><id:part> 3 </id:part></rdf:Description></rdf:RDF>`, 3, "", false},
		{"wrong namespace", `<rdf:Description xmlns:pdfaid="http://example.com/"><pdfaid:part>1</pdfaid:part></rdf:Description>`, 0, "", false},
		{"no identification", `<x:xmpmeta xmlns:x="adobe:ns:meta/"/>`, 0, "", false},
		{"not a number", `<d xmlns:p="http://www.aiim.org/pdfa/ns/id/"><p:part>two</p:part></d>`, 0, "", true},
		{"garbage", "\x00\x01<<<", 0, "", true},
		{"truncated after the part", `<d xmlns:p="http://www.aiim.org/pdfa/ns/id/"><p:part>2</p:part><unclosed`, 2, "", false},
		{"with packet wrapper", "<?xpacket begin=\"\ufeff\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>" + `<d xmlns:p="http://www.aiim.org/pdfa/ns/id/" p:part="3"/><?xpacket end="w"?>`, 3, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := parsePDFAID([]byte(c.xmp))
			if (err != nil) != c.err {
				t.Fatalf("error %v, want error %v", err, c.err)
			}
			if err == nil && (id.Part != c.part || id.Conformance != c.conf) {
				t.Errorf("got part %d conformance %q, want %d %q", id.Part, id.Conformance, c.part, c.conf)
			}
		})
	}
}

// FuzzPDFAID: the reader of the input's XMP never panics and only ever
// reports a part in range.
func FuzzPDFAID(f *testing.F) {
	f.Add([]byte(`<d xmlns:p="http://www.aiim.org/pdfa/ns/id/"><p:part>2</p:part><p:conformance>B</p:conformance></d>`))
	f.Add([]byte(`<d xmlns:p="http://www.aiim.org/pdfa/ns/id/" p:part="3"/>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;&a;</x>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := parsePDFAID(data)
		if err == nil && (id.Part < 0 || id.Part > 99 || len(id.Conformance) > 8) {
			t.Fatalf("out of range: %+v", id)
		}
	})
}
