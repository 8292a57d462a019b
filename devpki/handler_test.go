package devpki

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"esign/outbound"
	"esign/revocation"
	"esign/tsa"
)

// servedPKI runs Handler on a loopback server whose URL is the PKI's
// BaseURL.
func servedPKI(t *testing.T) (*PKI, string) {
	t.Helper()
	var h atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*h.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	p, err := Ensure(context.Background(), testKeys(), dir, Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	handler := p.Handler("")
	h.Store(&handler)
	return p, dir
}

func openssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func get(t *testing.T, url string) ([]byte, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body, resp.Header.Get("Content-Type")
}

func TestHandlerServesCertificates(t *testing.T) {
	p, _ := servedPKI(t)
	for path, want := range map[string]*x509.Certificate{PathRootCert: p.Root, PathIssuingCert: p.Issuing} {
		body, ct := get(t, p.BaseURL+path)
		if ct != "application/pkix-cert" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		c, err := x509.ParseCertificate(body)
		if err != nil || !c.Equal(want) {
			t.Errorf("%s: %v", path, err)
		}
	}
	resp, err := http.Get(p.BaseURL + "/pki/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: HTTP %d", resp.StatusCode)
	}
}

// TestHandlerWithOpenSSL checks OCSP, both CRLs and the TSA with OpenSSL's
// clients, before and after a revocation.
func TestHandlerWithOpenSSL(t *testing.T) {
	p, dir := servedPKI(t)
	ctx := context.Background()
	cas := filepath.Join(dir, "cas.pem")
	writePEMs(t, cas, p.Root, p.Issuing)

	ocspQuery := func() string {
		return openssl(t, "ocsp", "-issuer", filepath.Join(dir, "issuing.pem"), "-cert", filepath.Join(dir, "dev-official.pem"),
			"-url", p.BaseURL+PathOCSP, "-CAfile", filepath.Join(dir, "root.pem"), "-verify_other", filepath.Join(dir, "issuing.pem"))
	}
	out := ocspQuery()
	if !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "dev-official.pem: good") {
		t.Fatalf("OCSP before revocation:\n%s", out)
	}

	for _, path := range []string{PathRootCRL, PathIssuingCRL} {
		body, ct := get(t, p.BaseURL+path)
		if ct != "application/pkix-crl" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		file := filepath.Join(dir, "crl.der")
		if err := os.WriteFile(file, body, 0o600); err != nil {
			t.Fatal(err)
		}
		if out := openssl(t, "crl", "-inform", "DER", "-in", file, "-CAfile", cas, "-noout"); !strings.Contains(out, "verify OK") {
			t.Errorf("%s: %s", path, out)
		}
	}

	at := time.Now().Add(-time.Hour)
	if err := p.Revoke(ctx, Official, at, ocsp.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if out := ocspQuery(); !strings.Contains(out, "dev-official.pem: revoked") || !strings.Contains(out, "keyCompromise") {
		t.Fatalf("OCSP after revocation:\n%s", out)
	}
	body, _ := get(t, p.BaseURL+PathIssuingCRL)
	file := filepath.Join(dir, "issuing.crl")
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	text := openssl(t, "crl", "-inform", "DER", "-in", file, "-CAfile", cas, "-noout", "-text")
	// OpenSSL prints whole octets: an even number of hex digits.
	serial := hex.EncodeToString(p.Credentials[Official].Certificate().SerialNumber.Bytes())
	serial = strings.ToUpper(serial)
	if !strings.Contains(text, "verify OK") || !strings.Contains(text, "Serial Number: "+serial) {
		t.Fatalf("issuing CRL after revocation lacks %s:\n%s", serial, text)
	}

	if err := p.Revoke(ctx, "nobody", at, 0); err == nil {
		t.Error("revoking an unknown name succeeded")
	}
}

