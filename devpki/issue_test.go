package devpki

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"esign/tsa"
)

func TestIssueCertificate(t *testing.T) {
	ctx := context.Background()
	keys := testKeys()
	caKey, err := keys.Key(ctx, "test-other-root", "ECDSA-P256")
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := keys.Key(ctx, "test-leaf", "ECDSA-P256")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	root, err := IssueCertificate(ctx, CertTemplate{
		Subject: pkix.Name{CommonName: "Untrusted Root"}, NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(yearish),
		IsCA: true, MaxPathLen: -1, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, caKey.Public(), nil, caKey)
	if err != nil {
		t.Fatal(err)
	}
	if !root.IsCA || root.MaxPathLen != -1 || root.CheckSignatureFrom(root) != nil {
		t.Fatalf("root: CA %v pathlen %d", root.IsCA, root.MaxPathLen)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)

	tests := []struct {
		name    string
		tmpl    CertTemplate
		check   func(t *testing.T, c *x509.Certificate)
		wantErr bool
	}{
		{
			name: "expired at signing time",
			tmpl: CertTemplate{Subject: pkix.Name{CommonName: "expired"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature},
			check: func(t *testing.T, c *x509.Certificate) {
				_, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
				var inv x509.CertificateInvalidError
				if !errors.As(err, &inv) || inv.Reason != x509.Expired {
					t.Errorf("Verify now: %v, want expired", err)
				}
				if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now.Add(-36 * time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
					t.Errorf("Verify within validity: %v", err)
				}
			},
		},
		{
			name: "TSA profile with serial and URLs",
			tmpl: CertTemplate{Subject: pkix.Name{CommonName: "tsa"}, SerialNumber: big.NewInt(4242), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, CriticalEKU: true,
				OCSPServer: []string{"http://o.test/ocsp"}, IssuingCertificateURL: []string{"http://o.test/ca.crt"}, CRLDistributionPoints: []string{"http://o.test/ca.crl"}},
			check: func(t *testing.T, c *x509.Certificate) {
				if err := tsa.CheckCertificate(c); err != nil {
					t.Error(err)
				}
				if c.SerialNumber.Int64() != 4242 || c.OCSPServer[0] != "http://o.test/ocsp" || c.IssuingCertificateURL[0] != "http://o.test/ca.crt" || c.CRLDistributionPoints[0] != "http://o.test/ca.crl" {
					t.Errorf("fields not copied")
				}
				if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
					t.Error(err)
				}
			},
		},
		{
			name: "intermediate with path length 0",
			tmpl: CertTemplate{Subject: pkix.Name{CommonName: "sub CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
				IsCA: true, MaxPathLen: 0, KeyUsage: x509.KeyUsageCertSign},
			check: func(t *testing.T, c *x509.Certificate) {
				if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
					t.Errorf("CA %v pathlen %d zero %v", c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
				}
			},
		},
		{
			name:    "validity window inverted",
			tmpl:    CertTemplate{Subject: pkix.Name{CommonName: "bad"}, NotBefore: now, NotAfter: now.Add(-time.Hour)},
			wantErr: true,
		},
		{
			name:    "critical EKU without purposes",
			tmpl:    CertTemplate{Subject: pkix.Name{CommonName: "bad"}, NotBefore: now, NotAfter: now.Add(time.Hour), CriticalEKU: true},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := IssueCertificate(ctx, tc.tmpl, leafKey.Public(), root, caKey)
			if tc.wantErr {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}

	t.Run("untrusted by the development root", func(t *testing.T) {
		p, err := Ensure(ctx, keys, t.TempDir(), Options{BaseURL: "http://127.0.0.1:1"})
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := IssueCertificate(ctx, CertTemplate{Subject: pkix.Name{CommonName: "outsider"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature}, leafKey.Public(), root, caKey)
		if err != nil {
			t.Fatal(err)
		}
		devRoots := x509.NewCertPool()
		devRoots.AddCert(p.Root)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: devRoots}); err == nil {
			t.Fatal("foreign certificate chains to the development root")
		}
	})
}
