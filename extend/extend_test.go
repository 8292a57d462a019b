package extend_test

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"esign/api"
	"esign/extend"
	"esign/internal/extverify"
	"esign/pdf"
	"esign/signer"
	"esign/verify"
)

// TestExtendToLTA extends our own B-B and B-T files, a pdfsig
// (adbe.pkcs7.detached) file and a file with three signatures to B-LTA
// and to B-LT. pdfsig, qpdf, openssl cms and openssl ts accept every
// result and reject a tampered copy; our verifier reports every
// signature passed at the level expected.
func TestExtendToLTA(t *testing.T) {
	f := newFixture(t)
	nss := extverify.NSSDB(t, f.env.PKI.Root)
	memo := corpus(t, "memo-chromium.pdf")
	libre := corpus(t, "memo-libreoffice.pdf")
	transcript := corpus(t, "transcript-chromium.pdf")
	// The document timestamp Extend adds first to a B-B signature stands
	// for its signature timestamp (EN 319 142-1 §5.3, §6.3), so the
	// verifier counts it towards B-T and the file ends B-LTA.
	cases := []struct {
		name   string
		make   func(t *testing.T) []byte
		base   int // bytes of the unsigned original, where tampering goes
		level  signer.Level
		levels []string // of the signatures, oldest first
		docTS  int
	}{
		{"ours B-B", func(t *testing.T) []byte {
			return f.sign(t, memo, "dev-official", signer.Options{Level: signer.LevelB})
		}, len(memo), signer.LevelLTA, []string{verify.LevelLTA}, 2},
		{"ours B-T", func(t *testing.T) []byte {
			return f.sign(t, transcript, "dev-registrar", signer.Options{Level: signer.LevelT})
		}, len(transcript), signer.LevelLTA, []string{verify.LevelLTA}, 1},
		{"ours B-T to B-LT", func(t *testing.T) []byte {
			return f.sign(t, memo, "dev-official", signer.Options{Level: signer.LevelT})
		}, len(memo), signer.LevelLT, []string{verify.LevelLT}, 0},
		{"pdfsig adbe.pkcs7", func(t *testing.T) []byte {
			return f.pdfsigSign(t, memo, "Approval")
		}, len(memo), signer.LevelLTA, []string{verify.LevelNotETSI}, 2},
		{"three signatures", func(t *testing.T) []byte {
			doc := f.sign(t, libre, "dev-official", signer.Options{Level: signer.LevelB, Certify: 2})
			doc = f.sign(t, doc, "dev-director", signer.Options{Level: signer.LevelT})
			return f.pdfsigSign(t, doc, "Third")
		}, len(libre), signer.LevelLTA, []string{verify.LevelLTA, verify.LevelLTA, verify.LevelNotETSI}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.make(t)
			out, err := f.extend(t, in, c.level)
			if err != nil {
				t.Fatalf("extend: %v", err)
			}
			rep := f.verify(t, out)
			if rep.Document.Indication != verify.TotalPassed {
				t.Errorf("verifier: %s/%s: %s", rep.Document.Indication, rep.Document.SubIndication, rep.Document.Summary)
			}
			var levels []string
			for _, s := range rep.Signatures {
				if s.Kind == verify.KindSignature {
					levels = append(levels, s.Level)
				}
				if s.Indication != verify.TotalPassed {
					t.Errorf("%s %s: %s/%s %v", s.Kind, s.Field, s.Indication, s.SubIndication, s.Errors)
				}
			}
			if strings.Join(levels, ",") != strings.Join(c.levels, ",") {
				t.Errorf("levels %v, want %v", levels, c.levels)
			}
			if rep.Document.DocumentTimestampCount != c.docTS {
				t.Errorf("%d document timestamps, want %d", rep.Document.DocumentTimestampCount, c.docTS)
			}
			checkExternally(t, f, nss, out, len(c.levels), c.docTS)
			// The same tools must refuse a copy with a byte of the
			// original changed, or their approval means nothing.
			bad := append([]byte(nil), out...)
			bad[c.base/2] ^= 0x01
			path := filepath.Join(t.TempDir(), "tampered.pdf")
			os.WriteFile(path, bad, 0o644)
			for _, s := range extverify.PDFSig(t, nss, path) {
				if s.Signed && s.Valid {
					t.Errorf("pdfsig accepts tampered signature %s", s.Field)
				}
			}
			for _, s := range extverify.Signatures(t, bad) {
				if s.DocTS && extverify.OpenSSLTSVerify(t, s.Contents, crypto.SHA256, digest(crypto.SHA256, s.Signed), f.env.RootFile, "") == nil {
					t.Error("openssl ts accepts the document timestamp of a tampered file")
				}
			}
		})
	}
}

