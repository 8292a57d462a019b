package main

import (
	"bytes"
	"context"
	"encoding/base32"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"esign/activation"
	"esign/admincli"
)

// TestDaemonActivation covers, over HTTP against SoftHSM: wrong
// activation (403), the lockout and its expiry, a PIN success, a TOTP
// success, and the audit chain over all of it.
func TestDaemonActivation(t *testing.T) {
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	d := startDaemon(t, bin, dataDir, "ESIGN_LOCKOUT_THRESHOLD=3", "ESIGN_LOCKOUT_DURATION=3s")
	key := d.key(t, "dev-api-key")
	pdf, _ := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")
	sign := func(activationData string) (int, http.Header, []byte) {
		f := map[string]string{"signer": "dev-director", "level": "B-B",
			"doc_number": "นร 0105/123", "subject": "ขออนุมัติ", "urgency": "ด่วน", "secrecy": "ลับ"}
		if activationData != "" {
			f["activation"] = activationData
		}
		return d.sign(t, key, pdf, f)
	}

	if status, _, body := sign(""); status != http.StatusForbidden || errorCode(t, body) != "activation_failed" {
		t.Fatalf("no activation: %d %s", status, body)
	}
	if status, _, body := sign("123456"); status != http.StatusOK {
		t.Fatalf("right PIN: %d %s", status, body)
	}
	for i := 0; i < 3; i++ {
		if status, _, body := sign("000000"); status != http.StatusForbidden {
			t.Fatalf("wrong PIN %d: %d %s", i, status, body)
		}
	}
	status, hdr, body := sign("123456")
	if status != http.StatusForbidden || errorCode(t, body) != "credential_locked" || hdr.Get("Retry-After") == "" {
		t.Fatalf("locked credential with the right PIN: %d %s", status, body)
	}
	time.Sleep(3500 * time.Millisecond)
	if status, _, body := sign("123456"); status != http.StatusOK {
		t.Fatalf("after the lockout expired: %d %s", status, body)
	}
	if bytes.Contains(d.log.Bytes(), []byte("123456")) || bytes.Contains(d.log.Bytes(), []byte("000000")) {
		t.Error("activation data appears in the service log")
	}

	// TOTP: enrol a credential with the admin CLI, then sign with a code
	// from the authenticator's secret.
	ctx := context.Background()
	getenv := func(k string) string {
		if k == "ESIGN_DATA_DIR" {
			return dataDir
		}
		return ""
	}
	var out, errOut bytes.Buffer
	admin := func(args ...string) string {
		t.Helper()
		out.Reset()
		if err := admincli.Run(ctx, args, &out, &errOut, getenv); err != nil {
			t.Fatalf("esign admin %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String()
	}
	admin("credential", "create", "totp-official", "--key-label", "dev-official", "--activation", "totp", "--display-name", "(นางสาวสมศรี ใจดี)")
	uri := strings.TrimSpace(admin("credential", "enrol-totp", "totp-official"))
	admin("client", "assign", "dev-client", "totp-official")
	u, err := url.Parse(uri[strings.Index(uri, "otpauth://"):])
	if err != nil {
		t.Fatalf("otpauth URI %q: %v", uri, err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(u.Query().Get("secret")))
	if err != nil {
		t.Fatal(err)
	}
	code, err := activation.TOTP{}.CodeAt(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := map[string]string{"signer": "totp-official", "level": "B-B", "activation": code}
	if status, _, body := d.sign(t, key, pdf, f); status != http.StatusOK {
		t.Fatalf("TOTP: %d %s", status, body)
	}
	// The same code again is a replay.
	if status, _, body := d.sign(t, key, pdf, f); status != http.StatusForbidden {
		t.Fatalf("TOTP replay: %d %s", status, body)
	}

	// Every request above is in the audit log, and the chain holds.
	out.Reset()
	if err := admincli.RunAudit(ctx, []string{"verify"}, &out, &errOut, getenv); err != nil {
		t.Fatalf("audit verify: %v\n%s%s", err, out.String(), errOut.String())
	}
	out.Reset()
	if err := admincli.RunAudit(ctx, []string{"list"}, &out, &errOut, getenv); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"activation_failed", "credential_locked", "นร 0105/123", "totp-official"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("audit list lacks %q:\n%s", want, out.String())
		}
	}
}
