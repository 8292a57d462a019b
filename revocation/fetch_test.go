package revocation

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"esign/outbound"
)

func TestCollect(t *testing.T) {
	ctx := context.Background()

	t.Run("OCSP for the leaf, CRL for the issuing CA", func(t *testing.T) {
		p := newTestPKI(t)
		ev, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.OCSPResponses) != 1 || len(ev.CRLs) != 1 {
			t.Fatalf("%d OCSP responses, %d CRLs; want 1 and 1", len(ev.OCSPResponses), len(ev.CRLs))
		}
		r, err := ocsp.ParseResponseForCert(ev.OCSPResponses[0], p.leaf, p.issuing)
		if err != nil || r.Status != ocsp.Good {
			t.Fatalf("OCSP response: %v, status %d", err, r.Status)
		}
		crl, err := x509.ParseRevocationList(ev.CRLs[0])
		if err != nil || crl.CheckSignatureFrom(p.root) != nil {
			t.Fatalf("CRL is not the root's: %v", err)
		}
		wantCerts := []*x509.Certificate{p.leaf, p.issuing, p.root, p.responder}
		if len(ev.Certificates) != len(wantCerts) {
			t.Fatalf("%d certificates, want %d", len(ev.Certificates), len(wantCerts))
		}
		for i, c := range wantCerts {
			if !ev.Certificates[i].Equal(c) {
				t.Errorf("certificate %d is %s, want %s", i, ev.Certificates[i].Subject, c.Subject)
			}
		}
	})

	t.Run("missing issuers fetched through caIssuers", func(t *testing.T) {
		p := newTestPKI(t)
		ev, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Certificates) != 4 || !ev.Certificates[1].Equal(p.issuing) || !ev.Certificates[2].Equal(p.root) {
			t.Fatalf("chain not completed: %d certificates", len(ev.Certificates))
		}
		if len(ev.OCSPResponses) != 1 || len(ev.CRLs) != 1 {
			t.Fatalf("%d OCSP responses, %d CRLs", len(ev.OCSPResponses), len(ev.CRLs))
		}
	})

	t.Run("root alone needs nothing", func(t *testing.T) {
		p := newTestPKI(t)
		before := p.hits.Load()
		ev, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.root})
		if err != nil || len(ev.OCSPResponses)+len(ev.CRLs) != 0 || p.hits.Load() != before {
			t.Fatalf("ev %+v, err %v, %d requests", ev, err, p.hits.Load()-before)
		}
	})

	t.Run("revoked leaf refused via OCSP", func(t *testing.T) {
		p := newTestPKI(t)
		at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		if err := p.status.Revoke(ctx, p.issuing, p.leaf.SerialNumber, at, ocsp.KeyCompromise, ""); err != nil {
			t.Fatal(err)
		}
		_, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		var re *RevokedError
		if !errors.As(err, &re) || !errors.Is(err, ErrRevoked) {
			t.Fatalf("err = %v, want RevokedError", err)
		}
		if !re.RevokedAt.Equal(at) || re.Reason != ocsp.KeyCompromise || !strings.HasSuffix(re.Source, "/ocsp") {
			t.Errorf("RevokedError %+v", re)
		}
	})

	t.Run("OCSP down: CRL fallback", func(t *testing.T) {
		p := newTestPKI(t)
		p.ocspDown.Store(true)
		ev, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.OCSPResponses) != 0 || len(ev.CRLs) != 2 {
			t.Fatalf("%d OCSP responses, %d CRLs; want 0 and 2", len(ev.OCSPResponses), len(ev.CRLs))
		}
	})

	t.Run("OCSP down, revoked on the CRL", func(t *testing.T) {
		p := newTestPKI(t)
		p.ocspDown.Store(true)
		if err := p.status.Revoke(ctx, p.issuing, p.leaf.SerialNumber, time.Now().Add(-time.Hour), ocsp.CessationOfOperation, ""); err != nil {
			t.Fatal(err)
		}
		_, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		var re *RevokedError
		if !errors.As(err, &re) || re.Reason != ocsp.CessationOfOperation || !strings.HasSuffix(re.Source, "/issuing.crl") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("issuing CA revoked on the root CRL", func(t *testing.T) {
		p := newTestPKI(t)
		if err := p.status.Revoke(ctx, p.root, p.issuing.SerialNumber, time.Now().Add(-time.Hour), ocsp.CACompromise, ""); err != nil {
			t.Fatal(err)
		}
		_, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		var re *RevokedError
		if !errors.As(err, &re) || !re.Certificate.Equal(p.issuing) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("everything down", func(t *testing.T) {
		p := newTestPKI(t)
		p.ocspDown.Store(true)
		p.crlDown.Store(true)
		_, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrRevoked) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})

	t.Run("stale data refused", func(t *testing.T) {
		p := newTestPKI(t)
		f := p.fetcher(t)
		f.Now = func() time.Time { return time.Now().Add(48 * time.Hour) }
		_, err := f.Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "stale") {
			t.Fatalf("err = %v, want stale ErrUnavailable", err)
		}
	})

	t.Run("response size bounded", func(t *testing.T) {
		p := newTestPKI(t)
		_, err := p.fetcherWith(t, outbound.Options{MaxResponseBytes: 100}).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, outbound.ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("responder without OCSPSigning ignored", func(t *testing.T) {
		p := newTestPKIWith(t, pkiOptions{responderNoCheck: true, responderEKU: false})
		ev, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.OCSPResponses) != 0 || len(ev.CRLs) != 2 {
			t.Fatalf("%d OCSP responses, %d CRLs; the unauthorised response must give way to the CRL", len(ev.OCSPResponses), len(ev.CRLs))
		}
	})

	t.Run("responder without nocheck gets its own CRL", func(t *testing.T) {
		p := newTestPKIWith(t, pkiOptions{responderNoCheck: false, responderEKU: true})
		ev, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		if err != nil {
			t.Fatal(err)
		}
		// The leaf's OCSP response, the issuing CRL for the responder and
		// the root CRL for the issuing CA.
		if len(ev.OCSPResponses) != 1 || len(ev.CRLs) != 2 {
			t.Fatalf("%d OCSP responses, %d CRLs; want 1 and 2", len(ev.OCSPResponses), len(ev.CRLs))
		}
	})

	t.Run("revoked responder without nocheck cannot vouch", func(t *testing.T) {
		p := newTestPKIWith(t, pkiOptions{responderNoCheck: false, responderEKU: true})
		if err := p.status.Revoke(ctx, p.issuing, p.responder.SerialNumber, time.Now().Add(-time.Hour), ocsp.KeyCompromise, ""); err != nil {
			t.Fatal(err)
		}
		ev, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
		if err != nil {
			t.Fatalf("leaf itself is good on the CRL: %v", err)
		}
		if len(ev.OCSPResponses) != 0 {
			t.Fatalf("response of a revoked responder kept")
		}
	})
}

// TestCollectOutboundPolicy proves a URL the client's policy refuses is
// never contacted, neither directly nor through a redirect: another port
// on the same loopback address, and the same loopback server under the
// name "localhost" (the control case shows a client that trusts that name
// does reach it).
func TestCollectOutboundPolicy(t *testing.T) {
	ctx := context.Background()
	var forbiddenHits atomic.Int64
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forbiddenHits.Add(1)
		http.NotFound(w, r)
	}))
	defer forbidden.Close()
	fu, _ := url.Parse(forbidden.URL)
	byName := "http://localhost:" + fu.Port()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, byName+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()

	p := newTestPKI(t)
	tests := []struct {
		name     string
		base     string // of the leaf's OCSP and CRL URLs
		opts     outbound.Options
		allow    []string // besides the test PKI's server
		wantHits bool
		wantErr  error
	}{
		{"control: a trusted name reaches the host", byName, outbound.Options{Trusted: []string{byName}}, nil, true, nil},
		{"another loopback port", forbidden.URL, outbound.Options{}, nil, false, outbound.ErrNotAllowed},
		{"name resolving to loopback", byName, outbound.Options{}, []string{byName}, false, outbound.ErrNotAllowed},
		{"bare loopback host", forbidden.URL, outbound.Options{}, []string{"127.0.0.1"}, false, outbound.ErrNotAllowed},
		{"any public host", forbidden.URL, outbound.Options{AnyPublicHost: true}, nil, false, outbound.ErrNotAllowed},
		{"redirect", redirector.URL, outbound.Options{}, []string{redirector.URL}, false, outbound.ErrNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forbiddenHits.Store(0)
			leaf := issue(t, &x509.Certificate{
				OCSPServer:            []string{tc.base + "/ocsp"},
				CRLDistributionPoints: []string{tc.base + "/issuing.crl"},
				KeyUsage:              x509.KeyUsageDigitalSignature,
			}, newKey(t).Public(), p.issuing, p.issKey)
			_, err := p.fetcherWith(t, tc.opts, tc.allow...).Collect(ctx, []*x509.Certificate{leaf, p.issuing, p.root})
			if !errors.Is(err, ErrUnavailable) || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want ErrUnavailable and %v", err, tc.wantErr)
			}
			if got := forbiddenHits.Load() > 0; got != tc.wantHits {
				t.Fatalf("refused host contacted %d times", forbiddenHits.Load())
			}
		})
	}

	t.Run("allowed host is used", func(t *testing.T) {
		before := p.hits.Load()
		if _, err := p.fetcher(t).Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root}); err != nil {
			t.Fatal(err)
		}
		if p.hits.Load() == before {
			t.Fatal("no request reached the allowed host")
		}
	})
}