// checkExternally has qpdf, pdfsig, openssl cms and openssl ts check the
// file: every signature valid and trusted, every document timestamp
// verified over its range.
func checkExternally(t *testing.T, f *fixture, nss string, data []byte, sigs, docTS int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "extended.pdf")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := extverify.QPDFCheck(path); err != nil {
		t.Error(err)
	}
	var found []extverify.PDFSigSignature
	for _, s := range extverify.PDFSig(t, nss, path) {
		if s.Signed && !strings.HasPrefix(s.Field, "DocumentTimestamp") {
			found = append(found, s)
		}
	}
	if len(found) != sigs {
		t.Fatalf("pdfsig sees %d signatures, want %d: %+v", len(found), sigs, found)
	}
	for i, s := range found {
		if !s.Valid {
			t.Errorf("pdfsig: signature %s: %q", s.Field, s.Validation)
		}
		if !s.Trusted && !extverify.PDFSigSharedCertBug(found, i) {
			t.Errorf("pdfsig: signature %s: %q", s.Field, s.CertStatus)
		}
	}
	n := 0
	for _, s := range extverify.Signatures(t, data) {
		if !s.DocTS {
			if err := extverify.OpenSSLCMSVerify(t, s.Contents, s.Signed, f.env.RootFile); err != nil {
				t.Errorf("signature: %v", err)
			}
			continue
		}
		n++
		if err := extverify.OpenSSLTSVerify(t, s.Contents, crypto.SHA256, digest(crypto.SHA256, s.Signed), f.env.RootFile, ""); err != nil {
			t.Errorf("document timestamp %d: %v", n, err)
		}
	}
	if n != docTS {
		t.Errorf("%d document timestamps, want %d", n, docTS)
	}
}

// TestRenewal extends a B-LTA file again: the file then holds two
// document timestamps, both valid, and the DSS revision before the
// second holds validation data, with a /VRI entry, for the first one's
// TSA chain.
func TestRenewal(t *testing.T) {
	f := newFixture(t)
	nss := extverify.NSSDB(t, f.env.PKI.Root)
	lta := f.sign(t, corpus(t, "memo-chromium.pdf"), "dev-official", signer.Options{Level: signer.LevelLTA})
	out, err := f.extend(t, lta, signer.LevelLTA)
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	rep := f.verify(t, out)
	if rep.Document.Indication != verify.TotalPassed || rep.Document.DocumentTimestampCount != 2 {
		t.Fatalf("verifier: %s, %d document timestamps: %s", rep.Document.Indication, rep.Document.DocumentTimestampCount, rep.Document.Summary)
	}
	checkExternally(t, f, nss, out, 1, 2)

	sigs, err := signer.Signatures(context.Background(), bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	var ts []signer.SignatureInfo
	for _, s := range sigs {
		if s.DocTimestamp {
			ts = append(ts, s)
		}
	}
	if len(ts) != 2 {
		t.Fatalf("%d document timestamps", len(ts))
	}
	// The revision the second timestamp covers, less the timestamp's own.
	covered := out[:ts[1].End]
	prev := bytes.LastIndex(covered[:len(covered)-len("%%EOF\n")], []byte("%%EOF"))
	r, err := pdf.NewReader(bytes.NewReader(out[:prev+5]), int64(prev+5), nil)
	if err != nil {
		t.Fatal(err)
	}
	cat, _, _ := r.Catalog()
	dss, _ := r.Dict(cat["DSS"])
	vri, _ := r.Dict(dss["VRI"])
	entry, _ := r.Dict(vri[pdf.Name(ts[0].VRIKey())])
	if entry == nil {
		t.Fatalf("no /VRI entry %s for the first document timestamp before the second", ts[0].VRIKey())
	}
	ocsps, _ := r.Array(entry["OCSP"])
	crls, _ := r.Array(entry["CRL"])
	certs, _ := r.Array(entry["Cert"])
	if len(ocsps)+len(crls) == 0 || len(certs) == 0 {
		t.Errorf("/VRI of the first document timestamp: %d certificates, %d OCSP, %d CRL", len(certs), len(ocsps), len(crls))
	}
	if !hasCert(t, r, dss, ts[0].Signer.Raw) {
		t.Error("the DSS lacks the first document timestamp's TSA certificate")
	}
}

func hasCert(t *testing.T, r *pdf.Reader, dss pdf.Dict, raw []byte) bool {
	arr, _ := r.Array(dss["Certs"])
	for _, o := range arr {
		st, _ := r.Resolve(o)
		if s, ok := st.(*pdf.Stream); ok {
			if d, err := r.StreamData(s); err == nil && bytes.Equal(d, raw) {
				return true
			}
		}
	}
	return false
}

// TestRefusals: what must not be extended is refused, with the error the
// API turns into 422 not_extendable, 409 or 422 invalid/encrypted.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	memo := corpus(t, "memo-chromium.pdf")
	signed := f.sign(t, memo, "dev-official", signer.Options{Level: signer.LevelT})
	tampered := append([]byte(nil), signed...)
	tampered[len(memo)/2] ^= 0x01
	p1 := f.sign(t, memo, "dev-official", signer.Options{Certify: 1})
	cases := []struct {
		name    string
		in      []byte
		want    error
		reasons string
	}{
		{"tampered", tampered, extend.ErrNotExtendable, "HASH_FAILURE"},
		{"no signature", memo, extend.ErrNotExtendable, "no signature"},
		{"docmdp p1", p1, signer.ErrDocMDPForbids, ""},
		{"encrypted, unsigned", corpus(t, "memo-encrypted-aes256.pdf"), extend.ErrNotExtendable, "no signature"},
		{"not a pdf", []byte("hello"), signer.ErrInvalidPDF, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.ext.Extend(context.Background(), bytes.NewReader(c.in), int64(len(c.in)), "")
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			var ne *extend.NotExtendableError
			if c.reasons != "" && (!errors.As(err, &ne) || !strings.Contains(strings.Join(ne.Reasons, "\n"), c.reasons)) {
				t.Errorf("reasons %v, want one naming %q", ne, c.reasons)
			}
		})
	}
	// P=2 allows the DSS and a document timestamp.
	p2 := f.sign(t, memo, "dev-official", signer.Options{Certify: 2})
	out, err := f.extend(t, p2, "")
	if err != nil {
		t.Fatalf("extend a P=2 file: %v", err)
	}
	if rep := f.verify(t, out); rep.Document.Indication != verify.TotalPassed {
		t.Errorf("P=2 file extended: %s %s", rep.Document.Indication, rep.Document.Summary)
	}
	if _, err := f.ext.Extend(context.Background(), bytes.NewReader(signed), int64(len(signed)), signer.LevelT); !errors.Is(err, signer.ErrBadOptions) {
		t.Errorf("level B-T: %v, want ErrBadOptions", err)
	}
}

