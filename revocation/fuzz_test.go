package revocation

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ocsp"
)

// FuzzRespond feeds the OCSP responder arbitrary requests: the answer must
// always be an OCSP response x/crypto/ocsp can decode (an error status is
// fine), never a panic.
func FuzzRespond(f *testing.F) {
	for _, name := range []string{"ocsp-request.der"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	key := newKey(f)
	ca := issue(f, &x509.Certificate{Subject: pkix.Name{CommonName: "fuzz CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, key.Public(), nil, key)
	leaf := issue(f, &x509.Certificate{Subject: pkix.Name{CommonName: "fuzz leaf"}}, newKey(f).Public(), ca, key)
	if req, err := ocsp.CreateRequest(leaf, ca, nil); err == nil {
		f.Add(req)
	}
	r := &Responder{Issuer: ca, Certificate: ca, Signer: key, Source: (&FileSource{Path: filepath.Join(f.TempDir(), "s.json")}).ForIssuer(ca)}
	f.Fuzz(func(t *testing.T, der []byte) {
		resp := r.Respond(context.Background(), der)
		if _, err := ocsp.ParseResponse(resp, r.Issuer); err != nil {
			if _, isStatus := err.(ocsp.ResponseError); !isStatus {
				// Several singleResponses are legal but ParseResponse wants one.
				if _, err := ocsp.ParseResponseForCert(resp, nil, r.Issuer); err != nil && err.Error() != "OCSP response contains bad number of responses" {
					t.Fatalf("unparsable response %x: %v", resp, err)
				}
			}
		}
	})
}

// FuzzParseCertificates feeds the caIssuers parser arbitrary bytes.
func FuzzParseCertificates(f *testing.F) {
	for _, name := range []string{"ca.der", "ca-bundle.p7c"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := parseCertificates(b)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}