func TestParseCertificatesFormats(t *testing.T) {
	p := newTestPKI(t)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Raw})
	p7 := filepath.Join(p.dir, "root.p7c")
	if out, err := openssl(t, "crl2pkcs7", "-nocrl", "-certfile", filepath.Join(p.dir, "root.pem"), "-outform", "DER", "-out", p7); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	p7Bytes, err := os.ReadFile(p7)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"DER": p.root.Raw, "PEM": append([]byte("junk\n"), pemBytes...), "PKCS#7": p7Bytes} {
		certs, err := parseCertificates(b)
		if err != nil || len(certs) != 1 || !certs[0].Equal(p.root) {
			t.Errorf("%s: %d certificates, %v", name, len(certs), err)
		}
	}
	if _, err := parseCertificates([]byte("nothing")); err == nil {
		t.Error("garbage accepted")
	}
}

// TestCollectNoSource: a certificate that names no OCSP responder or CRL,
// or whose issuer is missing and named nowhere, is ErrUnavailable and
// ErrNoSource, so that extension can tell it from a service that did not
// answer (which a retry may fix); a responder that is down is not
// ErrNoSource.
func TestCollectNoSource(t *testing.T) {
	p := newTestPKI(t)
	f := p.fetcher(t)
	ctx := context.Background()
	bare := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "no URLs"}, KeyUsage: x509.KeyUsageDigitalSignature},
		newKey(t).Public(), p.issuing, p.issKey)
	orphan := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "no issuer"}, KeyUsage: x509.KeyUsageDigitalSignature},
		newKey(t).Public(), p.issuing, p.issKey)
	for _, c := range []struct {
		name  string
		chain []*x509.Certificate
	}{
		{"no OCSP, no CRL", []*x509.Certificate{bare, p.issuing, p.root}},
		{"issuer missing, no caIssuers", []*x509.Certificate{orphan}},
	} {
		_, err := f.Collect(ctx, c.chain)
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrNoSource) {
			t.Errorf("%s: %v, want ErrUnavailable and ErrNoSource", c.name, err)
		}
	}
	p.ocspDown.Store(true)
	p.crlDown.Store(true)
	_, err := f.Collect(ctx, []*x509.Certificate{p.leaf, p.issuing, p.root})
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNoSource) {
		t.Errorf("services down: %v, want ErrUnavailable without ErrNoSource", err)
	}
}
