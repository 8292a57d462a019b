package main

import (
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"esign/internal/extverify"
)

// TestDaemonExtend runs POST /api/v1/extend on esignd as deployed in
// development mode: a B-T transcript signed by /sign becomes B-LTA, then
// is renewed; pdfsig, qpdf, openssl ts and the public verifier accept
// each result; the refusals of the contract come with their codes.
func TestDaemonExtend(t *testing.T) {
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	d := startDaemon(t, bin, dataDir)
	key := d.key(t, "dev-api-key")
	rootFile := filepath.Join(dataDir, "pki", "root.pem")
	nss := extverify.NSSDBFromPEM(t, rootFile)
	pdf, _ := os.ReadFile("../../testdata/corpus/transcript-chromium.pdf")
	status, _, bt := d.sign(t, key, pdf, map[string]string{"signer": "dev-registrar", "level": "B-T"})
	if status != http.StatusOK {
		t.Fatalf("sign: %d %s", status, bt)
	}

	doc := bt
	for round := 1; round <= 2; round++ {
		status, hdr, out := d.post(t, "/api/v1/extend", key, doc, nil)
		if status != http.StatusOK || hdr.Get("X-Esign-Audit") != "recorded" || hdr.Get("X-Esign-Level") != "B-LTA" {
			t.Fatalf("round %d: %d %v %s", round, status, hdr, out)
		}
		path := filepath.Join(t.TempDir(), "extended.pdf")
		os.WriteFile(path, out, 0o644)
		if err := extverify.QPDFCheck(path); err != nil {
			t.Error(err)
		}
		for _, s := range extverify.PDFSig(t, nss, path) {
			if s.Signed && !strings.HasPrefix(s.Field, "DocumentTimestamp") && (!s.Valid || !s.Trusted) {
				t.Errorf("round %d: pdfsig %s: %s / %s", round, s.Field, s.Validation, s.CertStatus)
			}
		}
		n := 0
		for _, s := range extverify.Signatures(t, out) {
			if s.DocTS {
				n++
				sum := sha256.Sum256(s.Signed)
				if err := extverify.OpenSSLTSVerify(t, s.Contents, crypto.SHA256, sum[:], rootFile, ""); err != nil {
					t.Errorf("round %d, document timestamp %d: %v", round, n, err)
				}
			}
		}
		if n != round {
			t.Errorf("round %d: %d document timestamps", round, n)
		}
		code, rep := d.verify(t, out)
		var r struct {
			Document struct {
				Indication string `json:"indication"`
			} `json:"document"`
			Signatures []struct {
				Kind  string `json:"kind"`
				Level string `json:"level"`
			} `json:"signatures"`
		}
		if err := json.Unmarshal(rep, &r); err != nil || code != 200 || r.Document.Indication != "TOTAL-PASSED" || r.Signatures[0].Level != "PAdES-BASELINE-LTA" {
			t.Errorf("round %d: public verifier %d: %s", round, code, rep)
		}
		doc = out
	}

	tampered := append([]byte(nil), bt...)
	tampered[len(pdf)/2] ^= 1
	_, _, p1 := d.sign(t, key, pdf, map[string]string{"signer": "dev-official", "level": "B-B", "certify": "1"})
	for _, c := range []struct {
		name   string
		pdf    []byte
		fields map[string]string
		status int
		code   string
	}{
		{"tampered", tampered, nil, 422, "not_extendable"},
		{"unsigned", pdf, nil, 422, "not_extendable"},
		{"docmdp p1", p1, nil, 409, "certified_no_changes"},
		{"bad level", bt, map[string]string{"level": "B-B"}, 400, "bad_request"},
		{"unknown field", bt, map[string]string{"signer": "dev-official"}, 400, "unknown_field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, body := d.post(t, "/api/v1/extend", key, c.pdf, c.fields)
			if status != c.status || errorCode(t, body) != c.code {
				t.Errorf("%d %s, want %d %s", status, body, c.status, c.code)
			}
		})
	}
}
