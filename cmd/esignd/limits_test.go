package main

import (
	"bytes"
	"net/http"
	"os"
	"testing"
)

// TestDaemonUploadLimit: an upload over ESIGN_MAX_UPLOAD_MB gets 413 with
// the error JSON, on the signing API and the verifier alike.
func TestDaemonUploadLimit(t *testing.T) {
	d := startDaemon(t, buildDaemon(t), t.TempDir(), "ESIGN_MAX_UPLOAD_MB=1")
	pdf, _ := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")
	big := append(append([]byte(nil), pdf...), bytes.Repeat([]byte("%padding\n"), (2<<20)/9)...)
	status, _, body := d.sign(t, d.key(t, "dev-api-key"), big, map[string]string{"signer": "dev-official", "level": "B-B"})
	if status != http.StatusRequestEntityTooLarge || errorCode(t, body) != "too_large" {
		t.Fatalf("sign: %d %s", status, body)
	}
	status, body = d.verify(t, big)
	if status != http.StatusRequestEntityTooLarge || errorCode(t, body) != "too_large" {
		t.Fatalf("verify: %d %s", status, body)
	}
	// Under the limit still works.
	if status, _, body := d.sign(t, d.key(t, "dev-api-key"), pdf, map[string]string{"signer": "dev-official", "level": "B-B"}); status != http.StatusOK {
		t.Fatalf("small file: %d %s", status, body)
	}
}
