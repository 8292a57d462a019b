// Package testenv brings up, for tests, what signing needs with real parts:
// a SoftHSM2 token, the development PKI with its keys in that token, and
// the PKI's TSA, OCSP and CRL services on a loopback HTTP server.
package testenv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"esign/devpki"
	"esign/devstack"
	"esign/hsm"
	"esign/hsm/hsmtest"
	"esign/internal/extverify"
	"esign/outbound"
	"esign/revocation"
	"esign/signer"
	"esign/tsa"
)

// Env is a running development PKI for one test.
type Env struct {
	Keys   *hsm.KeyManager
	PKI    *devpki.PKI
	Server *httptest.Server
	// Outbound reaches the PKI's server (its IP literal and port, the
	// only way to a loopback address) and nothing else.
	Outbound *outbound.Client
	Signer   *signer.Signer
	Creds    map[string]signer.Credential
	RootFile string // PEM of the development root
	Dir      string
}

// New starts an environment; everything stops when the test ends.
func New(t testing.TB) *Env {
	t.Helper()
	km, _ := hsmtest.NewToken(t, "testenv")
	var handler atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, _ := handler.Load().(http.Handler)
		if h == nil {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	ctx := context.Background()
	pki, err := devpki.Ensure(ctx, devstack.KeyStore{KM: km}, filepath.Join(dir, "pki"), devpki.Options{BaseURL: srv.URL})
	if err != nil {
		t.Fatalf("development PKI: %v", err)
	}
	handler.Store(pki.Handler(""))
	e := &Env{Keys: km, PKI: pki, Server: srv, Dir: dir, Creds: map[string]signer.Credential{}}
	for _, name := range devstack.SignerNames {
		c := pki.Credentials[name]
		e.Creds[name] = signer.Credential{Signer: c.Signer, Chain: c.Chain}
	}
	e.RootFile = filepath.Join(dir, "root.pem")
	extverify.WritePEM(t, e.RootFile, pki.Root)
	if e.Outbound, err = outbound.New(outbound.Options{Allow: []string{srv.URL}, Timeout: 10 * time.Second}); err != nil {
		t.Fatalf("outbound client: %v", err)
	}
	e.Signer = &signer.Signer{
		TSA:        e.TSAClient(),
		Revocation: &revocation.Fetcher{Client: e.Outbound},
	}
	return e
}

// TSAClient returns a client of the environment's TSA. Its outbound
// client is the default one, which trusts whatever URL the test sets, as
// production trusts ESIGN_TSA_URL.
func (e *Env) TSAClient() *tsa.Client {
	return &tsa.Client{URL: e.Server.URL + devpki.PathTSA}
}
