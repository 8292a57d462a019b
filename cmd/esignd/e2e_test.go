package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"esign/internal/extverify"
	"esign/metrics/metricstest"
)

// The end-to-end tests run the real esignd binary in development mode, as
// `make run` does, and talk to it over HTTP only: the acceptance contract.

// built is the daemon pair built once for the package's tests: each
// build takes seconds, and every test runs the same binaries.
var built struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func buildDaemon(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "esignd-test-"); built.err != nil {
			return
		}
		// Both daemons and the CLI, side by side, as `make build` leaves
		// them.
		built.out, built.err = exec.Command("go", "build", "-o", built.dir+"/", ".", "../esign-verifyd", "../esign").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build esignd: %v\n%s", built.err, built.out)
	}
	return filepath.Join(built.dir, "esignd")
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type daemon struct {
	base       string       // "http://addr", or https with TLS
	client     *http.Client // talks to base
	cmd        *exec.Cmd
	addr       string
	verifyAddr string
	dataDir    string
	log        *bytes.Buffer
}

func startDaemon(t testing.TB, bin, dataDir string, env ...string) *daemon {
	t.Helper()
	return startDaemonWith(t, bin, dataDir, "http", http.DefaultClient, env...)
}

// startDaemonWith starts esignd and waits until scheme://addr/healthz
// answers 200 through client.
func startDaemonWith(t testing.TB, bin, dataDir, scheme string, client *http.Client, env ...string) *daemon {
	t.Helper()
	d := &daemon{addr: freeAddr(t), verifyAddr: freeAddr(t), dataDir: dataDir, log: &bytes.Buffer{}, client: client}
	d.base = scheme + "://" + d.addr
	d.prepare(bin, env...)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.stop(t) })
	if !d.waitHealthy(200*time.Millisecond, func() bool { return d.cmd.ProcessState != nil }) {
		t.Fatalf("esignd did not become healthy:\n%s", d.log)
	}
	return d
}