// TestDue decides renewal by the newest document timestamp's TSA
// certificate, or the signer's without one.
func TestDue(t *testing.T) {
	f := newFixture(t)
	memo := corpus(t, "memo-chromium.pdf")
	bt := f.sign(t, memo, "dev-official", signer.Options{Level: signer.LevelT})
	lta := f.sign(t, memo, "dev-official", signer.Options{Level: signer.LevelLTA})
	now := time.Now()
	for _, c := range []struct {
		name   string
		in     []byte
		within time.Duration
		due    bool
		what   string
	}{
		{"B-T, far", bt, 100 * 365 * 24 * time.Hour, true, "signer certificate"},
		{"B-T, near", bt, time.Hour, false, "signer certificate"},
		{"B-LTA, far", lta, 100 * 365 * 24 * time.Hour, true, "TSA certificate"},
		{"B-LTA, near", lta, time.Hour, false, "TSA certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sigs, err := signer.Signatures(context.Background(), bytes.NewReader(c.in), int64(len(c.in)))
			if err != nil {
				t.Fatal(err)
			}
			due, _, why := extend.Due(sigs, now, c.within)
			if due != c.due || !strings.Contains(why, c.what) {
				t.Errorf("Due = %v, %q; want %v naming %q", due, why, c.due, c.what)
			}
		})
	}
}

// TestHostileDSS: a DSS is an allowed change after a signature, so the
// verifier lets any DSS through; whatever it holds, extension succeeds
// or answers 4xx, never 5xx or a panic.
func TestHostileDSS(t *testing.T) {
	f := newFixture(t)
	bt := f.sign(t, corpus(t, "memo-chromium.pdf"), "dev-official", signer.Options{Level: signer.LevelT})
	cases := map[string]func(u *pdf.Update) pdf.Object{
		"not a dictionary":   func(u *pdf.Update) pdf.Object { return pdf.Integer(7) },
		"certs not an array": func(u *pdf.Update) pdf.Object { return pdf.Dict{"Certs": pdf.Integer(5)} },
		"certs of garbage": func(u *pdf.Update) pdf.Object {
			return pdf.Dict{"Certs": pdf.Array{u.Add(&pdf.Stream{Dict: pdf.Dict{}, Data: []byte("junk")}), pdf.Integer(3), pdf.Ref{Num: 9999}}}
		},
		"vri a string":       func(u *pdf.Update) pdf.Object { return pdf.Dict{"VRI": pdf.String{Bytes: []byte("x")}} },
		"vri a dangling ref": func(u *pdf.Update) pdf.Object { return pdf.Dict{"VRI": pdf.Ref{Num: 9998}} },
		"ocsps of a dictionary": func(u *pdf.Update) pdf.Object {
			return pdf.Dict{"OCSPs": pdf.Array{u.Add(pdf.Dict{"A": pdf.Integer(1)})}}
		},
	}
	for name, dss := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := pdf.NewReader(bytes.NewReader(bt), int64(len(bt)), nil)
			if err != nil {
				t.Fatal(err)
			}
			cat, catRef, _ := r.Catalog()
			u := r.NewUpdate()
			cat = cat.Clone()
			cat["DSS"] = u.Add(dss(u))
			u.Set(catRef, cat)
			upd, _, err := u.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			in := append(append([]byte(nil), bt...), upd...)
			_, err = f.ext.Extend(context.Background(), bytes.NewReader(in), int64(len(in)), "")
			if err == nil {
				return
			}
			t.Logf("refused: %v", err)
			if status, code := api.StatusOf(err); status < 400 || status >= 500 {
				var ne *extend.NotExtendableError
				if !errors.As(err, &ne) {
					t.Errorf("%v: %d %s", err, status, code)
				}
			}
		})
	}
}

