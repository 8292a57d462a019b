package csc_test

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"esign/audit"
	"esign/csc"
	"esign/signer"
	"esign/store"
	"esign/store/storetest"
)

// TestBodyLimits: every method but signDoc takes a small body; signDoc
// takes documents up to MaxBody, and no more requests at once than
// DocRequests. Refusals are CSC error JSON.
func TestBodyLimits(t *testing.T) {
	f := newFixtureWith(t, storetest.Open(t, store.SQLite, store.Options{}), func(c *csc.Config) {
		c.MaxBody = 1 << 20
	})
	pad := func(n int) []byte { // a valid JSON object of n bytes
		return []byte(`{"credentialID":"dev-official"` + strings.Repeat(" ", n-len(`{"credentialID":"dev-official"}`)) + `}`)
	}
	pdf := memo(t)
	cases := []struct {
		name   string
		path   string
		body   func(t *testing.T) []byte
		status int
	}{
		{"list at 64 KiB", "v2/credentials/list", func(*testing.T) []byte { return pad(64 << 10) }, 200},
		{"list over 64 KiB", "v2/credentials/list", func(*testing.T) []byte { return pad(64<<10 + 1) }, 413},
		{"info over 64 KiB", "v1/credentials/info", func(*testing.T) []byte { return pad(100 << 10) }, 413},
		{"authorize over 64 KiB", "v2/credentials/authorize", func(*testing.T) []byte { return pad(1 << 20) }, 413},
		{"signHash over 64 KiB", "v1/signatures/signHash", func(*testing.T) []byte { return pad(65 << 10) }, 413},
		{"timestamp over 64 KiB", "v2/signatures/timestamp", func(*testing.T) []byte { return pad(65 << 10) }, 413},
		{"revoke over 64 KiB", "v2/auth/revoke", func(*testing.T) []byte { return pad(65 << 10) }, 413},
		{"signDoc over 64 KiB", "v2/signatures/signDoc", func(t *testing.T) []byte {
			sad := f.authorize(t, f.key, "dev-official", 3, nil, "", "")
			b, _ := json.Marshal(signDocBody("dev-official", sad, pdf, pdf, pdf))
			if len(b) <= 64<<10 {
				t.Fatalf("the body is %d bytes", len(b))
			}
			return b
		}, 200},
		{"signDoc over MaxBody", "v2/signatures/signDoc", func(t *testing.T) []byte {
			sad := f.authorize(t, f.key, "dev-official", 1, nil, "", "")
			b, _ := json.Marshal(signDocBody("dev-official", sad, bytes.Repeat([]byte{'%'}, 1<<20)))
			return b
		}, 413},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := f.call(t, f.key, tc.path, tc.body(t))
			if status != tc.status {
				t.Fatalf("%d %v, want %d", status, out, tc.status)
			}
			if status == 413 && errorCode(out) != "invalid_request" {
				t.Errorf("%v", out)
			}
		})
	}
	t.Run("signDoc while DocRequests are in flight", func(t *testing.T) {
		sad := f.authorize(t, f.key, "dev-official", 1, nil, "", "")
		b, _ := json.Marshal(signDocBody("dev-official", sad, pdf))
		release := csc.HoldDocRequests(f.server)
		req, _ := http.NewRequest(http.MethodPost, f.url+"/csc/v2/signatures/signDoc", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+f.key)
		resp, err := http.DefaultClient.Do(req)
		release()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), `"temporarily_unavailable"`) {
			t.Fatalf("%d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), raw)
		}
		// Nothing was spent: the SAD signs now.
		if status, out := f.call(t, f.key, "v2/signatures/signDoc", b); status != 200 {
			t.Fatalf("after: %d %v", status, out)
		}
	})
}

// failingKey signs ok times, then fails as an HSM would.
type failingKey struct {
	crypto.Signer
	ok atomic.Int32
}

func (k *failingKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if k.ok.Add(-1) < 0 {
		return nil, errors.New("CKR_DEVICE_ERROR")
	}
	return k.Signer.Sign(r, digest, opts)
}

// TestSignDocAllOrNothing: signDoc answers every document signed or
// none; a document that cannot be signed is found before the SAD is
// spent, and the audit log records a signature as a success only when
// it is answered.
func TestSignDocAllOrNothing(t *testing.T) {
	f := newFixture(t, store.SQLite)
	ctx := t.Context()
	official := f.keys["dev-official"]
	flaky := &failingKey{Signer: official.Signer}
	f.keys["flaky"] = signer.Credential{Signer: flaky, Chain: official.Chain}
	if err := f.st.CreateCredential(ctx, store.Credential{Name: "flaky", KeyLabel: "flaky", ChainPEM: mustChain(t, f, "dev-official")}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AssignCredentials(ctx, "dev-client", "flaky"); err != nil {
		t.Fatal(err)
	}
	pdf := memo(t)
	signed := func(cred string) (ok, failed int) {
		for _, e := range f.entries(t, "") {
			if e.Credential != cred {
				continue
			}
			if e.Result == audit.Success {
				ok++
			} else {
				failed++
			}
		}
		return
	}
	cases := []struct {
		name     string
		cred     string
		pin      string
		docs     [][]byte
		status   int
		sadAfter bool // the SAD still signs both documents
		failed   int  // failure entries
	}{
		{"not a PDF, second of two, SCAL 2", "dev-director", pin, [][]byte{pdf, []byte("not a PDF at all")}, 400, true, 1},
		{"not a PDF, first of two, SCAL 1", "dev-official", "", [][]byte{[]byte("%PDF-1.7 broken"), pdf}, 400, true, 1},
		{"the key fails on the second", "flaky", "", [][]byte{pdf, pdf}, 503, false, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			flaky.ok.Store(1)
			ok0, failed0 := signed(tc.cred)
			sad := f.authorize(t, f.key, tc.cred, 2, nil, "", tc.pin)
			status, out := f.call(t, f.key, "v2/signatures/signDoc", signDocBody(tc.cred, sad, tc.docs...))
			if status != tc.status || out["DocumentWithSignature"] != nil {
				t.Fatalf("%d %v, want %d", status, out, tc.status)
			}
			ok, failed := signed(tc.cred)
			if ok != ok0 || failed-failed0 != tc.failed {
				t.Errorf("%d success and %d failure entries, want 0 and %d", ok-ok0, failed-failed0, tc.failed)
			}
			status, out = f.call(t, f.key, "v2/signatures/signDoc", signDocBody(tc.cred, sad, pdf, pdf))
			if tc.sadAfter != (status == 200) {
				t.Fatalf("the SAD after the refusal: %d %v", status, out)
			}
		})
	}
}
