package devpki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"esign/tsa"
)

// testKeys is shared by the tests: RSA-3072 generation dominates their
// running time otherwise.
var testKeys = sync.OnceValue(func() *MemoryKeyStore { return &MemoryKeyStore{} })

// overrideKeys serves some labels from its own store and the rest from the
// shared one, to simulate a token whose key changed.
type overrideKeys struct {
	shared, own KeyStore
	labels      map[string]bool
}

func (o overrideKeys) Key(ctx context.Context, label, alg string) (crypto.Signer, error) {
	if o.labels[label] {
		return o.own.Key(ctx, label, alg)
	}
	return o.shared.Key(ctx, label, alg)
}

func serials(p *PKI) map[string]string {
	m := map[string]string{"root": p.Root.SerialNumber.String(), "issuing": p.Issuing.SerialNumber.String()}
	for n, c := range p.Credentials {
		m[n] = c.Certificate().SerialNumber.String()
	}
	return m
}

func TestEnsureCreatesAndReuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{BaseURL: "http://127.0.0.1:8080/"}
	p1, err := Ensure(ctx, testKeys(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Ensure(ctx, testKeys(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := serials(p1), serials(p2)
	if len(s1) != 7 {
		t.Fatalf("%d certificates, want 7", len(s1))
	}
	for name, s := range s1 {
		if s2[name] != s {
			t.Errorf("%s re-issued on the second Ensure", name)
		}
	}
	if p1.BaseURL != "http://127.0.0.1:8080" {
		t.Errorf("BaseURL %q", p1.BaseURL)
	}
	for _, f := range []string{"root.pem", "issuing.pem", "dev-official.pem", "dev-tsa.pem", "state.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestCertificateProfiles(t *testing.T) {
	ctx := context.Background()
	p, err := Ensure(ctx, testKeys(), t.TempDir(), Options{BaseURL: "http://pki.test:8080"})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.Root)
	inter := x509.NewCertPool()
	inter.AddCert(p.Issuing)

	if k, ok := p.rootKey.Public().(*rsa.PublicKey); !ok || k.N.BitLen() != 3072 || p.Root.Subject.CommonName != "esign Development Root CA" {
		t.Errorf("root: %T %s", p.rootKey.Public(), p.Root.Subject)
	}
	if p.Issuing.Subject.CommonName != "esign Development Issuing CA" || !p.Issuing.IsCA || p.Issuing.MaxPathLen != 0 || !p.Issuing.MaxPathLenZero {
		t.Errorf("issuing CA: %s pathlen %d", p.Issuing.Subject, p.Issuing.MaxPathLen)
	}
	if got := p.Issuing.NotAfter.Sub(p.Issuing.NotBefore); got < 9*yearish {
		t.Errorf("issuing CA valid for %v", got)
	}
	if got := p.Root.NotAfter.Sub(p.Root.NotBefore); got < 19*yearish {
		t.Errorf("root valid for %v", got)
	}
	if !equalStrings(p.Issuing.IssuingCertificateURL, "http://pki.test:8080/pki/root.crt") || !equalStrings(p.Issuing.CRLDistributionPoints, "http://pki.test:8080/pki/root.crl") {
		t.Errorf("issuing CA URLs: %v %v", p.Issuing.IssuingCertificateURL, p.Issuing.CRLDistributionPoints)
	}

	tests := []struct {
		name   string
		usage  x509.ExtKeyUsage
		check  func(t *testing.T, c *x509.Certificate)
		cn     string
		keyAlg string
	}{
		{Official, x509.ExtKeyUsageAny, signerProfile, "นางสาวสมศรี ใจดี", "RSA-2048"},
		{Registrar, x509.ExtKeyUsageAny, signerProfile, "นายทะเบียน มหาวิทยาลัยตัวอย่าง", "ECDSA-P256"},
		{Director, x509.ExtKeyUsageAny, signerProfile, "นายสมชาย รักชาติ", "RSA-2048"},
		{TSA, x509.ExtKeyUsageTimeStamping, func(t *testing.T, c *x509.Certificate) {
			if err := tsa.CheckCertificate(c); err != nil {
				t.Error(err)
			}
		}, "esign Development TSA", "RSA-2048"},
		{OCSP, x509.ExtKeyUsageOCSPSigning, func(t *testing.T, c *x509.Certificate) {
			noCheck := false
			for _, e := range c.Extensions {
				noCheck = noCheck || e.Id.Equal(oidOCSPNoCheck)
			}
			if !noCheck || len(c.OCSPServer) != 0 || len(c.CRLDistributionPoints) != 0 {
				t.Errorf("OCSP responder: nocheck %v, OCSP %v, CRL %v", noCheck, c.OCSPServer, c.CRLDistributionPoints)
			}
			if c.NotAfter.Sub(c.NotBefore) > 100*24*time.Hour {
				t.Errorf("OCSP responder valid for %v", c.NotAfter.Sub(c.NotBefore))
			}
		}, "esign Development OCSP Responder", "ECDSA-P256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cred := p.Credentials[tc.name]
			c := cred.Certificate()
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{tc.usage}}); err != nil {
				t.Fatalf("chain: %v", err)
			}
			if len(cred.Chain) != 3 || !cred.Chain[1].Equal(p.Issuing) || !cred.Chain[2].Equal(p.Root) {
				t.Errorf("Chain is not leaf, issuing, root")
			}
			if c.Subject.CommonName != tc.cn {
				t.Errorf("CN %q, want %q", c.Subject.CommonName, tc.cn)
			}
			if got := algorithmOf(cred.Signer); got != tc.keyAlg {
				t.Errorf("key %s, want %s", got, tc.keyAlg)
			}
			pub, _ := cred.Signer.Public().(interface{ Equal(crypto.PublicKey) bool })
			if !pub.Equal(c.PublicKey) {
				t.Errorf("signer does not match the certificate")
			}
			if !equalStrings(c.IssuingCertificateURL, "http://pki.test:8080/pki/issuing.crt") {
				t.Errorf("caIssuers %v", c.IssuingCertificateURL)
			}
			if len(c.SubjectKeyId) == 0 || !bytes.Equal(c.AuthorityKeyId, p.Issuing.SubjectKeyId) {
				t.Errorf("key identifiers missing")
			}
			tc.check(t, c)
		})
	}
}