// TestExtendEncrypted: an encrypted signed file is extended keeping its
// encryption, as signing keeps it: qpdf (with the password) checks it,
// pdfsig finds the signature valid, our verifier passes it at LTA, and
// the new revisions carry nothing in the clear. Without the password, or
// with a wrong one, it is refused before any TSA request.
func TestExtendEncrypted(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.pdf")
	if err := os.WriteFile(plain, corpus(t, "memo-chromium.pdf"), 0o644); err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(dir, "enc.pdf")
	// qpdf exits 3 for warnings; the file is written either way.
	if out, err := exec.Command("qpdf", "--encrypt", "user-pw", "owner-pw", "256", "--", plain, enc).CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("qpdf --encrypt: %v %s", err, out)
		}
	}
	in, err := os.ReadFile(enc)
	if err != nil {
		t.Fatal(err)
	}
	signed := f.sign(t, in, "dev-official", signer.Options{Level: signer.LevelT, Reason: "ลงนามเอกสารเข้ารหัส", Password: signer.Secret("user-pw")})

	ctx := context.Background()
	for _, c := range []struct {
		name     string
		password string
		want     error
	}{
		{"no password", "", signer.ErrPasswordRequired},
		{"wrong password", "nope", signer.ErrWrongPassword},
	} {
		_, err := f.ext.ExtendWith(ctx, bytes.NewReader(signed), int64(len(signed)), extend.Options{Password: signer.Secret(c.password)})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	res, err := f.ext.ExtendWith(ctx, bytes.NewReader(signed), int64(len(signed)), extend.Options{Level: signer.LevelLTA, Password: signer.Secret("user-pw")})
	if err != nil {
		t.Fatal(err)
	}
	out := write(t, res, signed)
	if bytes.Contains(out[len(signed):], []byte("esign Development")) {
		t.Error("the extension's revisions hold a certificate name in the clear: the DSS streams are not encrypted")
	}
	rep, err := verify.Verify(ctx, bytes.NewReader(out), int64(len(out)), verify.Config{Roots: f.roots, Password: []byte("user-pw")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Document.Indication != verify.TotalPassed || !rep.Document.Encrypted || rep.Document.DocumentTimestampCount != 1 ||
		rep.Signatures[0].Level != "PAdES-BASELINE-LTA" {
		t.Fatalf("our verifier: %s (%s), encrypted %v, %d document timestamps, level %s", rep.Document.Indication, rep.Document.Summary,
			rep.Document.Encrypted, rep.Document.DocumentTimestampCount, rep.Signatures[0].Level)
	}
	path := filepath.Join(dir, "extended.pdf")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("qpdf", "--check", "--password=user-pw", path).CombinedOutput(); err != nil {
		t.Errorf("qpdf --check: %v\n%s", err, b)
	}
	nss := extverify.NSSDBFromPEM(t, f.env.RootFile)
	b, _ := exec.Command("pdfsig", "-nssdir", nss, "-upw", "user-pw", path).CombinedOutput()
	if !strings.Contains(string(b), "Signature is Valid") {
		t.Errorf("pdfsig -upw: %s", b)
	}
	// One byte of the first signature's signed range changed: refused.
	tampered := bytes.Clone(out)
	tampered[len(in)/2] ^= 0x01
	if _, err := f.ext.ExtendWith(ctx, bytes.NewReader(tampered), int64(len(tampered)), extend.Options{Password: signer.Secret("user-pw")}); !errors.Is(err, extend.ErrNotExtendable) {
		t.Errorf("tampered encrypted file: %v, want ErrNotExtendable", err)
	}
}