func writePEMs(t *testing.T, path string, certs ...*x509.Certificate) {
	t.Helper()
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestHandlerTSA(t *testing.T) {
	p, dir := servedPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(p.Root)
	digest := sha256.Sum256([]byte("a document"))
	tok, err := (&tsa.Client{URL: p.BaseURL + PathTSA, Roots: roots}).Timestamp(context.Background(), digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Certificate.Equal(p.Credentials[TSA].Certificate()) || !tok.Policy.Equal(tsa.DevPolicy()) {
		t.Fatalf("token from %s under %v", tok.Certificate.Subject, tok.Policy)
	}
	file := filepath.Join(dir, "token.der")
	if err := os.WriteFile(file, tok.DER, 0o600); err != nil {
		t.Fatal(err)
	}
	out := openssl(t, "ts", "-verify", "-digest", hex.EncodeToString(digest[:]), "-in", file, "-token_in",
		"-CAfile", filepath.Join(dir, "root.pem"), "-untrusted", filepath.Join(dir, "issuing.pem"))
	if !strings.Contains(out, "Verification: OK") {
		t.Fatalf("openssl ts -verify:\n%s", out)
	}
}

func TestFetcherAgainstHandler(t *testing.T) {
	p, _ := servedPKI(t)
	ctx := context.Background()
	oc, err := outbound.New(outbound.Options{Allow: []string{p.BaseURL}})
	if err != nil {
		t.Fatal(err)
	}
	f := &revocation.Fetcher{Client: oc}

	for _, name := range []string{Official, Registrar, TSA} {
		t.Run(name, func(t *testing.T) {
			ev, err := f.Collect(ctx, p.Credentials[name].Chain)
			if err != nil {
				t.Fatal(err)
			}
			if len(ev.OCSPResponses) != 1 || len(ev.CRLs) != 1 {
				t.Fatalf("%d OCSP responses, %d CRLs; want OCSP for the leaf, CRL for the issuing CA", len(ev.OCSPResponses), len(ev.CRLs))
			}
			leaf := p.Credentials[name].Certificate()
			r, err := ocsp.ParseResponseForCert(ev.OCSPResponses[0], leaf, p.Issuing)
			if err != nil || r.Status != ocsp.Good {
				t.Fatalf("OCSP: %v", err)
			}
			crl, err := x509.ParseRevocationList(ev.CRLs[0])
			if err != nil || crl.CheckSignatureFrom(p.Root) != nil {
				t.Fatalf("CRL is not the root's: %v", err)
			}
			last := ev.Certificates[len(ev.Certificates)-1]
			if !last.Equal(p.Credentials[OCSP].Certificate()) {
				t.Errorf("responder certificate not in Evidence.Certificates")
			}
		})
	}

	t.Run("leaf only: chain completed through caIssuers", func(t *testing.T) {
		ev, err := f.Collect(ctx, []*x509.Certificate{p.Credentials[Director].Certificate()})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Certificates) != 4 || !ev.Certificates[2].Equal(p.Root) {
			t.Fatalf("%d certificates", len(ev.Certificates))
		}
	})

	t.Run("revoked signer refused", func(t *testing.T) {
		if err := p.Revoke(ctx, Director, time.Now().Add(-time.Minute), ocsp.AffiliationChanged); err != nil {
			t.Fatal(err)
		}
		_, err := f.Collect(ctx, p.Credentials[Director].Chain)
		if !errors.Is(err, revocation.ErrRevoked) {
			t.Fatalf("err = %v, want ErrRevoked", err)
		}
	})
}

// TestHandlerOCSPGet sends GET requests whose base64 holds "/" and "//",
// which a path-cleaning router would mangle or redirect.
func TestHandlerOCSPGet(t *testing.T) {
	p, _ := servedPKI(t)
	tmpl, err := ocsp.CreateRequest(p.Credentials[Official].Certificate(), p.Issuing, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, err := ocsp.ParseRequest(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	found := 0
	for serial := int64(1); serial < 1<<20 && found < 2; serial++ {
		req.SerialNumber = big.NewInt(serial)
		der, err := req.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		enc := base64.StdEncoding.EncodeToString(der)
		if found == 0 && !strings.Contains(enc, "/") || found == 1 && !strings.Contains(enc, "//") {
			continue
		}
		found++
		resp, err := client.Get(p.BaseURL + PathOCSP + "/" + enc)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET with %q: HTTP %d", enc, resp.StatusCode)
		}
		r, err := ocsp.ParseResponse(body, p.Issuing)
		if err != nil || r.SerialNumber.Int64() != serial || r.Status != ocsp.Good {
			t.Fatalf("GET with %q: %v", enc, err)
		}
	}
	if found != 2 {
		t.Fatal("no serial gave base64 with slashes")
	}
}
