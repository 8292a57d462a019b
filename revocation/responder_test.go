package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	return string(out), err
}

// TestResponderWithOpenSSL queries the responder with openssl ocsp, which
// also checks the delegated responder chain and the nonce.
func TestResponderWithOpenSSL(t *testing.T) {
	p := newTestPKI(t)
	ctx := context.Background()
	revokedLeaf := p.issueLeaf(t, "revoked leaf")
	revokedAt := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	if err := p.status.Revoke(ctx, p.issuing, revokedLeaf.SerialNumber, revokedAt, ocsp.KeyCompromise, "test"); err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(p.dir, "revoked.pem"), revokedLeaf)

	// A certificate of another CA, asked about with that CA as issuer.
	other := newTestPKI(t)
	writePEM(t, filepath.Join(p.dir, "other-leaf.pem"), other.leaf)
	writePEM(t, filepath.Join(p.dir, "other-issuing.pem"), other.issuing)

	tests := []struct {
		name, cert, issuer, want string
	}{
		{"good", "leaf.pem", "issuing.pem", "leaf.pem: good"},
		{"revoked", "revoked.pem", "issuing.pem", "revoked.pem: revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := openssl(t, "ocsp",
				"-issuer", filepath.Join(p.dir, tc.issuer),
				"-cert", filepath.Join(p.dir, tc.cert),
				"-url", p.server.URL+"/ocsp",
				"-CAfile", filepath.Join(p.dir, "root.pem"),
				"-verify_other", filepath.Join(p.dir, "issuing.pem"))
			if err != nil {
				t.Fatalf("openssl ocsp: %v\n%s", err, out)
			}
			for _, want := range []string{"Response verify OK", tc.want, "Next Update:"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "WARNING") || strings.Contains(out, "Nonce Verify error") {
				t.Errorf("nonce not echoed:\n%s", out)
			}
			if tc.name == "revoked" && (!strings.Contains(out, "Reason: keyCompromise") ||
				!strings.Contains(out, revokedAt.Format("Jan _2 15:04:05 2006 GMT"))) {
				t.Errorf("revocation details missing (want %s):\n%s", revokedAt.Format("Jan _2 15:04:05 2006 GMT"), out)
			}
		})
	}
}

func TestResponderRefusesOtherIssuers(t *testing.T) {
	p := newTestPKI(t)
	other := newTestPKI(t)
	writePEM(t, filepath.Join(p.dir, "other-leaf.pem"), other.leaf)
	writePEM(t, filepath.Join(p.dir, "other-issuing.pem"), other.issuing)
	out, _ := openssl(t, "ocsp", "-issuer", filepath.Join(p.dir, "other-issuing.pem"), "-cert", filepath.Join(p.dir, "other-leaf.pem"),
		"-url", p.server.URL+"/ocsp", "-CAfile", filepath.Join(p.dir, "root.pem"))
	if !strings.Contains(out, "Responder Error: unauthorized") {
		t.Fatalf("want unauthorized:\n%s", out)
	}
}

// TestResponderSignedByIssuer has the CA sign its own responses.
func TestResponderSignedByIssuer(t *testing.T) {
	p := newTestPKI(t)
	r := *p.ocsp
	r.Certificate, r.Signer = p.issuing, p.issKey
	p.ocspServed.Store(&r)
	out, err := openssl(t, "ocsp", "-issuer", filepath.Join(p.dir, "issuing.pem"), "-cert", filepath.Join(p.dir, "leaf.pem"),
		"-url", p.server.URL+"/ocsp", "-CAfile", filepath.Join(p.dir, "root.pem"), "-verify_other", filepath.Join(p.dir, "issuing.pem"))
	if err != nil || !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "leaf.pem: good") {
		t.Fatalf("openssl ocsp: %v\n%s", err, out)
	}
}

func TestResponderGET(t *testing.T) {
	p := newTestPKI(t)
	req, err := ocsp.CreateRequest(p.leaf, p.issuing, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(p.server.URL + "/ocsp/" + base64.StdEncoding.EncodeToString(req))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/ocsp-response" {
		t.Fatalf("Content-Type %q", ct)
	}
	r, err := ocsp.ParseResponseForCert(body, p.leaf, p.issuing)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != ocsp.Good || r.SerialNumber.Cmp(p.leaf.SerialNumber) != 0 || r.IssuerHash != crypto.SHA256 {
		t.Fatalf("status %d serial %v hash %v", r.Status, r.SerialNumber, r.IssuerHash)
	}
	if !r.Certificate.Equal(p.responder) {
		t.Fatalf("response does not carry the responder certificate")
	}
	if got := r.NextUpdate.Sub(r.ThisUpdate); got != time.Hour {
		t.Fatalf("nextUpdate - thisUpdate = %v, want the 1h default", got)
	}
}

