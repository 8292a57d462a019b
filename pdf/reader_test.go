package pdf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func corpus(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("../testdata/corpus/*.pdf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	return files
}

func open(t testing.TB, path string) (*Reader, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r, data
}

// TestReadCorpus reads every object of every corpus file: each producer's
// xref form, object streams and the linearized layout.
func TestReadCorpus(t *testing.T) {
	for _, f := range corpus(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, _ := open(t, f)
			if _, _, err := r.Catalog(); err != nil {
				t.Fatal(err)
			}
			n, err := r.PageCount()
			if err != nil || n < 1 {
				t.Fatalf("page count %d: %v", n, err)
			}
			for i := 0; i < n; i++ {
				ref, d, err := r.Page(i)
				if err != nil {
					t.Fatalf("page %d: %v", i, err)
				}
				if d["Type"] != Name("Page") {
					t.Errorf("page %d (%v) has /Type %v", i, ref, d["Type"])
				}
			}
			objects := 0
			for _, s := range r.Sections() {
				entries, err := r.Entries(s)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					if e.Type == 0 {
						continue
					}
					o, err := r.Object(e.Ref)
					if err != nil {
						t.Fatalf("object %v: %v", e.Ref, err)
					}
					if st, ok := o.(*Stream); ok && !r.Encrypted() {
						if _, err := r.StreamData(st); err != nil && !isUnsupported(err) {
							t.Fatalf("stream %v: %v", e.Ref, err)
						}
					}
					objects++
				}
			}
			if objects < 5 {
				t.Fatalf("read only %d objects", objects)
			}
		})
	}
}

func isUnsupported(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("unsupported"))
}

// TestUpdateCorpus appends an update that replaces the catalog and adds an
// object, then asks qpdf whether the result is sound and keeps the xref kind.
func TestUpdateCorpus(t *testing.T) {
	for _, f := range corpus(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, data := open(t, f)
			if r.Encrypted() {
				return // covered by the signer's refusal test
			}
			cat, ref, err := r.Catalog()
			if err != nil {
				t.Fatal(err)
			}
			u := r.NewUpdate()
			note := u.Add(Dict{"Type": Name("Test"), "Text": TextString("ทดสอบ")})
			c := cat.Clone()
			c["TestNote"] = note
			u.Set(ref, c)
			upd, _, err := u.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			out := append(append([]byte(nil), data...), upd...)
			path := filepath.Join(t.TempDir(), "out.pdf")
			if err := os.WriteFile(path, out, 0o600); err != nil {
				t.Fatal(err)
			}
			if msg, err := exec.Command("qpdf", "--check", path).CombinedOutput(); err != nil {
				t.Fatalf("qpdf --check: %v\n%s", err, msg)
			}
			r2, err := NewReader(bytes.NewReader(out), int64(len(out)), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r2.XrefKind() != r.XrefKind() {
				t.Errorf("update wrote %v over %v", r2.XrefKind(), r.XrefKind())
			}
			cat2, _, err := r2.Catalog()
			if err != nil {
				t.Fatal(err)
			}
			nd, err := r2.Dict(cat2["TestNote"])
			if err != nil || nd == nil {
				t.Fatalf("new object not readable: %v", err)
			}
			if got := DecodeText(nd["Text"].(String).Bytes); got != "ทดสอบ" {
				t.Errorf("text round trip: %q", got)
			}
			if !bytes.Equal(out[:len(data)], data) {
				t.Error("earlier bytes changed")
			}
		})
	}
}
