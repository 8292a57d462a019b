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
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"esign/activation"
	"esign/audit"
	"esign/metrics/metricstest"
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
	mfs := metricstest.Scrape(t, s.Handler())
	if v, _ := metricstest.Value(mfs, "esign_signatures_total", map[string]string{"level": "B-B", "result": "ok"}); v != 1 {
		t.Errorf(`esign_signatures_total{level="B-B",result="ok"} = %v, want 1`, v)
	}
	if v, ok := metricstest.Value(mfs, "esign_hsm_queue_length", nil); !ok || v != 0 {
		t.Errorf("esign_hsm_queue_length = %v, %v; want 0 once the wait is over", v, ok)
	}
}

// TestLargeUploadSpillsToDisk: an upload past the in-memory threshold is
// spooled to a temporary file, signed, and the file removed.
func TestLargeUploadSpillsToDisk(t *testing.T) {
	s, key := newTestServer(t, Config{MaxUpload: 64 << 20})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	tmpdir := t.TempDir()
	t.Setenv("TMPDIR", tmpdir)

	// A one-page PDF whose content stream is 40 MB of blank lines.
	var pdf bytes.Buffer
	offs := []int{}
	obj := func(body string) {
		offs = append(offs, pdf.Len())
		fmt.Fprintf(&pdf, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	pdf.WriteString("%PDF-1.7\n")
	obj("<</Type/Catalog/Pages 2 0 R>>")
	obj("<</Type/Pages/Kids[3 0 R]/Count 1>>")
	obj("<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>")
	content := bytes.Repeat([]byte("% padding line of a large scanned document\n"), (40<<20)/43)
	offs = append(offs, pdf.Len())
	fmt.Fprintf(&pdf, "4 0 obj\n<</Length %d>>\nstream\n", len(content))
	pdf.Write(content)
	pdf.WriteString("\nendstream\nendobj\n")
	xref := pdf.Len()
	fmt.Fprintf(&pdf, "xref\n0 5\n0000000000 65535 f\r\n")
	for _, o := range offs {
		fmt.Fprintf(&pdf, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&pdf, "trailer\n<</Size 5/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", xref)

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "large.pdf")
	fw.Write(pdf.Bytes())
	mw.WriteField("signer", "signer")
	mw.WriteField("level", "B-B")
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/sign", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(out[:pdf.Len()], pdf.Bytes()) || len(out) <= pdf.Len() {
		t.Fatalf("status %s, %d bytes back for %d sent", resp.Status, len(out), pdf.Len())
	}
	left, _ := os.ReadDir(tmpdir)
	for _, e := range left {
		if strings.HasPrefix(e.Name(), "esign-upload-") {
			t.Errorf("temporary upload %s left behind", e.Name())
		}
	}
}
