package verify_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"esign/pdf"
	"esign/signer"
	"esign/verify"
)

// prepared is a file with an empty signature dictionary whose ByteRange
// is set and whose /Contents waits for a CMS.
type prepared struct {
	file     []byte
	contents pdf.Hole
}

// prepare adds a signature field with subFilter and a /Contents hole to in.
func prepare(t *testing.T, in []byte, subFilter, field string) prepared {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(in), int64(len(in)), nil)
	if err != nil {
		t.Fatal(err)
	}
	u := r.NewUpdate()
	sigRef := u.Add(pdf.Dict{
		"Type": pdf.Name("Sig"), "Filter": pdf.Name("Adobe.PPKLite"), "SubFilter": pdf.Name(subFilter),
		"ByteRange": u.HoleObject("ByteRange", 60), "Contents": u.HoleObject("Contents", 2*12000+2),
		"M": pdf.TextString(pdf.FormatDate(time.Now())),
	})
	pageRef, pg := page0(t, r)
	widget := u.Add(pdf.Dict{
		"FT": pdf.Name("Sig"), "T": pdf.TextString(field), "V": sigRef, "Type": pdf.Name("Annot"),
		"Subtype": pdf.Name("Widget"), "Rect": pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)},
		"P": pageRef, "F": pdf.Integer(132),
	})
	pg = pg.Clone()
	annots, _ := r.Array(pg["Annots"])
	pg["Annots"] = append(append(pdf.Array{}, annots...), widget)
	u.Set(pageRef, pg)
	cat, catRef, _ := r.Catalog()
	cat = cat.Clone()
	cat["AcroForm"] = u.Add(pdf.Dict{"Fields": pdf.Array{widget}, "SigFlags": pdf.Integer(3)})
	u.Set(catRef, cat)
	upd, holes, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	base := int64(len(in))
	c, br := holes["Contents"], holes["ByteRange"]
	end := c.Offset + int64(c.Width)
	text := fmt.Appendf(nil, "[0 %d %d %d]", c.Offset, end, base+int64(len(upd))-end)
	text = append(text, bytes.Repeat([]byte(" "), br.Width-len(text))...)
	if err := pdf.PatchHole(upd, base, br, text); err != nil {
		t.Fatal(err)
	}
	return prepared{file: append(append([]byte(nil), in...), upd...), contents: c}
}

// signed returns the bytes the signature covers.
func (p prepared) signed() []byte {
	end := p.contents.Offset + int64(p.contents.Width)
	return append(append([]byte(nil), p.file[:p.contents.Offset]...), p.file[end:]...)
}

// fill puts der into /Contents.
func (p prepared) fill(t *testing.T, der []byte) []byte {
	t.Helper()
	buf := bytes.Repeat([]byte("0"), p.contents.Width)
	buf[0], buf[len(buf)-1] = '<', '>'
	if 2*len(der)+2 > len(buf) {
		t.Fatalf("CMS of %d bytes does not fit", len(der))
	}
	hex.Encode(buf[1:], der)
	out := append([]byte(nil), p.file...)
	copy(out[p.contents.Offset:], buf)
	return out
}

