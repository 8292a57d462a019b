package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"esign/pdf/pdftest"
)

// hostileDaemonBound is what the hostile files below may add to either
// daemon's resident memory (peak minus idle): both bound what one request
// may decode (the signer 32 MiB, the verifier 64 MiB) and how.
const hostileDaemonBound = 200 << 20

const hostilePages = "<</Type/Pages/Kids[3 0 R]/Count 1>>"
const hostilePage = "<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>"

// xrefBomb is a file whose cross-reference stream, compressed twice,
// decodes to 64 MiB.
func xrefBomb() []byte {
	b := pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", hostilePages, hostilePage)
	x := bytes.LastIndex(b, []byte("\nxref\n")) + 1
	rows := pdftest.Deflate(pdftest.Deflate(make([]byte, 64<<20)))
	xs := fmt.Sprintf("9 0 obj\n<</Type/XRef/Size 10/W[1 4 2]/Index[0 9586980]/Root 1 0 R/Filter[/FlateDecode/FlateDecode]/Length %d>>\nstream\n%s\nendstream\nendobj\n", len(rows), rows)
	out := append(append([]byte(nil), b[:x]...), xs...)
	return append(out, fmt.Sprintf("startxref\n%d\n%%%%EOF\n", x)...)
}

// TestDaemonsHostileInput sends hostile files and malformed requests to
// both running daemons, the signing service and the public verifier, and
// checks that each answer is the client's error (or, from the verifier, a
// report), that neither process's peak memory grows past a bound, read
// from /proc, and that both still answer afterwards.
func TestDaemonsHostileInput(t *testing.T) {
	d := startDaemon(t, buildDaemon(t), t.TempDir())
	pid := d.cmd.Process.Pid
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/status", pid)); err != nil {
		t.Skipf("no /proc to read the daemons' memory from: %v", err)
	}
	if code, body := d.verify(t, []byte("not a PDF")); code != http.StatusUnprocessableEntity {
		t.Fatalf("verifier not ready: %d %s", code, body)
	}
	vpid := childPID(t, pid)
	idle, vidle := procKiB(t, pid, "VmRSS"), procKiB(t, vpid, "VmRSS")
	key := d.key(t, "dev-api-key")

	files := []struct {
		name string
		data []byte
	}{
		{"xref stream bomb", xrefBomb()},
		{"page tree loop", pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[2 0 R]/Count 1>>")},
		{"1e400 on the page", pdftest.Build("<</Type/Catalog/Pages 2 0 R>>", hostilePages, "<</Type/Page/Parent 2 0 R/MediaBox[0 0 1e400 200]>>")},
		{"deep nesting", pdftest.Build("<</Type/Catalog/Pages 2 0 R/X"+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+">>", hostilePages, hostilePage)},
		{"no page tree", pdftest.Build("<</Type/Catalog>>")},
		{"not a PDF", bytes.Repeat([]byte("garbage "), 1000)},
	}
	for _, f := range files {
		t.Run("sign "+f.name, func(t *testing.T) {
			code, _, body := d.sign(t, key, f.data, map[string]string{"signer": "dev-official", "level": "B-B"})
			if code < 400 || code >= 500 {
				t.Errorf("status %d, want 4xx: %s", code, body)
			}
		})
		t.Run("verify "+f.name, func(t *testing.T) {
			code, body := d.verify(t, f.data)
			if code >= 500 || code != http.StatusOK && code < 400 {
				t.Errorf("status %d, want a report or 4xx: %.300s", code, body)
			}
		})
	}
	// Malformed requests: a body cut short, a field nobody takes, no form.
	memo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "corpus", "memo-chromium.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	whole, ctype := multipartBody(memo, map[string]string{"signer": "dev-official", "level": "B-B"})
	for _, r := range []struct {
		name, ctype string
		body        []byte
	}{
		{"multipart cut short", ctype, whole[:len(whole)/2]},
		{"unknown field", "", nil},
		{"not a form", "application/json", []byte(`{"signer":"dev-official"}`)},
	} {
		t.Run("request "+r.name, func(t *testing.T) {
			var code int
			var body []byte
			if r.body == nil {
				code, _, body = d.sign(t, key, memo, map[string]string{"signer": "dev-official", "certfy": "1"})
			} else {
				for _, base := range []string{d.base, "http://" + d.verifyAddr} {
					path := "/api/v1/sign"
					if base != d.base {
						path = "/api/v1/verify"
					}
					req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(r.body))
					req.Header.Set("Content-Type", r.ctype)
					req.Header.Set("Authorization", "Bearer "+key)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode < 400 || resp.StatusCode >= 500 {
						t.Errorf("%s: status %d, want 4xx", path, resp.StatusCode)
					}
				}
				return
			}
			if code < 400 || code >= 500 {
				t.Errorf("status %d, want 4xx: %s", code, body)
			}
		})
	}
	for _, p := range []struct {
		name      string
		pid       int
		idle      int64
		healthURL string
	}{{"esignd", pid, idle, d.base + "/healthz"}, {"esign-verifyd", vpid, vidle, "http://" + d.verifyAddr + "/healthz"}} {
		grew := (procKiB(t, p.pid, "VmHWM") - p.idle) << 10
		t.Logf("%s: peak RSS grew by %d MiB (bound %d MiB)", p.name, grew>>20, hostileDaemonBound>>20)
		if grew > hostileDaemonBound {
			t.Errorf("%s's peak RSS grew by %d MiB, more than %d MiB", p.name, grew>>20, hostileDaemonBound>>20)
		}
		resp, err := http.Get(p.healthURL)
		if err != nil {
			t.Fatalf("%s no longer answers: %v", p.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s healthz: %d", p.name, resp.StatusCode)
		}
	}
}

// childPID finds the process whose parent is pid: the verifier esignd
// starts beside itself in development mode.
func childPID(t *testing.T, pid int) int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range dirs {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), fmt.Sprintf("\nPPid:\t%d\n", pid)) {
			return n
		}
	}
	t.Fatalf("no child process of esignd (%d): the verifier did not start", pid)
	return 0
}
