package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"esign/pdf/pdftest"
)

// hostileAllocBound is what reading one of the hostile files may allocate.
const hostileAllocBound = 16 << 20

func TestHostileInput(t *testing.T) {
	bomb := pdftest.Deflate(make([]byte, 64<<20))
	cases := []struct {
		name string
		file []byte
		// check runs after NewReader succeeded; it must return an error.
		check func(r *Reader) error
		want  error
	}{
		{name: "empty", file: nil, want: ErrNotPDF},
		{name: "garbage", file: []byte(strings.Repeat("garbage ", 100)), want: ErrNotPDF},
		{name: "truncated", file: pdftest.Build("<</Type/Catalog>>")[:40], want: ErrNotPDF},
		{name: "startxref past end", file: []byte("%PDF-1.7\nstartxref\n999999\n%%EOF\n"), want: ErrXref},
		{
			name: "prev loop",
			file: func() []byte {
				b := pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[]/Count 0>>")
				x := bytes.LastIndex(b, []byte("\nxref\n")) + 1
				return bytes.Replace(b, []byte("/Root 1 0 R>>"), fmt.Appendf(nil, "/Root 1 0 R/Prev %d>>", x), 1)
			}(),
			want: ErrXref,
		},
		{
			name: "deep nesting",
			file: pdftest.Build("<</Type/Catalog/X " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + ">>"),
			check: func(r *Reader) error {
				_, _, err := r.Catalog()
				return err
			},
			want: ErrSyntax,
		},
		{
			name: "reference loop",
			file: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "3 0 R", "2 0 R"),
			check: func(r *Reader) error {
				_, err := r.Resolve(Ref{Num: 2})
				return err
			},
			want: ErrSyntax,
		},
		{
			name: "page tree loop",
			file: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Pages/Kids[2 0 R]/Count 1>>"),
			check: func(r *Reader) error {
				_, _, err := r.Page(0)
				return err
			},
			want: ErrSyntax,
		},
		{
			name: "page past the last",
			file: pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 2 0 R>>"),
			check: func(r *Reader) error {
				_, _, err := r.Page(1 << 31)
				return err
			},
			want: ErrNoPage,
		},
		{
			name: "decompression bomb",
			file: pdftest.Build("<</Type/Catalog>>", fmt.Sprintf("<</Length %d/Filter/FlateDecode>>\nstream\n%s\nendstream", len(bomb), bomb)),
			check: func(r *Reader) error {
				o, err := r.Object(Ref{Num: 2})
				if err != nil {
					return err
				}
				r.opts.MaxDecodedBytes = 1 << 20
				_, err = r.StreamData(o.(*Stream))
				return err
			},
			want: ErrTooLarge,
		},
		{
			// A few bytes that ask for PNG rows of 64 MiB, twice compressed:
			// the predictor must not allocate what the data cannot fill.
			name: "predictor rows larger than the data",
			file: func() []byte {
				b := pdftest.Build("<</Type/Catalog>>")
				x := bytes.LastIndex(b, []byte("\nxref\n")) + 1
				rows := pdftest.Deflate(pdftest.Deflate([]byte{2, 0, 0, 0, 0, 0, 0, 0}))
				xs := fmt.Sprintf("9 0 obj\n<</Type/XRef/Size 10/W[1 4 2]/Root 1 0 R/Filter[/FlateDecode/FlateDecode]"+
					"/DecodeParms[null<</Predictor 12/Columns 1048576/Colors 32/BitsPerComponent 16>>]/Length %d>>\nstream\n%s\nendstream\nendobj\n", len(rows), rows)
				out := append(append([]byte(nil), b[:x]...), xs...)
				return append(out, fmt.Sprintf("startxref\n%d\n%%%%EOF\n", x)...)
			}(),
			want: ErrSyntax,
		},
		{
			name: "huge declared length",
			file: pdftest.Build("<</Type/Catalog>>", "<</Length 99999999999>>\nstream\nabc\nendstream"),
			check: func(r *Reader) error {
				o, err := r.Object(Ref{Num: 2})
				if err != nil {
					return err
				}
				if st := o.(*Stream); st.Length != 3 {
					return fmt.Errorf("length %d, want 3 found by endstream", st.Length)
				}
				return ErrTooLarge // the length was recovered; report the expected class
			},
			want: ErrTooLarge,
		},
		{
			name: "unterminated string",
			file: pdftest.Build("<</Type/Catalog/T (" + strings.Repeat("a", 10000)),
			check: func(r *Reader) error {
				_, _, err := r.Catalog()
				return err
			},
			want: ErrSyntax,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r, err := NewReader(bytes.NewReader(c.file), int64(len(c.file)), nil)
			if err == nil {
				if c.check == nil {
					t.Fatalf("NewReader accepted the file")
				}
				err = c.check(r)
			}
			runtime.ReadMemStats(&after)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			// None of these files holds anything worth a large allocation.
			if got := after.TotalAlloc - before.TotalAlloc; got > hostileAllocBound {
				t.Errorf("reading allocated %d MiB, more than %d MiB", got>>20, hostileAllocBound>>20)
			}
		})
	}
}

func TestParseObjects(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		{"<</A 1 0 R/B[1 2.5 -3 (x\\)y) <41 42>]/C true/D null>>", "<</A 1 0 R/B [1 2.5 -3 (x\\)y) <4142>]/C true>>"},
		{"/Name#20With#23Escapes", "/Name#20With#23Escapes"},
		{"(a\\101\\n(nested))", "(aA\\n\\(nested\\))"},
		{"[1 0 R 2]", "[1 0 R 2]"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			p := &parser{buf: []byte(c.in), complete: true}
			o, err := p.object()
			if err != nil {
				t.Fatal(err)
			}
			got := string(AppendObject(nil, o))
			want := strings.ReplaceAll(c.want, "/B [", "/B[")
			if strings.ReplaceAll(got, " ", "") != strings.ReplaceAll(want, " ", "") {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestTextStringRoundTrip(t *testing.T) {
	for _, s := range []string{"Signature1", "นางสาวสมศรี ใจดี", "ผู้อำนวยการกองกลาง", ""} {
		if got := DecodeText(TextString(s).Bytes); got != s {
			t.Errorf("%q round trip gave %q", s, got)
		}
	}
}

// FuzzReader feeds arbitrary bytes through every reader entry point a
// verifier uses; it must return errors, never panic or loop.
func FuzzReader(f *testing.F) {
	// Seeds stay small (testdata/fuzz/FuzzReader holds qpdf-made files with
	// a table, an xref stream and a linearized layout, and hand-made ones
	// with filter chains and predictors, table subsections and /Prev, an
	// xref stream with /Index over an object stream, a hybrid /XRefStm
	// file, an indirect /Length and a wrong startxref): the fuzzer slows to
	// a crawl minimising inputs the size of the corpus files.
	f.Add(pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 2 0 R>>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), &ReaderOptions{MaxDecodedBytes: 8 << 20})
		if err != nil {
			return
		}
		r.Catalog()
		if n, err := r.PageCount(); err == nil && n > 0 {
			r.Page(n - 1)
		}
		for _, s := range r.Sections() {
			entries, err := r.Entries(s)
			if err != nil {
				continue
			}
			for i, e := range entries {
				if i > 2000 {
					break
				}
				o, err := r.Object(e.Ref)
				if st, ok := o.(*Stream); ok && err == nil {
					r.StreamData(st)
				}
			}
		}
	})
}
