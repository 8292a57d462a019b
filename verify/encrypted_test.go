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

	"esign/appearance"
	"esign/internal/extverify"
	"esign/pdf"
	"esign/pdf/pdftest"
	"esign/qrstamp"
	"esign/signer"
	"esign/verify"
)

// pdfsigPassword is the pdfsig option that opens e's files.
func pdfsigPassword(e pdftest.Encryption) []string {
	if e.User == "" {
		return nil
	}
	return []string{"-upw", e.User}
}

// structuralOffset is a byte in every signature's range that qpdf
// --check cannot miss: the highest digit of the cross-reference entry of
// page 1's content stream, an object no update replaces. Inputs with an
// xref stream get a byte in the middle of that stream instead.
func structuralOffset(t *testing.T, data []byte, pw string) int64 {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), &pdf.ReaderOptions{Password: []byte(pw)})
	if err != nil {
		t.Fatal(err)
	}
	_, pg, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	c := pg["Contents"]
	if a, ok := c.(pdf.Array); ok {
		c = a[0]
	}
	ref, _ := c.(pdf.Ref)
	o, _ := r.Resolve(c)
	st, ok := o.(*pdf.Stream)
	if !ok {
		t.Fatalf("page contents %T", o)
	}
	if i := bytes.LastIndex(data, []byte("\nxref")); i >= 0 && ref.Num > 0 {
		var first, count int
		hdr := data[i+len("\nxref"):]
		if n, _ := fmt.Fscan(bytes.NewReader(hdr), &first, &count); n == 2 && int(ref.Num) >= first && int(ref.Num) < first+count {
			start := i + len("\nxref") + bytes.Index(hdr, []byte(fmt.Sprintf("%d %d", first, count))) + len(fmt.Sprintf("%d %d", first, count))
			for data[start] == '\r' || data[start] == '\n' || data[start] == ' ' {
				start++
			}
			return int64(start + 20*(int(ref.Num)-first))
		}
	}
	return st.Offset + st.Length/2
}

