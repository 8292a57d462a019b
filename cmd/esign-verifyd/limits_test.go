package main

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"esign/store"
)

// TestDaemonStartupErrors: bad limit settings stop the daemon at once,
// with a message naming the variable.
func TestDaemonStartupErrors(t *testing.T) {
	for _, tc := range []struct {
		name, env, want string
	}{
		{"bad CIDR", "ESIGN_TRUSTED_PROXIES=10.0.0.0/8,10.0.0.0/99", "ESIGN_TRUSTED_PROXIES"},
		{"bad rate", "ESIGN_VERIFY_RATE_PER_MINUTE=fast", "ESIGN_VERIFY_RATE_PER_MINUTE"},
		{"keys without a database", "ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE=600", "ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary)
			cmd.Env = append(os.Environ(), "ESIGN_VERIFY_ADDR="+freeAddr(t), "ESIGN_DATA_DIR="+t.TempDir(), "ESIGN_DATABASE_URL=", tc.env)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("exit %v, output %q; want a failure naming %s", err, out, tc.want)
			}
		})
	}
}

// TestDaemonClientKeys runs the real binary on a database the signing
// service made: a keyed client is limited as a client, a wrong key gets
// 401, and the anonymous limit stays per address.
func TestDaemonClientKeys(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.CreateClient(context.Background(), "transcripts", nil)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	log := startVerifyd(t, addr, "ESIGN_DATA_DIR="+dir, "ESIGN_DATABASE_URL=",
		// One a minute each: no bucket refills while the test runs, however
		// slow the machine.
		"ESIGN_VERIFY_RATE_PER_MINUTE=1", "ESIGN_VERIFY_BURST=1", "ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE=1")

	verify := func(auth string) int {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "doc.pdf")
		fw.Write([]byte("not a PDF\n"))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/verify", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const passed = http.StatusUnprocessableEntity // not a PDF: past the limit
	for i, tc := range []struct {
		auth string
		want int
	}{
		{"", passed},
		{"", http.StatusTooManyRequests},
		{"Bearer " + key, passed}, // the address is spent, the client is not
		{"Bearer " + key, http.StatusTooManyRequests},
		{"Bearer esk_" + strings.Repeat("0", 64), http.StatusUnauthorized},
	} {
		if got := verify(tc.auth); got != tc.want {
			t.Fatalf("request %d: %d, want %d\n%s", i, got, tc.want, log)
		}
	}
}
