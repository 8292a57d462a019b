package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"esign/internal/extverify"
)

// TestDaemonFreshStartSequence is issue #15: right after the first start
// on an empty data directory, an e-Saraban route (a certification, an
// approval by another signer, a final B-LTA approval by the first signer)
// must come out valid and trusted in pdfsig, the NSS-based verifier that
// Firefox, Thunderbird and LibreOffice share.
func TestDaemonFreshStartSequence(t *testing.T) {
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	d := startDaemon(t, bin, dataDir)
	key := d.key(t, "dev-api-key")
	pki := filepath.Join(dataDir, "pki")
	nss := extverify.NSSDBFromPEM(t, filepath.Join(pki, "root.pem"))

	steps := []struct {
		signer, level, certify string
	}{
		{"dev-official", "B-LT", "2"},
		{"dev-registrar", "B-LT", ""},
		{"dev-official", "B-LTA", ""},
	}
	pdf, err := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		fields := map[string]string{"signer": s.signer, "level": s.level}
		if s.certify != "" {
			fields["certify"] = s.certify
		}
		status, _, out := d.sign(t, key, pdf, fields)
		if status != http.StatusOK {
			t.Fatalf("step %d (%s %s): status %d: %s", i+1, s.signer, s.level, status, out)
		}
		pdf = out
	}
	path := filepath.Join(t.TempDir(), "route.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}

	sigs := extverify.PDFSig(t, nss, path)
	if len(sigs) != len(steps)+1 { // and the B-LTA document time-stamp
		t.Fatalf("pdfsig lists %d signatures, want %d: %+v", len(sigs), len(steps)+1, sigs)
	}
	for i, s := range steps {
		t.Run(s.signer+" "+s.level, func(t *testing.T) {
			got := sigs[i]
			if !got.Valid {
				t.Fatalf("pdfsig: %q", got.Validation)
			}
			if got.Trusted {
				return
			}
			if !extverify.PDFSigSharedCertBug(sigs, i) {
				t.Fatalf("pdfsig: %q", got.CertStatus)
			}
			// The signer made an earlier signature too: pdfsig's verdict is
			// poppler's stale certificate, not ours. Ask NSS about this
			// certificate alone, in a process of its own.
			t.Logf("pdfsig: %q on a certificate it already saw; checking it with vfychain", got.CertStatus)
			if err := extverify.NSSVerifyChain(nss, filepath.Join(pki, s.signer+".pem"), filepath.Join(pki, "issuing.pem")); err != nil {
				t.Fatal(err)
			}
		})
	}
}
