package csc_test

import (
	"crypto"
	"encoding/base64"
	"net/http"
	"os"
	"testing"
	"time"

	"esign/audit"
	"esign/csc"
	"esign/store"
	"esign/store/storetest"
)

// TestBusyKeepsSAD: a request refused because every signing slot is
// taken (503) leaves its SAD whole: under SCAL 2 the signer would
// otherwise have to give the PIN again.
func TestBusyKeepsSAD(t *testing.T) {
	f := newFixtureWith(t, storetest.Open(t, store.SQLite, store.Options{}), func(c *csc.Config) {
		c.Concurrency, c.QueueWait = 1, time.Millisecond
	})
	h := digest(crypto.SHA256)
	cases := []struct {
		name string
		sad  func(t *testing.T) string
		call func(t *testing.T, sad string) (int, map[string]any)
	}{
		{"signHash, SCAL 2", func(t *testing.T) string {
			return f.authorize(t, f.key, "dev-director", 1, []string{b64(h)}, csc.OIDSHA256, pin)
		}, func(t *testing.T, sad string) (int, map[string]any) {
			return f.call(t, f.key, "v2/signatures/signHash", map[string]any{"credentialID": "dev-director", "SAD": sad,
				"hashes": []string{b64(h)}, "hashAlgorithmOID": csc.OIDSHA256, "signAlgo": csc.OIDRSA})
		}},
		{"signDoc, SCAL 2", func(t *testing.T) string {
			return f.authorize(t, f.key, "dev-director", 1, nil, "", pin)
		}, func(t *testing.T, sad string) (int, map[string]any) {
			return f.call(t, f.key, "v2/signatures/signDoc", signDocBody("dev-director", sad, memo(t)))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sad := tc.sad(t)
			release := csc.HoldSlots(f.server)
			status, out := tc.call(t, sad)
			release()
			if status != http.StatusServiceUnavailable || errorCode(out) != "temporarily_unavailable" {
				t.Fatalf("while busy: %d %v", status, out)
			}
			if status, out := tc.call(t, sad); status != http.StatusOK {
				t.Fatalf("the SAD after a busy refusal: %d %v", status, out)
			}
		})
	}
	for _, a := range []audit.Action{audit.ActionSignHash, ""} {
		var ok int
		for _, e := range f.entries(t, a) {
			if e.Result == audit.Success {
				ok++
			}
		}
		if ok != 1 {
			t.Errorf("%d successful %s entries, want 1", ok, a)
		}
	}
}

// memo is a small PDF of the corpus.
func memo(t testing.TB) []byte {
	t.Helper()
	pdf, err := os.ReadFile("../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

// signDocBody is a signDoc request for the PDFs at B-B.
func signDocBody(cred, sad string, pdfs ...[]byte) map[string]any {
	docs := []map[string]any{}
	for _, p := range pdfs {
		docs = append(docs, map[string]any{"document": base64.StdEncoding.EncodeToString(p), "signature_format": "P", "conformance_level": "AdES-B-B"})
	}
	return map[string]any{"credentialID": cred, "SAD": sad, "documents": docs}
}
