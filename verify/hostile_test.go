package verify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"esign/pdf"
	"esign/pdf/pdftest"
	"esign/verify"
)

const minimalPage = "<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>"

// TestUnsignedAndBroken covers input without signatures and input that is
// no PDF at all.
func TestUnsignedAndBroken(t *testing.T) {
	files, err := filepath.Glob("../testdata/corpus/*.pdf")
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v", err)
	}
	for _, path := range files {
		t.Run("unsigned "+filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rep := run(t, data, verify.Config{})
			if rep.Document.Indication != verify.Indeterminate || rep.Document.SignatureCount != 0 || len(rep.Signatures) != 0 ||
				rep.Document.SubIndication != verify.SignedDataNotFound {
				t.Errorf("unsigned file: %s", dump(rep))
			}
			if strings.Contains(path, "encrypted") != rep.Document.Encrypted {
				t.Errorf("encrypted %v", rep.Document.Encrypted)
			}
			if rep.Document.Revisions < 1 || rep.Document.TrailingBytes != 0 {
				t.Errorf("revisions %d, trailing bytes %d", rep.Document.Revisions, rep.Document.TrailingBytes)
			}
		})
	}
	memo := corpus(t, "memo-chromium.pdf")
	update := corpus(t, "memo-incremental-update.pdf")
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte(strings.Repeat("this is not a PDF\n", 200))},
		{"truncated", memo[:len(memo)*6/10]},
		{"header only", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")},
		{"startxref past the end", []byte("%PDF-1.7\nstartxref\n999999\n%%EOF\n")},
		{"broken xref", bytes.Replace(memo, []byte("\nxref\n"), []byte("\nxerf\n"), 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := verify.Verify(context.Background(), bytes.NewReader(tc.data), int64(len(tc.data)), verify.Config{})
			if !errors.Is(err, verify.ErrNotPDF) || rep != nil {
				t.Errorf("got report %v, error %v; want an error wrapping ErrNotPDF", rep != nil, err)
			}
		})
	}
	t.Run("revisions and trailing bytes", func(t *testing.T) {
		rep := run(t, append(append([]byte(nil), update...), "junk"...), verify.Config{})
		if rep.Document.Revisions != 2 || rep.Document.TrailingBytes != 4 {
			t.Errorf("revisions %d, trailing bytes %d", rep.Document.Revisions, rep.Document.TrailingBytes)
		}
	})
}

// sigField returns the bodies of a signature field (object n) and its
// signature dictionary (object n+1).
func sigField(n int, sig string) (string, string) {
	return fmt.Sprintf("<</FT/Sig/T(S%d)/V %d 0 R/Type/Annot/Subtype/Widget/Rect[0 0 0 0]>>", n, n+1), sig
}

