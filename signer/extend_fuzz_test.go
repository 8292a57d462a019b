package signer_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"testing"
	"time"

	"esign/signer"
)

// FuzzSignatures feeds signer.Signatures, which reads the signatures of
// any uploaded file for extension and renewal, with mutated PDFs, signed
// ones among the seeds: it must return an error or a consistent list,
// never panic or run away.
func FuzzSignatures(f *testing.F) {
	// Small seeds: the fuzzer mutates large inputs too slowly to learn.
	tiny := tinyPDF()
	f.Add(tiny)
	f.Add(softSign(f, tiny))
	f.Add(softSign(f, softSign(f, tiny)))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sigs, err := signer.Signatures(ctx, bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for i, s := range sigs {
			if len(s.Contents) == 0 || s.Signer == nil || len(s.Chains) == 0 || s.Chains[0][0] != s.Signer {
				t.Fatalf("signature %d: inconsistent %+v", i, s)
			}
			if i > 0 && s.End < sigs[i-1].End {
				t.Fatalf("signatures out of order")
			}
			if len(s.VRIKey()) != 40 {
				t.Fatalf("VRI key %q", s.VRIKey())
			}
		}
	})
}

// softSign makes a B-B signature with a throwaway software key, so the
// fuzz seeds need no HSM.
func softSign(tb testing.TB, in []byte) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	s := &signer.Signer{}
	res, err := s.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), signer.Credential{Signer: key, Chain: []*x509.Certificate{cert}}, signer.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	res.Write(&out, bytes.NewReader(in))
	return out.Bytes()
}

// tinyPDF is a one-page PDF of a few hundred bytes.
func tinyPDF() []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}