// TestEncryptedSignLevels signs files qpdf encrypted, at every revision
// of the standard handler, at every level, with a visible Thai
// appearance, a certification, an attachment and a QR code among them.
// qpdf --check (with the password), pdfsig and our verifier accept each;
// a byte flipped inside the signed range makes all three fail.
func TestEncryptedSignLevels(t *testing.T) {
	f := newFixture(t)
	nss := extverify.NSSDB(t, f.env.PKI.Root)
	plain := corpus(t, "memo-libreoffice.pdf")
	stamp, err := qrstamp.New("https://verify.example.go.th/d/Hq3v1yS0cWJm2x8ZpL4dKA", qrstamp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	levels := []struct {
		level signer.Level
		opts  signer.Options
	}{
		{signer.LevelB, signer.Options{Appearance: &appearance.Thai{Rect: [4]float64{320, 80, 540, 170}}}},
		{signer.LevelT, signer.Options{Certify: 2}},
		{signer.LevelLT, signer.Options{
			Attachments: []signer.Attachment{{Name: "memo.xml", MIME: "application/xml", Data: []byte("<memo>ลับ</memo>"), Description: "บันทึก"}},
			Overlays:    []signer.Overlay{stamp},
		}},
		{signer.LevelLTA, signer.Options{Appearance: &appearance.Thai{Rect: [4]float64{320, 80, 540, 170}}}},
	}
	for _, e := range pdftest.Encryptions {
		enc := pdftest.QPDF(t, plain, e)
		for _, lv := range levels {
			t.Run(e.Name+"/"+string(lv.level), func(t *testing.T) {
				opts := lv.opts
				opts.Level, opts.Reason, opts.Password = lv.level, "อนุมัติ", signer.Secret(e.User)
				data := sign(t, f.env.Signer, enc, f.env.Creds["dev-official"], opts)
				count := 1
				if lv.level == signer.LevelLTA {
					count = 2
				}
				cfg := f.online()
				cfg.Password = []byte(e.User)
				rep := run(t, data, cfg)
				checkDoc(t, rep, verify.TotalPassed, count)
				if !rep.Document.Encrypted || rep.Document.Encryption == "" {
					t.Errorf("encrypted %v, encryption %q", rep.Document.Encrypted, rep.Document.Encryption)
				}
				if rep.Signatures[0].Reason != "อนุมัติ" {
					t.Errorf("reason read as %q", rep.Signatures[0].Reason)
				}
				path := filepath.Join(t.TempDir(), "signed.pdf")
				if err := os.WriteFile(path, data, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := extverify.QPDFCheck(path, "--password="+e.User); err != nil {
					t.Error(err)
				}
				sigs := extverify.PDFSig(t, nss, path, pdfsigPassword(e)...)
				if len(sigs) != count {
					t.Errorf("pdfsig sees %d signatures, want %d", len(sigs), count)
				}
				for _, s := range sigs {
					// Poppler 22.12 cannot validate document timestamps
					// (see checkExternally in the signer's tests).
					if s.Signed && !strings.HasPrefix(s.Field, "DocumentTimestamp") && (!s.Valid || !s.Trusted) {
						t.Errorf("pdfsig %s: %q / %q", s.Field, s.Validation, s.CertStatus)
					}
				}

				bad := flip(data, structuralOffset(t, enc, e.User), 0x01)
				rep = run(t, bad, cfg)
				if rep.Document.Indication == verify.TotalPassed || rep.Signatures[0].Indication != verify.TotalFailed {
					t.Errorf("a flipped byte: document %s, signature %s", rep.Document.Indication, rep.Signatures[0].Indication)
				}
				bpath := filepath.Join(t.TempDir(), "tampered.pdf")
				if err := os.WriteFile(bpath, bad, 0o600); err != nil {
					t.Fatal(err)
				}
				if extverify.QPDFCheck(bpath, "--password="+e.User) == nil {
					t.Error("qpdf --check passes a file with a flipped byte")
				}
				sigs = extverify.PDFSig(t, nss, bpath, pdfsigPassword(e)...)
				if len(sigs) == 0 {
					t.Error("pdfsig sees no signature in the tampered file")
				}
				for _, s := range sigs {
					if s.Valid {
						t.Errorf("pdfsig accepts tampered signature %s", s.Field)
					}
				}
			})
		}
	}
}

// TestEncryptedOtherTool: poppler's pdfsig signs a qpdf-encrypted file;
// our verifier passes it, and then our B-LT signature on top of it.
func TestEncryptedOtherTool(t *testing.T) {
	f := newFixture(t)
	ps := newPDFSigSigner(t, f, "นายป๊อปเปลอร์ ลงนาม")
	plain := corpus(t, "memo-ghostscript.pdf")
	for _, e := range pdftest.Encryptions {
		if e.User != "" {
			continue // pdfsig -add-signature takes no password
		}
		t.Run(e.Name, func(t *testing.T) {
			enc := pdftest.QPDF(t, plain, e)
			theirs := ps.Sign(t, enc, "PopplerSig")
			rep := run(t, theirs, f.online())
			checkDoc(t, rep, verify.TotalPassed, 1)
			checkSig(t, rep, 0, want{indication: verify.TotalPassed, level: verify.LevelNotETSI, covers: boolp(true)})
			both := sign(t, f.env.Signer, theirs, f.env.Creds["dev-director"], signer.Options{Level: signer.LevelLT})
			rep = run(t, both, f.online())
			checkDoc(t, rep, verify.TotalPassed, 2)
			checkSig(t, rep, 1, want{indication: verify.TotalPassed, level: verify.LevelLT, covers: boolp(true)})
			// And poppler's encrypted update after our B-LT with its DSS:
			// the change analysis compares decrypted objects.
			ours := sign(t, f.env.Signer, enc, f.env.Creds["dev-director"], signer.Options{Level: signer.LevelLT, Certify: 2})
			after := ps.Sign(t, ours, "PopplerSig")
			rep = run(t, after, f.online())
			checkDoc(t, rep, verify.TotalPassed, 2)
			checkSig(t, rep, 0, want{indication: verify.TotalPassed, level: verify.LevelLT, covers: boolp(false), cert: "2"})
			checkSig(t, rep, 1, want{indication: verify.TotalPassed, level: verify.LevelNotETSI, covers: boolp(true)})
		})
	}
}

// TestEncryptedPasswords: the verifier tells a missing password from a
// wrong one, and the owner password opens as well as the user's.
func TestEncryptedPasswords(t *testing.T) {
	plain := corpus(t, "memo-libreoffice.pdf")
	e := pdftest.Encryption{Name: "R6-user", User: "usr", Owner: "own", Args: []string{"256"}}
	enc := pdftest.QPDF(t, plain, e)
	for _, c := range []struct {
		pw   string
		want error
	}{{"", verify.ErrPasswordRequired}, {"bad", verify.ErrWrongPassword}, {"usr", nil}, {"own", nil}} {
		t.Run(fmt.Sprintf("password %q", c.pw), func(t *testing.T) {
			_, err := verify.Verify(context.Background(), bytes.NewReader(enc), int64(len(enc)), verify.Config{Password: []byte(c.pw)})
			if !errors.Is(err, c.want) || (c.want != nil && errors.Is(err, verify.ErrNotPDF)) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
}

// TestEncryptedCorpus signs the shared corpus's AES-256 file at B-LT and
// verifies it.
func TestEncryptedCorpus(t *testing.T) {
	f := newFixture(t)
	data := sign(t, f.env.Signer, corpus(t, "memo-encrypted-aes256.pdf"), f.env.Creds["dev-official"], signer.Options{Level: signer.LevelLT})
	rep := run(t, data, f.offline())
	checkDoc(t, rep, verify.TotalPassed, 1)
	if rep.Document.Encryption != "Standard R6 AES-256" {
		t.Errorf("encryption %q", rep.Document.Encryption)
	}
}

// TestEncryptedChanges: the change analysis works on decrypted objects. A
// later encrypted update that rewrites objects with the same values is
// harmless; one that changes a page's content after a P=1 certification
// is found and named.
func TestEncryptedChanges(t *testing.T) {
	f := newFixture(t)
	for _, e := range pdftest.Encryptions {
		if e.User != "" {
			continue
		}
		t.Run(e.Name, func(t *testing.T) {
			enc := pdftest.QPDF(t, corpus(t, "memo-chromium.pdf"), e)
			signed := sign(t, f.env.Signer, enc, f.env.Creds["dev-official"], signer.Options{Level: signer.LevelLT, Certify: 1})
			// The same page and its content stream again, re-encrypted with
			// new IVs: other bytes, the same values.
			same := appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
				ref, pg := page0(t, r)
				u.Set(ref, pg)
				if cref, ok := pg["Contents"].(pdf.Ref); ok {
					o, _ := r.Resolve(cref)
					st := o.(*pdf.Stream)
					raw, err := r.RawStream(st)
					if err != nil {
						t.Fatal(err)
					}
					u.Set(cref, &pdf.Stream{Dict: st.Dict, Data: raw})
				}
			})
			rep := run(t, same, f.online())
			checkDoc(t, rep, verify.TotalPassed, 1)
			changed := appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
				ref, pg := page0(t, r)
				pg = pg.Clone()
				pg["Contents"] = u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: []byte("BT /F1 24 Tf 72 72 Td (forged) Tj ET")})
				u.Set(ref, pg)
			})
			rep = run(t, changed, f.online())
			checkSig(t, rep, 0, want{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, cert: "1", modified: true})
		})
	}
}