// prepare makes d.cmd: esignd -dev on d's addresses and data directory,
// with env added, its output into d.log.
func (d *daemon) prepare(bin string, env ...string) {
	d.cmd = exec.Command(bin, "-dev")
	d.cmd.Env = append(os.Environ(), append([]string{
		"ESIGN_DATA_DIR=" + d.dataDir, "ESIGN_ADDR=" + d.addr, "ESIGN_VERIFY_ADDR=" + d.verifyAddr,
	}, env...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
}

// waitHealthy polls /healthz every poll until it answers 200 (true), the
// process has exited (false), or 90 s have passed (false).
func (d *daemon) waitHealthy(poll time.Duration, exited func() bool) bool {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := d.client.Get(d.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		if exited() {
			return false
		}
		time.Sleep(poll)
	}
	return false
}

func (d *daemon) stop(t testing.TB) {
	if d.cmd.ProcessState != nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-done
		t.Errorf("esignd ignored SIGTERM:\n%s", d.log)
	}
}

func (d *daemon) key(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// multipartBody builds a multipart form: the file part when pdf is not
// nil, and fields.
func multipartBody(pdf []byte, fields map[string]string) (body []byte, contentType string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if pdf != nil {
		fw, _ := mw.CreateFormFile("file", "in.pdf")
		fw.Write(pdf)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

// post sends a multipart request to path, with the API key when key is
// not empty, and returns status, headers and body.
func (d *daemon) post(t *testing.T, path, key string, pdf []byte, fields map[string]string) (int, http.Header, []byte) {
	t.Helper()
	body, ctype := multipartBody(pdf, fields)
	req, _ := http.NewRequest(http.MethodPost, d.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

// sign posts a sign request.
func (d *daemon) sign(t *testing.T, key string, pdf []byte, fields map[string]string) (int, http.Header, []byte) {
	t.Helper()
	return d.post(t, "/api/v1/sign", key, pdf, fields)
}

// verify posts a file to the verifier process.
func (d *daemon) verify(t *testing.T, pdf []byte) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "doc.pdf")
	fw.Write(pdf)
	mw.Close()
	var resp *http.Response
	var err error
	// The verifier starts beside esignd; give it a moment on first use.
	for i := 0; i < 50; i++ {
		resp, err = http.Post("http://"+d.verifyAddr+"/api/v1/verify", mw.FormDataContentType(), bytes.NewReader(body.Bytes()))
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("verifier: %v\n%s", err, d.log)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not the error JSON: %s", body)
	}
	return e.Error.Code
}

func TestDaemonEndToEnd(t *testing.T) {
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	d := startDaemon(t, bin, dataDir)
	key, key2 := d.key(t, "dev-api-key"), d.key(t, "dev-api-key-2")
	root, err := os.ReadFile(filepath.Join(dataDir, "pki", "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := os.ReadFile("../../testdata/corpus/transcript-chromium.pdf")
	nss := extverify.NSSDBFromPEM(t, filepath.Join(dataDir, "pki", "root.pem"))

	for _, level := range []string{"B-B", "B-T", "B-LT", "B-LTA", ""} {
		t.Run("sign "+level, func(t *testing.T) {
			fields := map[string]string{"signer": "dev-official", "reason": "ทดสอบ"}
			if level != "" {
				fields["level"] = level
			}
			status, hdr, out := d.sign(t, key, pdf, fields)
			if status != http.StatusOK || hdr.Get("Content-Type") != "application/pdf" {
				t.Fatalf("status %d %s: %s", status, hdr.Get("Content-Type"), out)
			}
			wantLevel := level
			if level == "" {
				wantLevel = "B-LT" // the contract's default
			}
			if got := hdr.Get("X-Esign-Level"); got != wantLevel {
				t.Errorf("level %q, want %q", got, wantLevel)
			}
			path := filepath.Join(t.TempDir(), "out.pdf")
			os.WriteFile(path, out, 0o644)
			sigs := extverify.PDFSig(t, nss, path)
			if len(sigs) == 0 || !sigs[0].Valid || !sigs[0].Trusted {
				t.Fatalf("pdfsig: %+v", sigs)
			}
			if wantLevel != "B-LTA" && !sigs[0].TotalDocument {
				t.Error("signature does not cover the whole document")
			}
			if err := extverify.QPDFCheck(path); err != nil {
				t.Error(err)
			}
		})
	}

	cases := []struct {
		name   string
		key    string
		pdf    []byte
		fields map[string]string
		status int
		code   string
	}{
		{"no key", "", pdf, map[string]string{"signer": "dev-official"}, 401, "unauthenticated"},
		{"wrong key", "esk_wrong", pdf, map[string]string{"signer": "dev-official"}, 401, "unauthenticated"},
		{"credential not assigned", key2, pdf, map[string]string{"signer": "dev-official"}, 403, "forbidden"},
		{"unknown credential", key, pdf, map[string]string{"signer": "nobody"}, 403, "forbidden"},
		{"no file", key, nil, map[string]string{"signer": "dev-official"}, 400, "bad_request"},
		{"bad level", key, pdf, map[string]string{"signer": "dev-official", "level": "B-X"}, 400, "bad_request"},
		{"garbage", key, []byte("this is not a PDF"), map[string]string{"signer": "dev-official"}, 422, "invalid_pdf"},
		{"empty", key, []byte{}, map[string]string{"signer": "dev-official"}, 422, "invalid_pdf"},
		{"truncated", key, pdf[:len(pdf)/3], map[string]string{"signer": "dev-official"}, 422, "invalid_pdf"},
		// The client's mistakes are 4xx, never 500 (issue #15); api's
		// TestHostileInput has every case, these go through the daemon.
		{"page past the last", key, pdf, map[string]string{"signer": "dev-official", "level": "B-B", "page": "99", "rect": "72,72,272,132"}, 400, "bad_request"},
		{"rect NaN", key, pdf, map[string]string{"signer": "dev-official", "level": "B-B", "page": "1", "rect": "NaN,72,272,132"}, 400, "bad_request"},
		{"visible in no field", key, pdf, map[string]string{"signer": "dev-official", "level": "B-B", "visible": "true", "field": "Nope"}, 400, "bad_request"},
		{"page tree loop", key, []byte("%PDF-1.7\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type/Pages/Kids[2 0 R]/Count 1>>\nendobj\n" +
			"xref\n0 3\n0000000000 65535 f\r\n0000000009 00000 n\r\n0000000054 00000 n\r\ntrailer\n<</Size 3/Root 1 0 R>>\nstartxref\n105\n%%EOF\n"),
			map[string]string{"signer": "dev-official", "level": "B-B"}, 422, "invalid_pdf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, out := d.sign(t, c.key, c.pdf, c.fields)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, out)
			}
			if code := errorCode(t, out); code != c.code {
				t.Errorf("code %q, want %q", code, c.code)
			}
		})
	}
	t.Run("verifier process", func(t *testing.T) {
		for _, level := range []string{"B-B", "B-T", "B-LT", "B-LTA"} {
			status, _, signed := d.sign(t, key, pdf, map[string]string{"signer": "dev-official", "level": level})
			if status != http.StatusOK {
				t.Fatalf("sign %s: %d", level, status)
			}
			status, rep := d.verify(t, signed)
			if status != http.StatusOK {
				t.Fatalf("verify %s: %d %s", level, status, rep)
			}
			var r struct {
				Document struct {
					Indication     string `json:"indication"`
					SignatureCount int    `json:"signature_count"`
				} `json:"document"`
				Signatures []struct {
					Level  string `json:"level"`
					Signer struct {
						CommonName string `json:"common_name"`
					} `json:"signer"`
				} `json:"signatures"`
			}
			if err := json.Unmarshal(rep, &r); err != nil {
				t.Fatal(err)
			}
			// The development verifier may ask the development services
			// for revocation data, so every level passes.
			if r.Document.Indication != "TOTAL-PASSED" || r.Signatures[0].Level != "PAdES-BASELINE-"+strings.TrimPrefix(level, "B-") ||
				r.Signatures[0].Signer.CommonName != "นางสาวสมศรี ใจดี" {
				t.Errorf("%s: %s", level, rep)
			}
		}
		status, body := d.verify(t, []byte("not a pdf"))
		if status < 400 || status >= 500 {
			t.Errorf("garbage: %d", status)
		}
		errorCode(t, body)
		resp, err := http.Get("http://" + d.verifyAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "lang=\"th\"") {
			t.Errorf("page: %d %.200s", resp.StatusCode, page)
		}
	})
	t.Run("metrics on both daemons", func(t *testing.T) {
		// The verifier starts beside esignd; when this runs alone, it may
		// not listen yet.
		for i := 0; i < 50; i++ {
			if resp, err := http.Get("http://" + d.verifyAddr + "/healthz"); err == nil {
				resp.Body.Close()
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Series that exist before the first request, so the subtest also
		// holds when run alone.
		for _, tc := range []struct {
			url  string
			want []string
		}{
			{d.base + "/metrics", []string{"go_goroutines", "process_resident_memory_bytes", "esign_hsm_errors_total", "esign_tsa_errors_total", "esign_hsm_queue_length"}},
			{"http://" + d.verifyAddr + "/metrics", []string{"go_goroutines", "process_resident_memory_bytes", "esign_verifications_total", "esign_verification_duration_seconds"}},
		} {
			mfs := metricstest.ScrapeURL(t, d.client, tc.url)
			for _, name := range tc.want {
				if _, ok := mfs[name]; !ok {
					t.Errorf("%s lacks %s", tc.url, name)
				}
			}
		}
	})
	t.Run("second client may use dev-registrar", func(t *testing.T) {
		status, _, out := d.sign(t, key2, pdf, map[string]string{"signer": "dev-registrar", "level": "B-B"})
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, out)
		}
	})

	// A restart reuses the token, the PKI and the API keys.
	d.stop(t)
	d2 := startDaemon(t, bin, dataDir)
	if d2.key(t, "dev-api-key") != key {
		t.Error("API key changed across restarts")
	}
	root2, _ := os.ReadFile(filepath.Join(dataDir, "pki", "root.pem"))
	if !bytes.Equal(root, root2) {
		t.Error("root certificate changed across restarts")
	}
	if status, _, out := d2.sign(t, key, pdf, map[string]string{"signer": "dev-official", "level": "B-LT"}); status != http.StatusOK {
		t.Fatalf("after restart: %d %s", status, out)
	}
}

// TestDaemonTSAUnreachable: with ESIGN_TSA_URL pointing nowhere, B-T
// fails with 503, Retry-After and the error JSON, and no PDF.
func TestDaemonTSAUnreachable(t *testing.T) {
	bin := buildDaemon(t)
	d := startDaemon(t, bin, t.TempDir(), "ESIGN_TSA_URL=http://127.0.0.1:1/tsa", "ESIGN_OUTBOUND_TIMEOUT=3s")
	pdf, _ := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")
	status, hdr, out := d.sign(t, d.key(t, "dev-api-key"), pdf, map[string]string{"signer": "dev-official", "level": "B-T"})
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q: %s", status, hdr.Get("Retry-After"), out)
	}
	if code := errorCode(t, out); code != "dependency_unavailable" {
		t.Errorf("code %q", code)
	}
	// B-B needs no TSA and still works.
	if status, _, out := d.sign(t, d.key(t, "dev-api-key"), pdf, map[string]string{"signer": "dev-official", "level": "B-B"}); status != http.StatusOK {
		t.Fatalf("B-B without TSA: %d %s", status, out)
	}
}
