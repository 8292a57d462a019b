package main

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown: a request in flight when SIGTERM arrives finishes
// with its signed PDF; requests arriving meanwhile get 503; then the
// process exits by itself.
func TestGracefulShutdown(t *testing.T) {
	bin := buildDaemon(t)
	d := startDaemon(t, bin, t.TempDir())
	pdf, _ := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")

	// Stream the upload through a pipe so the request stays open.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, _ := http.NewRequest(http.MethodPost, "http://"+d.addr+"/api/v1/sign", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+d.key(t, "dev-api-key"))
	type answer struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- answer{status: resp.StatusCode, body: b, err: err}
	}()
	mw.WriteField("signer", "dev-official")
	mw.WriteField("level", "B-T")
	fw, _ := mw.CreateFormFile("file", "memo.pdf")
	fw.Write(pdf[:1000])
	// Let the server take the request before the signal.
	waitFor(t, func() bool { return bytes.Contains(d.log.Bytes(), []byte(`"path":"/healthz"`)) })
	time.Sleep(300 * time.Millisecond)

	d.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, func() bool {
		resp, err := http.Get("http://" + d.addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	status, hdr, body := d.sign(t, d.key(t, "dev-api-key"), pdf, map[string]string{"signer": "dev-official", "level": "B-B"})
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || errorCode(t, body) != "shutting_down" {
		t.Fatalf("new request during shutdown: %d %s", status, body)
	}

	fw.Write(pdf[1000:])
	mw.Close()
	pw.Close()
	select {
	case a := <-done:
		if a.err != nil || a.status != http.StatusOK || !bytes.HasPrefix(a.body, []byte("%PDF")) {
			t.Fatalf("request in flight: status %d, err %v, %.200s", a.status, a.err, a.body)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the request in flight never finished")
	}
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("esignd exit: %v\n%s", err, d.log)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("esignd did not exit after the drain")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met in time")
}
