package verify_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"esign/devpki"
	"esign/signer"
	"esign/verify"
)

// pdfsigSigner is an NSS database holding a software key and a
// certificate from the dev CA, for poppler's pdfsig to sign with.
type pdfsigSigner struct {
	db   string
	cert *x509.Certificate
}

func newPDFSigSigner(t *testing.T, f *fixture, cn string) *pdfsigSigner {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	base := f.env.PKI.BaseURL
	cert, err := devpki.IssueCertificate(t.Context(), devpki.CertTemplate{
		Subject:               pkixName(cn),
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		OCSPServer:            []string{base + devpki.PathOCSP},
		IssuingCertificateURL: []string{base + devpki.PathIssuingCert},
		CRLDistributionPoints: []string{base + devpki.PathIssuingCRL},
	}, key.Public(), f.env.PKI.Issuing, f.issuingKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyPath := write("key.pem", "PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(key)))
	certPath := write("cert.pem", "CERTIFICATE", cert.Raw)
	chainPath := write("chain.pem", "CERTIFICATE", f.env.PKI.Issuing.Raw)
	p12 := filepath.Join(dir, "signer.p12")
	db := filepath.Join(dir, "nss")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	// Throwaway passwords of a throwaway test key.
	runCmd(t, "openssl", "pkcs12", "-export", "-inkey", keyPath, "-in", certPath, "-certfile", chainPath,
		"-name", "signer", "-passout", "pass:test", "-out", p12)
	runCmd(t, "certutil", "-N", "-d", "sql:"+db, "--empty-password")
	runCmd(t, "pk12util", "-i", p12, "-d", "sql:"+db, "-W", "test")
	return &pdfsigSigner{db: "sql:" + db, cert: cert}
}

// sign adds a signature in a new field with pdfsig -add-signature.
func (p *pdfsigSigner) sign(t *testing.T, in []byte, field string) []byte {
	t.Helper()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(src, in, 0o600); err != nil {
		t.Fatal(err)
	}
	runCmd(t, "pdfsig", "-add-signature", "-nssdir", p.db, "-nick", "signer", "-new-signature-field-name", field,
		"-reason", "ทดสอบ", src, dst)
	out, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runCmd(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestOtherTool verifies signatures poppler's pdfsig made
// (adbe.pkcs7.detached), alone and after one of ours.
func TestOtherTool(t *testing.T) {
	f := newFixture(t)
	ps := newPDFSigSigner(t, f, "นายป๊อปเปลอร์ ลงนาม")
	in := corpus(t, "memo-ghostscript.pdf")
	alone := ps.sign(t, in, "PopplerSig")
	ours := sign(t, f.env.Signer, in, f.env.Creds["dev-director"], signer.Options{Level: signer.LevelLT})
	after := ps.sign(t, ours, "PopplerSig")

	t.Run("alone online", func(t *testing.T) {
		rep := run(t, alone, f.online())
		checkDoc(t, rep, verify.TotalPassed, 1)
		checkSig(t, rep, 0, want{indication: verify.TotalPassed, level: verify.LevelNotETSI, covers: boolp(true)})
		s := rep.Signatures[0]
		if s.Field != "PopplerSig" || s.SubFilter != "adbe.pkcs7.detached" || s.Signer.CommonName != "นายป๊อปเปลอร์ ลงนาม" || s.Reason != "ทดสอบ" {
			t.Errorf("field %q, sub-filter %q, signer %q, reason %q", s.Field, s.SubFilter, s.Signer.CommonName, s.Reason)
		}
	})
	t.Run("alone offline", func(t *testing.T) {
		rep := run(t, alone, f.offline())
		checkDoc(t, rep, verify.Indeterminate, 1)
		checkSig(t, rep, 0, want{indication: verify.Indeterminate, sub: verify.TryLater, level: verify.LevelNotETSI})
	})
	t.Run("after ours", func(t *testing.T) {
		rep := run(t, after, f.online())
		checkDoc(t, rep, verify.TotalPassed, 2)
		checkSig(t, rep, 0, want{indication: verify.TotalPassed, level: verify.LevelLT, covers: boolp(false)})
		checkSig(t, rep, 1, want{indication: verify.TotalPassed, level: verify.LevelNotETSI, covers: boolp(true)})
		if len(rep.Signatures[0].AllowedChanges) == 0 {
			t.Errorf("the second signature is not listed as an allowed change:\n%s", dump(rep))
		}
	})
	t.Run("byte flipped", func(t *testing.T) {
		off := int64(bytes.Index(alone, []byte("stream\n")) + len("stream\n") + 20)
		rep := run(t, flip(alone, off, 0x01), f.online())
		checkSig(t, rep, 0, want{indication: verify.TotalFailed, sub: verify.HashFailure, level: verify.LevelNotETSI})
	})
}

// TestDocMDP checks certification levels against later signatures.
func TestDocMDP(t *testing.T) {
	f := newFixture(t)
	in := corpus(t, "memo-chromium.pdf")
	ps := newPDFSigSigner(t, f, "นายลงนาม ทีหลัง")
	certify := func(p int) []byte {
		return sign(t, f.env.Signer, in, f.env.Creds["dev-official"], signer.Options{Level: signer.LevelLT, Certify: p})
	}
	p1, p2 := certify(1), certify(2)
	// Our signer refuses to sign a P=1 document; poppler does not check.
	p1Signed := ps.sign(t, p1, "Later")
	p2Signed := sign(t, f.env.Signer, p2, f.env.Creds["dev-director"], signer.Options{Level: signer.LevelLT})
	p1DSS := appendUpdate(t, p1, nil)

	cases := []struct {
		name string
		data []byte
		sigs []want
		doc  verify.Indication
	}{
		{name: "P=1 alone", data: p1,
			sigs: []want{{indication: verify.TotalPassed, level: verify.LevelLT, cert: "1"}}, doc: verify.TotalPassed},
		{name: "P=1 with a later signature", data: p1Signed,
			sigs: []want{
				{indication: verify.TotalFailed, sub: verify.FormatFailure, level: verify.LevelLT, cert: "1", modified: true, modKind: "signature"},
				{indication: verify.TotalPassed, level: verify.LevelNotETSI},
			}, doc: verify.TotalFailed},
		{name: "P=1 with an empty update", data: p1DSS,
			sigs: []want{{indication: verify.TotalPassed, level: verify.LevelLT, cert: "1", covers: boolp(false)}}, doc: verify.TotalPassed},
		{name: "P=2 with a later signature", data: p2Signed,
			sigs: []want{
				{indication: verify.TotalPassed, level: verify.LevelLT, cert: "2"},
				{indication: verify.TotalPassed, level: verify.LevelLT},
			}, doc: verify.TotalPassed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := run(t, tc.data, f.online())
			checkDoc(t, rep, tc.doc, len(tc.sigs))
			for i, w := range tc.sigs {
				checkSig(t, rep, i, w)
			}
			if rep.Document.Certification != tc.sigs[0].cert {
				t.Errorf("document certification %q", rep.Document.Certification)
			}
		})
	}
	t.Run("violation is marked", func(t *testing.T) {
		rep := run(t, p1Signed, f.online())
		for _, m := range rep.Signatures[0].Modifications {
			if m.Violation != "docmdp" {
				t.Errorf("modification %+v is not marked as a DocMDP violation", m)
			}
		}
	})
}