func signerProfile(t *testing.T, c *x509.Certificate) {
	t.Helper()
	if c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment {
		t.Errorf("key usage %b", c.KeyUsage)
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 15}) && !e.Critical {
			t.Errorf("keyUsage not critical")
		}
	}
	if len(c.ExtKeyUsage)+len(c.UnknownExtKeyUsage) != 0 {
		t.Errorf("signer has an extendedKeyUsage")
	}
	if !equalStrings(c.OCSPServer, "http://pki.test:8080/pki/ocsp") || !equalStrings(c.CRLDistributionPoints, "http://pki.test:8080/pki/issuing.crl") {
		t.Errorf("revocation URLs %v %v", c.OCSPServer, c.CRLDistributionPoints)
	}
	if c.Subject.Country[0] != "TH" {
		t.Errorf("country %v", c.Subject.Country)
	}
}

func equalStrings(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestThaiNamesAreUTF8 checks the encoding of the Thai attributes and that
// OpenSSL reads them back.
func TestThaiNamesAreUTF8(t *testing.T) {
	dir := t.TempDir()
	p, err := Ensure(context.Background(), testKeys(), dir, Options{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	var rdns []asn1.RawValue
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(p.Credentials[Director].Certificate().RawSubject, &seq); err != nil {
		t.Fatal(err)
	}
	for rest := seq.Bytes; len(rest) > 0; {
		var rdn asn1.RawValue
		rest, _ = asn1.Unmarshal(rest, &rdn)
		rdns = append(rdns, rdn)
	}
	tags := map[string]int{}
	for _, rdn := range rdns {
		var atv struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.Unmarshal(rdn.Bytes, &atv); err != nil {
			t.Fatal(err)
		}
		tags[atv.Type.String()] = atv.Value.Tag
	}
	for oid, name := range map[string]string{"2.5.4.3": "CN", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "title"} {
		if tags[oid] != asn1.TagUTF8String {
			t.Errorf("%s encoded with tag %d, want UTF8String", name, tags[oid])
		}
	}

	for _, tc := range []struct{ name, want string }{
		{Official, "CN=นางสาวสมศรี ใจดี"},
		{Official, "O=กรมพัฒนาระบบราชการ (Development)"},
		{Official, "OU=กองกลาง"},
		{Registrar, "CN=นายทะเบียน มหาวิทยาลัยตัวอย่าง"},
		{Director, "title=ผู้อำนวยการกองกลาง"},
	} {
		out, err := exec.Command("openssl", "x509", "-in", filepath.Join(dir, tc.name+".pem"), "-noout", "-subject", "-nameopt", "utf8,sep_comma_plus,sname").CombinedOutput()
		if err != nil {
			t.Fatalf("openssl x509: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%s subject %q lacks %q", tc.name, out, tc.want)
		}
	}
}

func TestEnsureReissues(t *testing.T) {
	ctx := context.Background()

	t.Run("new BaseURL: issuing CA and end entities, same keys", func(t *testing.T) {
		dir := t.TempDir()
		p1, err := Ensure(ctx, testKeys(), dir, Options{BaseURL: "http://127.0.0.1:8080"})
		if err != nil {
			t.Fatal(err)
		}
		p2, err := Ensure(ctx, testKeys(), dir, Options{BaseURL: "http://esign.test"})
		if err != nil {
			t.Fatal(err)
		}
		s1, s2 := serials(p1), serials(p2)
		for name := range s1 {
			if changed := s1[name] != s2[name]; changed != (name != "root") {
				t.Errorf("%s re-issued: %v", name, changed)
			}
		}
		if c := p2.Credentials[Official].Certificate(); !equalStrings(c.OCSPServer, "http://esign.test/pki/ocsp") || !c.PublicKey.(*rsa.PublicKey).Equal(p1.Credentials[Official].Certificate().PublicKey) {
			t.Errorf("dev-official: OCSP %v, key kept %v", c.OCSPServer, c.PublicKey)
		}
		if !equalStrings(p2.Issuing.CRLDistributionPoints, "http://esign.test/pki/root.crl") {
			t.Errorf("issuing CRL DP %v", p2.Issuing.CRLDistributionPoints)
		}
	})

	t.Run("changed key: only that certificate", func(t *testing.T) {
		dir := t.TempDir()
		p1, err := Ensure(ctx, testKeys(), dir, Options{BaseURL: "http://127.0.0.1:8080"})
		if err != nil {
			t.Fatal(err)
		}
		keys := overrideKeys{shared: testKeys(), own: &MemoryKeyStore{}, labels: map[string]bool{Registrar: true}}
		p2, err := Ensure(ctx, keys, dir, Options{BaseURL: "http://127.0.0.1:8080"})
		if err != nil {
			t.Fatal(err)
		}
		s1, s2 := serials(p1), serials(p2)
		for name := range s1 {
			if changed := s1[name] != s2[name]; changed != (name == Registrar) {
				t.Errorf("%s re-issued: %v", name, changed)
			}
		}
		pub := p2.Credentials[Registrar].Signer.Public().(*ecdsa.PublicKey)
		if !pub.Equal(p2.Credentials[Registrar].Certificate().PublicKey) || pub.Curve != elliptic.P256() {
			t.Errorf("registrar certificate not for the new key")
		}
	})

	t.Run("near expiry", func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		p1, err := Ensure(ctx, testKeys(), dir, Options{BaseURL: "http://127.0.0.1:8080", Now: func() time.Time { return start }})
		if err != nil {
			t.Fatal(err)
		}
		// 70 days on, the 90-day OCSP certificate is within its last 30 days.
		later := start.Add(70 * 24 * time.Hour)
		p2, err := Ensure(ctx, testKeys(), dir, Options{BaseURL: "http://127.0.0.1:8080", Now: func() time.Time { return later }})
		if err != nil {
			t.Fatal(err)
		}
		s1, s2 := serials(p1), serials(p2)
		for name := range s1 {
			if changed := s1[name] != s2[name]; changed != (name == OCSP) {
				t.Errorf("%s re-issued: %v", name, changed)
			}
		}
		if c := p2.Credentials[OCSP].Certificate(); !c.NotAfter.After(later.Add(80 * 24 * time.Hour)) {
			t.Errorf("renewed OCSP certificate ends %v", c.NotAfter)
		}
	})
}

func TestEnsureNeedsBaseURL(t *testing.T) {
	if _, err := Ensure(context.Background(), testKeys(), t.TempDir(), Options{}); err == nil {
		t.Fatal("empty BaseURL accepted")
	}
}

func TestMemoryKeyStore(t *testing.T) {
	ctx := context.Background()
	var m MemoryKeyStore
	k1, err := m.Key(ctx, "a", "ECDSA-P384")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := m.Key(ctx, "a", "ECDSA-P384")
	if err != nil || k1 != k2 {
		t.Fatalf("second Key call gave another key: %v", err)
	}
	if _, err := m.Key(ctx, "a", "RSA-2048"); err == nil {
		t.Error("algorithm mismatch accepted")
	}
	if _, err := m.Key(ctx, "b", "DSA-1024"); err == nil {
		t.Error("unknown algorithm accepted")
	}
}
