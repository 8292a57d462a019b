package cades

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testPKI is a small CA hierarchy made for one test: root -> intermediates -> leaf.
type testPKI struct {
	dir     string
	root    *x509.Certificate
	rootPEM string // path of the root certificate (PEM), for openssl -CAfile
	// chain is what a signer passes to Sign: leaf first. Its length is the chainLen asked for:
	// 1 = leaf; 2 = leaf, root; 3 = leaf, intermediate, root; 4 = leaf, two intermediates, root.
	chain []*x509.Certificate
	key   crypto.Signer
}

func mustKey[K crypto.Signer](t testing.TB, k K, err error) crypto.Signer {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRSAKey(t testing.TB, bits int) crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	return mustKey(t, k, err)
}

func newECKey(t testing.TB, c elliptic.Curve) crypto.Signer {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	return mustKey(t, k, err)
}

func issueCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(48 * time.Hour)
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	ski := sha1.Sum(spki) // only an identifier here
	tmpl.SubjectKeyId = ski[:]
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"esign test"}, Country: []string{"TH"}},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func newTestPKI(t testing.TB, leafKey crypto.Signer, chainLen int) *testPKI {
	t.Helper()
	dir := t.TempDir()
	rootKey := newECKey(t, elliptic.P256())
	root := issueCert(t, caTemplate("Test Root CA"), nil, rootKey.Public(), rootKey)
	issuer, issuerKey := root, rootKey
	var intermediates []*x509.Certificate
	for i := 0; i < chainLen-2; i++ {
		k := newECKey(t, elliptic.P256())
		c := issueCert(t, caTemplate(fmt.Sprintf("Test Intermediate CA %d", i+1)), issuer, k.Public(), issuerKey)
		intermediates = append(intermediates, c)
		issuer, issuerKey = c, k
	}
	leaf := issueCert(t, &x509.Certificate{
		Subject:  pkix.Name{CommonName: "Test Signer", Organization: []string{"esign test"}, Country: []string{"TH"}},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}, issuer, leafKey.Public(), issuerKey)
	chain := []*x509.Certificate{leaf}
	for i := len(intermediates) - 1; i >= 0; i-- {
		chain = append(chain, intermediates[i])
	}
	if chainLen >= 2 {
		chain = append(chain, root)
	}
	return &testPKI{
		dir:     dir,
		root:    root,
		rootPEM: writeFile(t, dir, "root.pem", pemCert(root)),
		chain:   chain,
		key:     leafKey,
	}
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(t testing.TB, k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openssl runs the openssl CLI and returns its combined output.
func openssl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	return string(out), err
}

// opensslVerify runs `openssl cms -verify` on a detached signature. -cades makes openssl also
// check that the ESS signing-certificate(-v2) attribute binds the signer certificate.
func opensslVerify(t testing.TB, pki *testPKI, sig, content []byte) (string, error) {
	t.Helper()
	sigPath := writeFile(t, pki.dir, "sig.der", sig)
	dataPath := writeFile(t, pki.dir, "data.bin", content)
	out, err := openssl(t, "cms", "-verify", "-binary", "-inform", "DER", "-in", sigPath,
		"-content", dataPath, "-CAfile", pki.rootPEM, "-purpose", "any", "-cades", "-out", os.DevNull)
	if err == nil && !strings.Contains(out, "Verification successful") {
		err = fmt.Errorf("openssl did not report success")
	}
	return out, err
}

func opensslPrint(t testing.TB, pki *testPKI, sig []byte) string {
	t.Helper()
	out, err := openssl(t, "cms", "-cmsout", "-print", "-inform", "DER", "-in", writeFile(t, pki.dir, "print.der", sig))
	if err != nil {
		t.Fatalf("openssl cms -print: %v\n%s", err, out)
	}
	return out
}

func signDER(t testing.TB, pki *testPKI, content []byte, opts SignOptions) (*SignedData, []byte) {
	t.Helper()
	h, _ := opts.hash()
	sd, err := Sign(context.Background(), digestOf(h, content), pki.key, pki.chain, opts)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	der, err := sd.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return sd, der
}