// TestResponderNonceAndMultipleRequests builds a request by hand with two
// certificates and a nonce, and checks both answers and the echoed nonce.
func TestResponderNonceAndMultipleRequests(t *testing.T) {
	p := newTestPKI(t)
	revoked := p.issueLeaf(t, "revoked")
	if err := p.status.Revoke(context.Background(), p.issuing, revoked.SerialNumber, time.Now().Add(-time.Hour), ocsp.Superseded, ""); err != nil {
		t.Fatal(err)
	}
	id := func(c *x509.Certificate) asn1.RawValue {
		name, key, err := issuerHashes(p.issuing, crypto.SHA1)
		if err != nil {
			t.Fatal(err)
		}
		der, err := asn1.Marshal(certID{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, Parameters: asn1.NullRawValue},
			NameHash: name, KeyHash: key, Serial: c.SerialNumber})
		if err != nil {
			t.Fatal(err)
		}
		return asn1.RawValue{FullBytes: der}
	}
	nonce, _ := asn1.Marshal([]byte("0123456789abcdef"))
	req, err := asn1.Marshal(ocspRequest{TBSRequest: tbsRequest{
		RequestList: []singleRequest{{CertID: id(p.leaf)}, {CertID: id(revoked)}},
		Extensions:  []pkix.Extension{{Id: oidOCSPNonce, Value: nonce}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	der := p.ocsp.Respond(context.Background(), req)

	for _, tc := range []struct {
		cert *x509.Certificate
		want int
	}{{p.leaf, ocsp.Good}, {revoked, ocsp.Revoked}} {
		r, err := ocsp.ParseResponseForCert(der, tc.cert, p.issuing)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tc.want {
			t.Errorf("serial %v: status %d, want %d", tc.cert.SerialNumber, r.Status, tc.want)
		}
		if tc.want == ocsp.Revoked && r.RevocationReason != ocsp.Superseded {
			t.Errorf("reason %d", r.RevocationReason)
		}
	}
	// The nonce extension must come back verbatim in responseExtensions.
	if !bytes.Contains(der, append([]byte{0x04, byte(len(nonce))}, nonce...)) {
		t.Errorf("nonce not echoed")
	}

	t.Run("oversized nonce refused", func(t *testing.T) {
		big, _ := asn1.Marshal(make([]byte, 33))
		req, _ := asn1.Marshal(ocspRequest{TBSRequest: tbsRequest{
			RequestList: []singleRequest{{CertID: id(p.leaf)}},
			Extensions:  []pkix.Extension{{Id: oidOCSPNonce, Value: big}},
		}})
		if got := p.ocsp.Respond(context.Background(), req); !bytes.Equal(got, ocsp.MalformedRequestErrorResponse) {
			t.Errorf("response %x", got)
		}
	})
}

func TestResponderBadRequests(t *testing.T) {
	p := newTestPKI(t)
	url := p.server.URL + "/ocsp"
	tooMany := func() []byte {
		var list []singleRequest
		for range maxSingleRequests + 1 {
			list = append(list, singleRequest{CertID: asn1.RawValue{FullBytes: []byte{0x30, 0x00}}})
		}
		der, _ := asn1.Marshal(ocspRequest{TBSRequest: tbsRequest{RequestList: list}})
		return der
	}()
	tests := []struct {
		name, method, path, ctype string
		body                      []byte
		wantHTTP                  int
		wantOCSP                  []byte
	}{
		{"garbage POST", http.MethodPost, "", "application/ocsp-request", []byte("junk"), 200, ocsp.MalformedRequestErrorResponse},
		{"too many requests", http.MethodPost, "", "application/ocsp-request", tooMany, 200, ocsp.MalformedRequestErrorResponse},
		{"garbage GET", http.MethodGet, "/!!!notbase64", "", nil, 200, ocsp.MalformedRequestErrorResponse},
		{"wrong content type", http.MethodPost, "", "text/plain", []byte("x"), http.StatusUnsupportedMediaType, nil},
		{"huge body", http.MethodPost, "", "application/ocsp-request", make([]byte, MaxOCSPRequestSize+1), http.StatusRequestEntityTooLarge, nil},
		{"PUT", http.MethodPut, "", "", nil, http.StatusMethodNotAllowed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, url+tc.path, bytes.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantHTTP {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.wantHTTP)
			}
			if tc.wantOCSP != nil && !bytes.Equal(body, tc.wantOCSP) {
				t.Fatalf("body %x, want %x", body, tc.wantOCSP)
			}
		})
	}

	t.Run("broken status file gives internalError", func(t *testing.T) {
		if err := os.WriteFile(p.status.Path, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(p.status.Path)
		req, _ := ocsp.CreateRequest(p.leaf, p.issuing, nil)
		if got := p.ocsp.Respond(context.Background(), req); !bytes.Equal(got, ocsp.InternalErrorErrorResponse) {
			t.Fatalf("response %x", got)
		}
	})
}

// unknownSource vouches for no serial.
type unknownSource struct{}

func (unknownSource) Status(context.Context, *big.Int) (Status, error) {
	return Status{}, fmt.Errorf("serial not issued here: %w", ErrUnknownCertificate)
}

func TestResponderUnknownFromSource(t *testing.T) {
	p := newTestPKI(t)
	r := *p.ocsp
	r.Source = unknownSource{}
	p.ocspServed.Store(&r)
	out, err := openssl(t, "ocsp", "-issuer", filepath.Join(p.dir, "issuing.pem"), "-cert", filepath.Join(p.dir, "leaf.pem"),
		"-url", p.server.URL+"/ocsp", "-CAfile", filepath.Join(p.dir, "root.pem"), "-verify_other", filepath.Join(p.dir, "issuing.pem"))
	if err != nil || !strings.Contains(out, "Response verify OK") || !strings.Contains(out, "leaf.pem: unknown") {
		t.Fatalf("openssl ocsp: %v\n%s", err, out)
	}
}

func TestCRLWithOpenSSL(t *testing.T) {
	p := newTestPKI(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	p.issuingCRL.Now = func() time.Time { return now }
	p.issuingCRL.Refresh = time.Hour

	get := func(t *testing.T) *x509.RevocationList {
		t.Helper()
		resp, err := http.Get(p.server.URL + "/issuing.crl")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "application/pkix-crl" {
			t.Fatalf("Content-Type %q", ct)
		}
		der, _ := io.ReadAll(resp.Body)
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		return crl
	}
	opensslCheck := func(t *testing.T, crl *x509.RevocationList, wantSerials ...*big.Int) {
		t.Helper()
		path := filepath.Join(p.dir, "issuing.crl")
		if err := os.WriteFile(path, crl.Raw, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := openssl(t, "crl", "-inform", "DER", "-in", path, "-CAfile", filepath.Join(p.dir, "cas.pem"), "-noout")
		if err != nil || !strings.Contains(out, "verify OK") {
			t.Fatalf("openssl crl verify: %v\n%s", err, out)
		}
		text, err := openssl(t, "crl", "-inform", "DER", "-in", path, "-noout", "-text")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range wantSerials {
			// OpenSSL prints whole octets: an even number of hex digits.
			if !strings.Contains(text, fmt.Sprintf("Serial Number: %X", s.Bytes())) {
				t.Errorf("CRL text lacks serial %X:\n%s", s, text)
			}
		}
		if n := strings.Count(text, "Serial Number:"); n != len(wantSerials) {
			t.Errorf("CRL lists %d serials, want %d", n, len(wantSerials))
		}
	}

	first := get(t)
	opensslCheck(t, first)
	if !first.NextUpdate.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("NextUpdate %v", first.NextUpdate)
	}
	if again := get(t); !bytes.Equal(again.Raw, first.Raw) {
		t.Errorf("CRL signed again although nothing changed")
	}

	// A revocation shows at once, with a higher CRL number.
	if err := p.status.Revoke(ctx, p.issuing, p.leaf.SerialNumber, now.Add(-time.Minute), ocsp.KeyCompromise, ""); err != nil {
		t.Fatal(err)
	}
	second := get(t)
	opensslCheck(t, second, p.leaf.SerialNumber)
	if second.Number.Cmp(first.Number) <= 0 {
		t.Errorf("CRL number %v after %v", second.Number, first.Number)
	}
	if e := second.RevokedCertificateEntries; len(e) != 1 || e[0].ReasonCode != ocsp.KeyCompromise {
		t.Errorf("entries %+v", e)
	}

	// Past the refresh interval a new CRL is signed even without changes.
	now = now.Add(61 * time.Minute)
	third := get(t)
	if third.Number.Cmp(second.Number) <= 0 || !third.ThisUpdate.Equal(now) {
		t.Errorf("after refresh: number %v (was %v), thisUpdate %v", third.Number, second.Number, third.ThisUpdate)
	}

	// The root CRL is signed by the root and lists only the root's revocations.
	resp, err := http.Get(p.server.URL + "/root.crl")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rootCRL, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := rootCRL.CheckSignatureFrom(p.root); err != nil || len(rootCRL.RevokedCertificateEntries) != 0 {
		t.Errorf("root CRL: %v, %d entries", err, len(rootCRL.RevokedCertificateEntries))
	}
}

func TestCRLMethod(t *testing.T) {
	p := newTestPKI(t)
	rec := httptest.NewRecorder()
	p.issuingCRL.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/issuing.crl", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST: HTTP %d", rec.Code)
	}
}
