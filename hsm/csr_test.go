package hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"esign/hsm"
	"esign/hsm/hsmtest"
)

// opensslVerifyCSR runs `openssl req -verify` on a DER CSR and returns its
// text output (names printed as UTF-8).
func opensslVerifyCSR(t *testing.T, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "req.csr")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("openssl", "req", "-in", path, "-verify", "-noout", "-text", "-nameopt", "utf8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl req -verify: %v\n%s", err, stderr.Bytes())
	}
	// OpenSSL 3 prints "Certificate request self-signature verify OK" on
	// stderr; older versions print "verify OK".
	if !strings.Contains(stderr.String()+string(out), "verify OK") {
		t.Fatalf("openssl did not report a good signature:\n%s\n%s", stderr.Bytes(), out)
	}
	return string(out)
}

func TestCreateCSR(t *testing.T) {
	ctx := context.Background()
	m, _ := hsmtest.NewToken(t, "csr")
	const cn = "นางสาวสมศรี ใจดี"
	subject := pkix.Name{
		CommonName:         cn,
		Organization:       []string{"สำนักงานพัฒนารัฐบาลดิจิทัล"},
		OrganizationalUnit: []string{"IT"},
		Country:            []string{"TH"},
	}
	tests := []struct {
		alg    hsm.Algorithm
		opts   *hsm.CSROptions
		sigAlg x509.SignatureAlgorithm
	}{
		{hsm.RSA2048, nil, x509.SHA256WithRSA},
		{hsm.RSA3072, &hsm.CSROptions{SignatureAlgorithm: x509.SHA256WithRSAPSS}, x509.SHA256WithRSAPSS},
		{hsm.ECDSAP256, nil, x509.ECDSAWithSHA256},
		{hsm.ECDSAP384, &hsm.CSROptions{EmailAddresses: []string{"somsri@example.go.th"}}, x509.ECDSAWithSHA384},
	}
	for _, tc := range tests {
		t.Run(string(tc.alg)+"-"+tc.sigAlg.String(), func(t *testing.T) {
			s, err := m.CreateKey(ctx, "csr-"+string(tc.alg), tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			der, err := hsm.CreateCSR(s, subject, tc.opts)
			if err != nil {
				t.Fatalf("CreateCSR: %v", err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			if csr.SignatureAlgorithm != tc.sigAlg {
				t.Errorf("signature algorithm %v, want %v", csr.SignatureAlgorithm, tc.sigAlg)
			}
			if got := csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !got.Equal(s.Public()) {
				t.Error("CSR carries another public key")
			}
			if csr.Subject.CommonName != cn {
				t.Errorf("CN %q, want %q", csr.Subject.CommonName, cn)
			}
			checkUTF8CommonName(t, csr.RawSubject, cn)

			text := opensslVerifyCSR(t, der)
			if !strings.Contains(text, "CN="+cn) && !strings.Contains(text, "CN = "+cn) {
				t.Errorf("openssl does not show the Thai CN %q:\n%s", cn, text)
			}
			if !strings.Contains(text, "สำนักงานพัฒนารัฐบาลดิจิทัล") {
				t.Errorf("openssl does not show the Thai O:\n%s", text)
			}
		})
	}
}

// checkUTF8CommonName checks that the CN is encoded as UTF8String (tag 12),
// the encoding RFC 5280 requires for names outside PrintableString.
func checkUTF8CommonName(t *testing.T, rawSubject []byte, want string) {
	t.Helper()
	if len(want) > 127 {
		t.Fatal("test CN too long for a one-byte DER length")
	}
	encoded := append([]byte{asn1.TagUTF8String, byte(len(want))}, want...)
	if !bytes.Contains(rawSubject, encoded) {
		t.Errorf("subject does not hold the CN as a UTF8String: %x", rawSubject)
	}
}

func TestCreateCSRNilSigner(t *testing.T) {
	if _, err := hsm.CreateCSR(nil, pkix.Name{CommonName: "x"}, nil); err == nil {
		t.Fatal("CreateCSR accepted a nil signer")
	}
}
