package sigmemo

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

func newCert(t *testing.T, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func TestCache(t *testing.T) {
	root, rootKey := newCert(t, "root", nil, nil)
	other, _ := newCert(t, "root", nil, nil) // same name, another key
	child, _ := newCert(t, "child", root, rootKey)
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)}, root, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the child with one byte of its signature changed.
	bad := append([]byte{}, child.Raw...)
	bad[len(bad)-3] ^= 1
	forged, err := x509.ParseCertificate(bad)
	if err != nil {
		t.Fatal(err)
	}

	var c Cache
	for round := range 2 { // the second round answers from the cache
		tests := []struct {
			name string
			err  error
		}{
			{"child from root", c.CertificateFrom(child, root)},
			{"CRL from root", c.CRLFrom(crl, root)},
		}
		for _, tt := range tests {
			if tt.err != nil {
				t.Errorf("round %d: %s: %v", round, tt.name, tt.err)
			}
		}
		for name, err := range map[string]error{
			"child from another key":  c.CertificateFrom(child, other),
			"forged child from root":  c.CertificateFrom(forged, root),
			"CRL from another key":    c.CRLFrom(crl, other),
			"nil cache, forged child": (*Cache)(nil).CertificateFrom(forged, root),
		} {
			if err == nil {
				t.Errorf("round %d: %s: accepted", round, name)
			}
		}
	}
	if len(c.ok) != 2 {
		t.Errorf("cache holds %d entries, want the 2 successes", len(c.ok))
	}
	if err := (*Cache)(nil).CertificateFrom(child, root); err != nil {
		t.Errorf("nil cache: %v", err)
	}
}

func TestCacheBound(t *testing.T) {
	root, rootKey := newCert(t, "root", nil, nil)
	child, _ := newCert(t, "child", root, rootKey)
	var c Cache
	c.ok = make(map[[32]byte]struct{})
	for i := range maxEntries {
		c.ok[[32]byte{byte(i), byte(i >> 8), 1}] = struct{}{}
	}
	if err := c.CertificateFrom(child, root); err != nil {
		t.Fatal(err)
	}
	if len(c.ok) != 1 {
		t.Errorf("a full cache holds %d entries after one more, want 1 (started again)", len(c.ok))
	}
}
