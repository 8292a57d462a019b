package revocation

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"esign/outbound"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

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

// testPKI is a root, an issuing CA, a leaf and a delegated OCSP responder
// whose AIA and CRL URLs point at one httptest server that runs the
// responder and the CRL handlers of this package.
type testPKI struct {
	root, issuing, leaf, responder *x509.Certificate
	rootKey, issKey, respKey       crypto.Signer
	status                         *FileSource
	ocsp                           *Responder
	ocspServed                     atomic.Pointer[Responder] // what /ocsp runs; swap with a copy, never edit in place
	issuingCRL, rootCRL            *CRLHandler
	server                         *httptest.Server
	hits                           atomic.Int64
	ocspDown                       atomic.Bool // when set, /ocsp answers HTTP 503
	crlDown                        atomic.Bool // when set, the CRLs answer HTTP 503
	dir                            string
}

type pkiOptions struct {
	responderNoCheck bool // default true via newTestPKI
	responderEKU     bool
}

func newTestPKI(t *testing.T) *testPKI {
	return newTestPKIWith(t, pkiOptions{responderNoCheck: true, responderEKU: true})
}

func newTestPKIWith(t *testing.T, opts pkiOptions) *testPKI {
	t.Helper()
	p := &testPKI{rootKey: newKey(t), issKey: newKey(t), respKey: newKey(t), dir: t.TempDir()}
	var handler http.Handler
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(p.server.Close)
	base := p.server.URL

	p.root = issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "revocation test root"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, p.rootKey.Public(), nil, p.rootKey)
	p.issuing = issue(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "revocation test issuing CA"}, IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		IssuingCertificateURL: []string{base + "/root.crt"},
		CRLDistributionPoints: []string{base + "/root.crl"},
	}, p.issKey.Public(), p.root, p.rootKey)
	p.leaf = p.issueLeaf(t, "revocation test leaf")
	respTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "revocation test OCSP responder"},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		IssuingCertificateURL: []string{base + "/issuing.crt"},
		CRLDistributionPoints: []string{base + "/issuing.crl"},
	}
	if opts.responderEKU {
		respTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	}
	if opts.responderNoCheck {
		respTmpl.ExtraExtensions = []pkix.Extension{{Id: oidOCSPNoCheck, Value: []byte{0x05, 0x00}}}
	}
	p.responder = issue(t, respTmpl, p.respKey.Public(), p.issuing, p.issKey)

	p.status = &FileSource{Path: filepath.Join(p.dir, "status.json")}
	p.ocsp = &Responder{Issuer: p.issuing, Certificate: p.responder, Signer: p.respKey, Source: p.status.ForIssuer(p.issuing)}
	p.ocspServed.Store(p.ocsp)
	p.issuingCRL = &CRLHandler{Issuer: p.issuing, Signer: p.issKey, Source: p.status.ForIssuer(p.issuing)}
	p.rootCRL = &CRLHandler{Issuer: p.root, Signer: p.rootKey, Source: p.status.ForIssuer(p.root)}

	der := func(c *x509.Certificate) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/pkix-cert")
			w.Write(c.Raw)
		})
	}
	unavailable := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch path := r.URL.Path; {
		case path == "/ocsp" || strings.HasPrefix(path, "/ocsp/"):
			if p.ocspDown.Load() {
				unavailable(w, r)
				return
			}
			http.StripPrefix("/ocsp", p.ocspServed.Load()).ServeHTTP(w, r)
		case path == "/issuing.crl" || path == "/root.crl":
			if p.crlDown.Load() {
				unavailable(w, r)
			} else if path == "/issuing.crl" {
				p.issuingCRL.ServeHTTP(w, r)
			} else {
				p.rootCRL.ServeHTTP(w, r)
			}
		case path == "/issuing.crt":
			der(p.issuing).ServeHTTP(w, r)
		case path == "/root.crt":
			der(p.root).ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})

	writePEM(t, filepath.Join(p.dir, "root.pem"), p.root)
	writePEM(t, filepath.Join(p.dir, "issuing.pem"), p.issuing)
	writePEM(t, filepath.Join(p.dir, "cas.pem"), p.root, p.issuing)
	writePEM(t, filepath.Join(p.dir, "leaf.pem"), p.leaf)
	return p
}

func (p *testPKI) issueLeaf(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	base := p.server.URL
	return issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		OCSPServer:            []string{base + "/ocsp"},
		IssuingCertificateURL: []string{base + "/issuing.crt"},
		CRLDistributionPoints: []string{base + "/issuing.crl"},
	}, newKey(t).Public(), p.issuing, p.issKey)
}

func writePEM(t *testing.T, path string, certs ...*x509.Certificate) {
	t.Helper()
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// fetcher returns a Fetcher whose client may reach the test server (an
// IP literal with its port, the only way to a loopback address) and
// nothing else.
func (p *testPKI) fetcher(t *testing.T) *Fetcher {
	return p.fetcherWith(t, outbound.Options{})
}

func (p *testPKI) fetcherWith(t *testing.T, opts outbound.Options, allow ...string) *Fetcher {
	t.Helper()
	opts.Allow = append([]string{p.server.URL}, allow...)
	c, err := outbound.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &Fetcher{Client: c}
}