// opensslSign makes a CMS SignedData over content with OpenSSL, detached
// or with the content encapsulated.
func opensslSign(t *testing.T, cred signer.Credential, content []byte, detached bool) []byte {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, blocks ...*pem.Block) string {
		var b bytes.Buffer
		for _, bl := range blocks {
			pem.Encode(&b, bl)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := write("key.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(cred.Signer))})
	cert := write("cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: cred.Chain[0].Raw})
	chain := write("chain.pem", &pem.Block{Type: "CERTIFICATE", Bytes: cred.Chain[1].Raw})
	in := filepath.Join(dir, "content")
	if err := os.WriteFile(in, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sig.der")
	args := []string{"cms", "-sign", "-binary", "-md", "sha256", "-in", in, "-signer", cert, "-inkey", key,
		"-certfile", chain, "-outform", "DER", "-out", out}
	if !detached {
		args = append(args, "-nodetach")
	}
	if b, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl cms: %v\n%s", err, b)
	}
	return must(os.ReadFile(out))
}

// TestOpenSSLSignatures verifies adbe.pkcs7.detached and adbe.pkcs7.sha1
// signatures whose CMS OpenSSL made.
func TestOpenSSLSignatures(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	cred := f.issueLeaf(t, "นายโอเพนเอสเอสแอล ลงนาม", now.Add(-time.Minute), now.Add(time.Hour), nil)
	in := corpus(t, "transcript-libreoffice-pdfa3b.pdf")

	det := prepare(t, in, "adbe.pkcs7.detached", "Detached")
	detached := det.fill(t, opensslSign(t, cred, det.signed(), true))
	s1 := prepare(t, in, "adbe.pkcs7.sha1", "SHA1")
	digest := sha1.Sum(s1.signed())
	sha1File := s1.fill(t, opensslSign(t, cred, digest[:], false))
	wrongDigest := s1.fill(t, opensslSign(t, cred, make([]byte, 20), false))
	notDetached := det.fill(t, opensslSign(t, cred, []byte("encapsulated"), false))

	for _, tc := range []struct {
		name string
		data []byte
		w    want
	}{
		{"adbe.pkcs7.detached", detached, want{indication: verify.TotalPassed, level: verify.LevelNotETSI, covers: boolp(true)}},
		{"adbe.pkcs7.sha1", sha1File, want{indication: verify.TotalPassed, level: verify.LevelNotETSI, covers: boolp(true)}},
		{"adbe.pkcs7.sha1 over other bytes", wrongDigest, want{indication: verify.TotalFailed, sub: verify.HashFailure, level: verify.LevelNotETSI}},
		{"detached sub-filter with encapsulated content", notDetached, want{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelNotETSI}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := run(t, tc.data, f.online())
			checkDoc(t, rep, tc.w.indication, 1)
			checkSig(t, rep, 0, tc.w)
		})
	}
}

// TestFormFillAndLocks fills form fields after a signature whose field
// locks one of them (FieldMDP).
func TestFormFillAndLocks(t *testing.T) {
	f := newFixture(t)
	base := corpus(t, "memo-chromium.pdf")
	// A form: two text fields and an empty signature field locking "Name".
	form := appendUpdate(t, base, func(r *pdf.Reader, u *pdf.Update) {
		pageRef, pg := page0(t, r)
		rect := pdf.Array{pdf.Integer(50), pdf.Integer(50), pdf.Integer(250), pdf.Integer(70)}
		text := func(name string) pdf.Ref {
			return u.Add(pdf.Dict{"FT": pdf.Name("Tx"), "T": pdf.TextString(name), "V": pdf.TextString(""),
				"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "Rect": rect, "P": pageRef})
		}
		name, other := text("Name"), text("Other")
		sig := u.Add(pdf.Dict{"FT": pdf.Name("Sig"), "T": pdf.TextString("Approval"), "Type": pdf.Name("Annot"),
			"Subtype": pdf.Name("Widget"), "Rect": pdf.Array{pdf.Integer(0), pdf.Integer(0), pdf.Integer(0), pdf.Integer(0)}, "P": pageRef,
			"Lock": pdf.Dict{"Type": pdf.Name("SigFieldLock"), "Action": pdf.Name("Include"), "Fields": pdf.Array{pdf.TextString("Name")}}})
		pg = pg.Clone()
		pg["Annots"] = pdf.Array{name, other, sig}
		u.Set(pageRef, pg)
		cat, catRef, _ := r.Catalog()
		cat = cat.Clone()
		cat["AcroForm"] = u.Add(pdf.Dict{"Fields": pdf.Array{name, other, sig}})
		u.Set(catRef, cat)
	})
	signed := sign(t, f.env.Signer, form, f.env.Creds["dev-director"], signer.Options{Level: signer.LevelLT, Field: "Approval"})
	fill := func(field, value string) []byte {
		return appendUpdate(t, signed, func(r *pdf.Reader, u *pdf.Update) {
			cat, _, _ := r.Catalog()
			acro, _ := r.Dict(cat["AcroForm"])
			fields, _ := r.Array(acro["Fields"])
			for _, fo := range fields {
				fd, _ := r.Dict(fo)
				if t, _ := fd["T"].(pdf.String); string(t.Bytes) == field {
					fd = fd.Clone()
					fd["V"] = pdf.TextString(value)
					u.Set(fo.(pdf.Ref), fd)
				}
			}
		})
	}
	t.Run("unlocked field filled", func(t *testing.T) {
		rep := run(t, fill("Other", "ข้อความ"), f.offline())
		checkDoc(t, rep, verify.TotalPassed, 1)
		checkSig(t, rep, 0, want{indication: verify.TotalPassed, level: verify.LevelLT, covers: boolp(false)})
		s := rep.Signatures[0]
		if len(s.AllowedChanges) != 1 || s.AllowedChanges[0].Kind != "form-fill" || s.AllowedChanges[0].Field != "Other" {
			t.Errorf("allowed changes %+v", s.AllowedChanges)
		}
		if len(s.FieldLock) != 1 || s.FieldLock[0] != "Name" {
			t.Errorf("field lock %v", s.FieldLock)
		}
	})
	t.Run("locked field filled", func(t *testing.T) {
		rep := run(t, fill("Name", "นายแก้ไข ภายหลัง"), f.offline())
		checkDoc(t, rep, verify.TotalFailed, 1)
		checkSig(t, rep, 0, want{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, modified: true, modKind: "form-fill"})
		if m := rep.Signatures[0].Modifications[0]; m.Violation != "fieldmdp" || m.Field != "Name" {
			t.Errorf("modification %+v", m)
		}
	})
	t.Run("DocMDP P=1 forbids form filling", func(t *testing.T) {
		p1 := sign(t, f.env.Signer, form, f.env.Creds["dev-director"], signer.Options{Level: signer.LevelLT, Field: "Approval", Certify: 1})
		filled := appendUpdate(t, p1, func(r *pdf.Reader, u *pdf.Update) {
			cat, _, _ := r.Catalog()
			acro, _ := r.Dict(cat["AcroForm"])
			fields, _ := r.Array(acro["Fields"])
			fd, _ := r.Dict(fields[1])
			fd = fd.Clone()
			fd["V"] = pdf.TextString("x")
			u.Set(fields[1].(pdf.Ref), fd)
		})
		rep := run(t, filled, f.offline())
		checkSig(t, rep, 0, want{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, modified: true, modKind: "form-fill", cert: "1"})
	})
	t.Run("annotations need P=3", func(t *testing.T) {
		annotate := func(data []byte) []byte {
			return appendUpdate(t, data, func(r *pdf.Reader, u *pdf.Update) {
				ref, pg := page0(t, r)
				pg = pg.Clone()
				annots, _ := r.Array(pg["Annots"])
				note := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Text"),
					"Rect": pdf.Array{pdf.Integer(10), pdf.Integer(10), pdf.Integer(30), pdf.Integer(30)}, "Contents": pdf.TextString("ตรวจแล้ว")})
				pg["Annots"] = append(append(pdf.Array{}, annots...), note)
				u.Set(ref, pg)
			})
		}
		for _, p := range []int{2, 3} {
			cert := sign(t, f.env.Signer, base, f.env.Creds["dev-official"], signer.Options{Level: signer.LevelLT, Certify: p})
			rep := run(t, annotate(cert), f.offline())
			w := want{indication: verify.TotalPassed, level: verify.LevelLT, cert: fmt.Sprint(p)}
			if p == 2 {
				w = want{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, cert: "2", modified: true, modKind: "annotation-added"}
			}
			checkSig(t, rep, 0, w)
		}
	})
}
