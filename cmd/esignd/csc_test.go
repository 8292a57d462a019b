package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"esign/admincli"
	"esign/internal/extverify"
)

// TestRemoteSigningEndToEnd: a second esignd whose credentials'
// keys live in the first one's CSC API (package cscclient) signs a PDF at
// B-LTA through it. pdfsig and the first daemon's verifier pass the
// result, and the first daemon's audit log shows the signHash calls. A
// wrong PIN is passed on and refused; a credential without activation
// authorises once for several signatures; a remote that is down is 503
// with Retry-After.
func TestRemoteSigningEndToEnd(t *testing.T) {
	bin := buildDaemon(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startDaemon(t, bin, dirA)
	rootA := filepath.Join(dirA, "pki", "root.pem")
	// B's timestamps and validation data come from A's development PKI
	// too, so that one root anchors the whole document. A's URLs are the
	// operator's configuration: trusted though on loopback.
	b := startDaemon(t, bin, dirB, "ESIGN_TSA_URL="+a.base+"/tsa", "ESIGN_SIGNER_FETCH_TRUSTED="+a.base, "ESIGN_TRUST="+rootA)

	keyFile := filepath.Join(t.TempDir(), "csc-key")
	if err := os.WriteFile(keyFile, []byte(a.key(t, "dev-api-key")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(f func(context.Context, []string, io.Writer, io.Writer, func(string) string) error, dir string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		getenv := func(k string) string {
			if k == "ESIGN_DATA_DIR" {
				return dir
			}
			return ""
		}
		if err := f(ctx, args, &out, &errOut, getenv); err != nil {
			t.Fatalf("esign admin %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		if strings.Contains(out.String()+errOut.String(), a.key(t, "dev-api-key")) {
			t.Fatal("the admin command printed the remote API key")
		}
		return out.String()
	}
	admin := func(dir string, args ...string) string { t.Helper(); return run(admincli.Run, dir, args...) }
	auditCLI := func(dir string, args ...string) string { t.Helper(); return run(admincli.RunAudit, dir, args...) }
	for _, c := range []struct{ name, remote string }{{"remote-director", "dev-director"}, {"remote-official", "dev-official"}} {
		admin(dirB, "credential", "create", c.name, "--csc-url", a.base, "--csc-credential", c.remote, "--csc-key-file", keyFile,
			"--display-name", "(ผ่านบริการลงนามระยะไกล)")
		admin(dirB, "client", "assign", "dev-client", c.name)
	}
	keyB := b.key(t, "dev-api-key")
	pdf, err := os.ReadFile("../../testdata/corpus/memo-libreoffice.pdf")
	if err != nil {
		t.Fatal(err)
	}
	auditOf := func(action string) (success, failure int) {
		for _, line := range strings.Split(strings.TrimSpace(auditCLI(dirA, "list", "--limit", "10000")), "\n") {
			var e struct{ Action, Result, Credential string }
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("audit list: %v: %s", err, line)
			}
			if e.Action == action && e.Result == "success" {
				success++
			} else if e.Action == action {
				failure++
			}
		}
		return success, failure
	}

	t.Run("B-LTA with the director's PIN", func(t *testing.T) {
		status, hdr, out := b.sign(t, keyB, pdf, map[string]string{"signer": "remote-director", "level": "B-LTA", "activation": "123456"})
		if status != http.StatusOK || hdr.Get("X-Esign-Level") != "B-LTA" {
			t.Fatalf("sign: %d %s\n%s", status, out, b.log)
		}
		path := filepath.Join(t.TempDir(), "signed.pdf")
		os.WriteFile(path, out, 0o644)
		sigs := extverify.PDFSig(t, extverify.NSSDBFromPEM(t, rootA), path)
		if len(sigs) == 0 || !sigs[0].Valid || !sigs[0].Trusted {
			t.Fatalf("pdfsig: %+v", sigs)
		}
		status, rep := a.verify(t, out)
		var r struct {
			Document struct {
				Indication string `json:"indication"`
			} `json:"document"`
			Signatures []struct {
				Level string `json:"level"`
			} `json:"signatures"`
		}
		if err := json.Unmarshal(rep, &r); status != http.StatusOK || err != nil || r.Document.Indication != "TOTAL-PASSED" ||
			len(r.Signatures) == 0 || r.Signatures[0].Level != "PAdES-BASELINE-LTA" {
			t.Fatalf("verifier: %d %s", status, rep)
		}
		if ok, _ := auditOf("sign_hash"); ok != 1 {
			t.Errorf("%d sign_hash entries in the first daemon's audit log, want 1", ok)
		}
	})
	t.Run("a wrong PIN is passed on and refused", func(t *testing.T) {
		status, _, out := b.sign(t, keyB, pdf, map[string]string{"signer": "remote-director", "level": "B-B", "activation": "000000"})
		if status != http.StatusForbidden || errorCode(t, out) != "activation_failed" {
			t.Fatalf("wrong PIN: %d %s", status, out)
		}
		if _, failed := auditOf("authorize"); failed != 1 {
			t.Errorf("%d failed authorize entries, want 1", failed)
		}
	})
	t.Run("one authorisation for many signatures", func(t *testing.T) {
		before, _ := auditOf("authorize")
		for range 3 {
			if status, _, out := b.sign(t, keyB, pdf, map[string]string{"signer": "remote-official", "level": "B-B"}); status != http.StatusOK {
				t.Fatalf("sign: %d %s", status, out)
			}
		}
		if after, _ := auditOf("authorize"); after != before+1 {
			t.Errorf("%d authorisations for 3 signatures, want 1", after-before)
		}
		if ok, _ := auditOf("sign_hash"); ok != 4 {
			t.Errorf("%d sign_hash entries, want 4", ok)
		}
	})
	t.Run("batches refuse a remote SCAL 2 credential", func(t *testing.T) {
		c := &batchClient{base: b.base, key: keyB, http: http.DefaultClient}
		okBefore, badBefore := auditOf("authorize")
		cases := []struct {
			spec   map[string]string
			status int
			code   string
		}{
			// Every document would fail activation_failed at signing: a
			// batch keeps no PIN to forward. Refused at creation, before
			// the PIN is tried.
			{map[string]string{"signer": "remote-director", "level": "B-B", "activation": "123456"}, http.StatusUnprocessableEntity, "activation_unsupported"},
			{map[string]string{"signer": "remote-director", "level": "B-B"}, http.StatusUnprocessableEntity, "activation_unsupported"},
			{map[string]string{"signer": "remote-official", "level": "B-B"}, http.StatusCreated, ""},
		}
		for _, tc := range cases {
			a, _ := c.create(t, tc.spec)
			if a.status != tc.status || tc.code != "" && errorCode(t, a.body) != tc.code {
				t.Errorf("%v: %s", tc.spec, a)
			}
			if tc.code != "" && !bytes.Contains(a.body, []byte("/api/v1/sign")) {
				t.Errorf("the refusal does not say what to use instead: %s", a.body)
			}
		}
		if ok, bad := auditOf("authorize"); ok+bad != okBefore+badBefore {
			t.Errorf("%d authorisations while creating batches, want none", ok+bad-okBefore-badBefore)
		}
	})
	if out := auditCLI(dirA, "verify"); !strings.Contains(out, "verified") {
		t.Errorf("audit verify: %s", out)
	}
	for _, secret := range []string{"123456", "000000", a.key(t, "dev-api-key"), "sad_"} {
		if bytes.Contains(a.log.Bytes(), []byte(secret)) || bytes.Contains(b.log.Bytes(), []byte(secret)) {
			t.Errorf("a daemon's log holds %.8q…", secret)
		}
	}
	t.Run("the remote is down", func(t *testing.T) {
		a.stop(t)
		status, hdr, out := b.sign(t, keyB, pdf, map[string]string{"signer": "remote-director", "level": "B-B", "activation": "123456"})
		if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
			t.Fatalf("remote down: %d %v %s", status, hdr, out)
		}
	})
}
