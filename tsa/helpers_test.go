package tsa

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// rsaKey is generated once: RSA key generation is the slow part of these tests.
var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testPKI is a root, an issuing CA and a TSA certificate, built with
// crypto/x509 directly (devpki imports this package).
type testPKI struct {
	root, issuing, tsa *x509.Certificate
	rootKey, issKey    crypto.Signer
	tsaKey             crypto.Signer
	dir                string // PEM files for openssl: root.pem, chain.pem (tsa + issuing)
}

// certAt is the fixed genTime the servers in these tests use; certificates
// are valid around the real clock too, because openssl checks chains now.
var certAt = time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

type tsaProfile int

const (
	profileTSA         tsaProfile = iota // critical EKU timeStamping
	profileNoEKU                         // no extendedKeyUsage at all
	profileNonCritical                   // timeStamping, not critical
	profileExtraEKU                      // timeStamping + serverAuth, critical
)

func ekuExtension(t testing.TB, critical bool, oids ...asn1.ObjectIdentifier) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(oids)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidExtKeyUsage, Critical: critical, Value: v}
}

var (
	oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidKPServerAuth   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
)

func issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
		if err != nil {
			t.Fatal(err)
		}
		tmpl.SerialNumber = s
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-48 * time.Hour)
		tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
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

func newTestPKI(t testing.TB, tsaKey crypto.Signer, profile tsaProfile) *testPKI {
	t.Helper()
	p := &testPKI{rootKey: ecKey(t), issKey: ecKey(t), tsaKey: tsaKey, dir: t.TempDir()}
	p.root = issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "tsa test root"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, p.rootKey.Public(), nil, p.rootKey)
	p.issuing = issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "tsa test issuing CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, p.issKey.Public(), p.root, p.rootKey)

	leaf := &x509.Certificate{
		Subject:  pkix.Name{CommonName: "tsa test TSA", Organization: []string{"esign tests"}},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	switch profile {
	case profileTSA:
		leaf.ExtraExtensions = []pkix.Extension{ekuExtension(t, true, oidKPTimeStamping)}
	case profileNonCritical:
		leaf.ExtraExtensions = []pkix.Extension{ekuExtension(t, false, oidKPTimeStamping)}
	case profileExtraEKU:
		leaf.ExtraExtensions = []pkix.Extension{ekuExtension(t, true, oidKPTimeStamping, oidKPServerAuth)}
	}
	p.tsa = issue(t, leaf, tsaKey.Public(), p.issuing, p.issKey)

	writePEM(t, filepath.Join(p.dir, "root.pem"), p.root)
	writePEM(t, filepath.Join(p.dir, "chain.pem"), p.tsa, p.issuing)
	return p
}

func (p *testPKI) server() *Server {
	return &Server{
		Signer:      p.tsaKey,
		Certificate: p.tsa,
		Chain:       []*x509.Certificate{p.issuing},
		Now:         func() time.Time { return certAt },
		Accuracy:    time.Second,
	}
}

func (p *testPKI) roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	return pool
}

func writePEM(t testing.TB, path string, certs ...*x509.Certificate) {
	t.Helper()
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}
