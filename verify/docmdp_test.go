package verify_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"
	"time"

	"esign/devpki"
	"esign/internal/extverify"
	"esign/signer"
	"esign/verify"
)

// newPDFSigSigner makes a software key with a certificate from the dev CA,
// for poppler's pdfsig to sign with.
func newPDFSigSigner(t *testing.T, f *fixture, cn string) *extverify.PDFSigSigner {
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
	return extverify.NewPDFSigSigner(t, key, cert, f.env.PKI.Issuing)
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
	alone := ps.Sign(t, in, "PopplerSig")
	ours := sign(t, f.env.Signer, in, f.env.Creds["dev-director"], signer.Options{Level: signer.LevelLT})
	after := ps.Sign(t, ours, "PopplerSig")

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
	p1Signed := ps.Sign(t, p1, "Later")
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
