package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"esign/activation"
	"esign/audit"
	"esign/signer"
	"esign/store"
)

// softKeys resolves every credential to one software key: this test is
// about the HTTP layer's limits, which come before any HSM call.
type softKeys struct{ cred signer.Credential }

func (k softKeys) Resolve(context.Context, *store.Credential) (signer.Credential, error) {
	return k.cred, nil
}

func newTestServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
	}, &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test signer"}}, key.Public(), key)
	cert, _ := x509.ParseCertificate(der)
	if err := st.CreateCredential(ctx, store.Credential{Name: "signer", KeyLabel: "signer", Activation: store.ActivationNone}); err != nil {
		t.Fatal(err)
	}
	apiKey, err := st.CreateClient(ctx, "client", []string{"signer"})
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(ctx, st, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Signer, cfg.Store, cfg.Audit = &signer.Signer{}, st, log
	cfg.Keys = softKeys{signer.Credential{Signer: key, Chain: []*x509.Certificate{cert}}}
	cfg.Activator = activation.New(st, activation.Options{})
	return New(cfg), apiKey
}

func newSignRequest(t *testing.T, url, key string) *http.Request {
	t.Helper()
	pdf, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "memo.pdf")
	fw.Write(pdf)
	mw.WriteField("signer", "signer")
	mw.WriteField("level", "B-B")
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/sign", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	return req
}

// TestHSMQueueSaturated: when every HSM slot stays busy past the queue
// wait, a request gets 503 with Retry-After and the error JSON, the
// queue gauge counts it while it waits, and the audit log records it.
func TestHSMQueueSaturated(t *testing.T) {
	s, key := newTestServer(t, Config{HSMConcurrency: 1, QueueWait: 200 * time.Millisecond})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	// A working request first: the layer is sound.
	resp, err := http.DefaultClient.Do(newSignRequest(t, srv.URL, key))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("unloaded request: %v %v", err, resp.Status)
	}
	resp.Body.Close()

	s.slots <- struct{}{} // the only slot is taken
	defer func() { <-s.slots }()
	resp, err = http.DefaultClient.Do(newSignRequest(t, srv.URL, key))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error apiError }
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || e.Error.Code != "busy" {
		t.Fatalf("saturated: %s %q %+v", resp.Status, resp.Header.Get("Retry-After"), e)
	}
	entries, err := s.cfg.Audit.Entries(context.Background(), 0, 10)
	if err != nil || len(entries) != 2 || entries[1].Result != audit.Failure || entries[1].ErrorCode != "busy" {
		t.Fatalf("audit: %v %+v", err, entries)
	}
	var m bytes.Buffer
	s.metrics.reg.WriteText(&m)
	if !bytes.Contains(m.Bytes(), []byte(`esign_signatures_total{level="B-B",result="ok"} 1`)) {
		t.Errorf("metrics:\n%s", m.String())
	}
}