// TestHostile feeds input built to exhaust a verifier and checks that it
// answers with findings, within its bounds.
func TestHostile(t *testing.T) {
	fakeSig := "<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/ETSI.CAdES.detached/ByteRange[0 10 20 5]/Contents<3082>>>"

	many := func(n int) []byte {
		objs := []string{"", "<</Type/Pages/Kids[3 0 R]/Count 1>>", minimalPage}
		var refs []string
		for i := 0; i < n; i++ {
			num := len(objs) + 1
			f, s := sigField(num, fakeSig)
			objs = append(objs, f, s)
			refs = append(refs, fmt.Sprintf("%d 0 R", num))
		}
		objs[0] = "<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[" + strings.Join(refs, " ") + "]>>>>"
		return pdftest.Build(objs...)
	}
	bomb := pdftest.Deflate(make([]byte, 8<<20))
	cases := []struct {
		name  string
		data  []byte
		cfg   verify.Config
		check func(t *testing.T, rep *verify.Report)
	}{
		{
			name: "thousands of signatures",
			data: many(3000),
			cfg:  verify.Config{MaxSignatures: 50},
			check: func(t *testing.T, rep *verify.Report) {
				if rep.Document.SignatureCount != 3000 || rep.Document.Indication == verify.TotalPassed {
					t.Fatalf("document %+v", rep.Document)
				}
				skipped := 0
				for _, s := range rep.Signatures {
					if s.Indication == verify.TotalPassed {
						t.Fatalf("a fake signature passed: %+v", s)
					}
					if s.SubIndication == verify.Generic {
						skipped++
					}
				}
				if skipped != 2950 {
					t.Errorf("%d signatures skipped, want 2950", skipped)
				}
			},
		},
		{
			name: "field tree loop",
			data: pdftest.Build("<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]>>>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", minimalPage,
				"<</T(a)/Kids[5 0 R]>>", "<</T(b)/Kids[4 0 R 5 0 R]/Parent 4 0 R>>"),
			check: func(t *testing.T, rep *verify.Report) {
				if rep.Document.SignatureCount != 0 {
					t.Errorf("document %+v", rep.Document)
				}
			},
		},
		{
			name: "reference loop as signature value",
			data: pdftest.Build("<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]>>>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", minimalPage,
				"<</FT/Sig/T(S)/V 5 0 R>>", "6 0 R", "5 0 R"),
			check: func(t *testing.T, rep *verify.Report) {
				if rep.Document.Indication == verify.TotalPassed {
					t.Errorf("document %+v", rep.Document)
				}
			},
		},
		{
			name: "deep nesting in the signature dictionary",
			data: pdftest.Build("<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]>>>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", minimalPage,
				"<</FT/Sig/T(S)/V 5 0 R>>", "<</Type/Sig/SubFilter/ETSI.CAdES.detached/Reference"+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+">>"),
			check: func(t *testing.T, rep *verify.Report) {
				if rep.Document.Indication == verify.TotalPassed {
					t.Errorf("document %+v", rep.Document)
				}
			},
		},
		{
			name: "huge byte range",
			data: pdftest.Build("<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]>>>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", minimalPage,
				"<</FT/Sig/T(S)/V 5 0 R>>", "<</Type/Sig/SubFilter/ETSI.CAdES.detached/ByteRange[0 9000000000000000000 9000000000000000001 5]/Contents<00>>>"),
			check: func(t *testing.T, rep *verify.Report) {
				if s := rep.Signatures[0]; s.Indication != verify.TotalFailed || s.SubIndication != verify.FormatFailure {
					t.Errorf("signature %+v", s)
				}
			},
		},
		{
			name: "huge declared stream length in the DSS",
			data: pdftest.Build("<</Type/Catalog/Pages 2 0 R/DSS<</Certs[4 0 R]>>>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", minimalPage,
				"<</Length 999999999999999>>stream\nabc\nendstream"),
			check: func(t *testing.T, rep *verify.Report) {
				if rep.Document.SignatureCount != 0 {
					t.Errorf("document %+v", rep.Document)
				}
			},
		},
		{
			name: "decompression bomb in the DSS",
			data: pdftest.Build("<</Type/Catalog/Pages 2 0 R/DSS<</Certs[4 0 R]/OCSPs[4 0 R 4 0 R]>>>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", minimalPage,
				fmt.Sprintf("<</Length %d/Filter/FlateDecode>>stream\n%s\nendstream", len(bomb), bomb)),
			cfg: verify.Config{ReaderOptions: &pdf.ReaderOptions{MaxDecodedBytes: 1 << 20}},
			check: func(t *testing.T, rep *verify.Report) {
				if !hasWarning(rep.Document.Warnings, "DSS stream cannot be decoded") {
					t.Errorf("no warning about the bomb: %+v", rep.Document)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := run(t, tc.data, tc.cfg)
			tc.check(t, rep)
		})
	}
}

// FuzzVerify feeds arbitrary bytes to Verify: it must return a report or
// an error, never panic or hang. Seeds: testdata/fuzz/FuzzVerify and small
// built documents.
func FuzzVerify(f *testing.F) {
	fakeSig := "<</Type/Sig/SubFilter/ETSI.CAdES.detached/ByteRange[0 10 20 5]/Contents<3082>/M(D:20260101000000Z)>>"
	f.Add(pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", minimalPage))
	fld, sig := sigField(4, fakeSig)
	f.Add(pdftest.Build("<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]>>>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", minimalPage, fld, sig))
	cfg := verify.Config{MaxSignatures: 4, ReaderOptions: &pdf.ReaderOptions{MaxDecodedBytes: 1 << 20, MaxObjectBytes: 1 << 20}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := verify.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), cfg)
		if err != nil {
			if rep != nil {
				t.Fatal("a report with an error")
			}
			return
		}
		switch rep.Document.Indication {
		case verify.TotalPassed, verify.TotalFailed, verify.Indeterminate:
		default:
			t.Fatalf("document indication %q", rep.Document.Indication)
		}
		if rep.Document.SignatureCount != len(rep.Signatures) {
			t.Fatalf("signature count %d, %d listed", rep.Document.SignatureCount, len(rep.Signatures))
		}
		for _, s := range rep.Signatures {
			// Without trust anchors nothing can pass.
			if s.Indication == verify.TotalPassed {
				t.Fatalf("signature %q passed without trust anchors", s.Field)
			}
		}
	})
}
