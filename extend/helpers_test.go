package extend_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"testing"
	"time"

	"esign/devpki"
	"esign/devstack"
	"esign/extend"
	"esign/hsm/hsmtest"
	"esign/internal/extverify"
	"esign/internal/testenv"
	"esign/signer"
	"esign/verify"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

// fixture is a development PKI with its services on loopback, and an
// Extender that validates against its root and fetches from it.
type fixture struct {
	env   *testenv.Env
	roots *x509.CertPool
	ext   *extend.Extender
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	env := testenv.New(t)
	roots := x509.NewCertPool()
	roots.AddCert(env.PKI.Root)
	ext := extend.New(extend.Config{Signer: env.Signer, Verify: verify.Config{Roots: roots}})
	return &fixture{env: env, roots: roots, ext: ext}
}

func corpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign signs in with our signer.
func (f *fixture) sign(t testing.TB, in []byte, cred string, opts signer.Options) []byte {
	t.Helper()
	res, err := f.env.Signer.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), f.env.Creds[cred], opts)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return write(t, res, in)
}

func write(t testing.TB, res *signer.Result, in []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := res.Write(&out, bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes()[:len(in)], in) {
		t.Fatal("extension rewrote earlier bytes")
	}
	return out.Bytes()
}

// extend runs the Extender and returns the whole file.
func (f *fixture) extend(t testing.TB, in []byte, level signer.Level) ([]byte, error) {
	t.Helper()
	res, err := f.ext.Extend(context.Background(), bytes.NewReader(in), int64(len(in)), level)
	if err != nil {
		return nil, err
	}
	return write(t, res, in), nil
}

func (f *fixture) verify(t testing.TB, data []byte) *verify.Report {
	t.Helper()
	rep, err := verify.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), verify.Config{Roots: f.roots})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

// pdfsigSign adds an adbe.pkcs7.detached signature with poppler's
// pdfsig, from an NSS database holding a key certified by the
// development issuing CA: a signature made by a tool we did not write.
func (f *fixture) pdfsigSign(t *testing.T, in []byte, field string) []byte {
	t.Helper()
	ctx := context.Background()
	issuingKey, err := devstack.KeyStore{KM: f.env.Keys}.Key(ctx, devpki.IssuingCA, "RSA-3072")
	if err != nil {
		t.Fatalf("issuing CA key: %v", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	base := f.env.PKI.BaseURL
	cert, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject:               pkix.Name{CommonName: "pdfsig signer " + field, Country: []string{"TH"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		OCSPServer:            []string{base + devpki.PathOCSP},
		IssuingCertificateURL: []string{base + devpki.PathIssuingCert},
		CRLDistributionPoints: []string{base + devpki.PathIssuingCRL},
	}, key.Public(), f.env.PKI.Issuing, issuingKey)
	if err != nil {
		t.Fatal(err)
	}
	return extverify.NewPDFSigSigner(t, key, cert, f.env.PKI.Issuing).Sign(t, in, field)
}

// digest is the hash of data, for openssl ts -verify.
func digest(h crypto.Hash, data []byte) []byte {
	d := h.New()
	d.Write(data)
	return d.Sum(nil)
}
