package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"esign/admincli"
	"esign/metrics/metricstest"
	"esign/store/storetest"
)

// The fault tests cause real faults under the real daemon (issue #15): a
// TSA that does not answer, the HSM token disappearing, PostgreSQL
// restarting under load, and a full disk under the SQLite database. Each
// checks the answers (503 or 507 with the error JSON and Retry-After, no
// half-written output), the audit log afterwards, and recovery without a
// restart.

// faultAnswer is one sign request's outcome.
type faultAnswer struct {
	status int
	hdr    http.Header
	body   []byte
	err    error // transport error: no answer
}

// trySign posts a sign request without failing the test on a transport
// error, for load generators and faults that may cut connections.
func (d *daemon) trySign(client *http.Client, key string, pdf []byte, fields map[string]string) faultAnswer {
	body, ctype := multipartBody(pdf, fields)
	req, _ := http.NewRequest(http.MethodPost, d.base+"/api/v1/sign", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return faultAnswer{err: err}
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return faultAnswer{status: resp.StatusCode, hdr: resp.Header, body: out, err: err}
}

// checkErrorAnswer checks an error answer: the error JSON, no PDF, and
// Retry-After on 503 and 507.
func checkErrorAnswer(t *testing.T, a faultAnswer, wantStatus int, wantCodes ...string) {
	t.Helper()
	if a.err != nil {
		t.Fatalf("no answer: %v", a.err)
	}
	if a.status != wantStatus {
		t.Fatalf("status %d, want %d: %.300s", a.status, wantStatus, a.body)
	}
	if bytes.HasPrefix(a.body, []byte("%PDF")) || a.hdr.Get("Content-Type") == "application/pdf" {
		t.Fatal("an error answer carries a PDF")
	}
	if a.hdr.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	code := errorCode(t, a.body)
	for _, c := range wantCodes {
		if code == c {
			return
		}
	}
	t.Errorf("code %q, want one of %q", code, wantCodes)
}

// auditEntry is a line of `esign audit list`.
type auditEntry struct {
	Seq       int64  `json:"seq"`
	RequestID string `json:"request_id"`
	Level     string `json:"level"`
	Result    string `json:"result"`
	ErrorCode string `json:"error_code"`
	Output    string `json:"output_sha256"`
}

// auditCLI runs `esign audit ARGS` against the database env names.
func auditCLI(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := admincli.RunAudit(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	if err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

// auditVerifyAndList runs `esign audit verify`, which must pass, and
// returns every entry.
func auditVerifyAndList(t *testing.T, env map[string]string) []auditEntry {
	t.Helper()
	if out, err := auditCLI(t, env, "verify"); err != nil {
		t.Fatalf("esign audit verify: %v\n%s", err, out)
	}
	var all []auditEntry
	for after := int64(0); ; {
		out, err := auditCLI(t, env, "list", "--after", strconv.FormatInt(after, 10), "--limit", "1000")
		if err != nil {
			t.Fatalf("esign audit list: %v\n%s", err, out)
		}
		n := len(all)
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			var e auditEntry
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("esign audit list: %v", err)
			}
			all = append(all, e)
			after = e.Seq
		}
		if len(all) == n {
			return all
		}
	}
}

// goroutines reads the daemon's go_goroutines gauge.
func (d *daemon) goroutines(t *testing.T, client *http.Client) float64 {
	t.Helper()
	v, ok := metricstest.Value(metricstest.ScrapeURL(t, client, d.base+"/metrics"), "go_goroutines", nil)
	if !ok {
		t.Fatal("no go_goroutines in /metrics")
	}
	return v
}

// noKeepAlive is a client whose connections end with each request, so
// the daemon's goroutine count is not held up by idle connections of the
// test's own.
func noKeepAlive() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}
}

// TestFaultSlowTSA: a TSA that accepts the request and never answers,
// with ESIGN_OUTBOUND_TIMEOUT=1s. B-T gets 503 dependency_unavailable
// with Retry-After and no PDF; the audit log records the failure; the
// daemon closes the TSA connection and its goroutines return to where
// they were.
func TestFaultSlowTSA(t *testing.T) {
	var closed atomic.Int64 // TSA connections the daemon closed
	var started atomic.Int64
	release := make(chan struct{})
	tsaSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the request, as a TSA would; only then does the server
		// watch the connection for the client going away.
		io.Copy(io.Discard, r.Body)
		started.Add(1)
		select {
		case <-r.Context().Done(): // the client went away
		case <-release:
		}
	}))
	tsaSrv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	tsaSrv.Start()
	t.Cleanup(func() { close(release); tsaSrv.Close() })

	bin := buildDaemon(t)
	dataDir := t.TempDir()
	// No batch workers: the job queue starts its maintenance goroutines
	// on its own schedule (leader election), which would blur the count
	// of what the slow TSA leaves behind on /sign.
	d := startDaemon(t, bin, dataDir, "ESIGN_TSA_URL="+tsaSrv.URL+"/tsa", "ESIGN_OUTBOUND_TIMEOUT=1s", "ESIGN_BATCH_WORKERS=0")
	key := d.key(t, "dev-api-key")
	pdf, _ := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")
	client := noKeepAlive()

	// Warm up: the first signature loads keys and pools.
	if a := d.trySign(client, key, pdf, map[string]string{"signer": "dev-official", "level": "B-B"}); a.status != http.StatusOK {
		t.Fatalf("B-B: %d %v %.300s", a.status, a.err, a.body)
	}
	before := d.goroutines(t, client)

	const n = 3
	for i := 0; i < n; i++ {
		a := d.trySign(client, key, pdf, map[string]string{"signer": "dev-official", "level": "B-T"})
		checkErrorAnswer(t, a, http.StatusServiceUnavailable, "dependency_unavailable")
	}
	if got := started.Load(); got < n {
		t.Fatalf("the TSA saw %d requests, want %d: the outbound policy refused it?\n%s", got, n, d.log)
	}
	// The daemon gave up on the TSA: it closed every connection.
	waitFor(t, func() bool { return closed.Load() >= started.Load() })
	// And what served the requests has ended: the count settles back.
	var after float64
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if after = d.goroutines(t, client); after <= before {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("daemon goroutines: %v before the slow TSA, %v after", before, after)
	if after > before {
		t.Errorf("goroutines: %v before the slow TSA, %v after", before, after)
	}

	entries := auditVerifyAndList(t, map[string]string{"ESIGN_DATA_DIR": dataDir})
	var failed int
	for _, e := range entries {
		if e.Level == "B-T" {
			if e.Result != "failure" || e.ErrorCode != "dependency_unavailable" || e.Output != "" {
				t.Errorf("audit entry %+v", e)
			}
			failed++
		}
	}
	if failed != n {
		t.Errorf("%d B-T failures in the audit log, want %d", failed, n)
	}
}

// softHSMTokens is the development token directory in dataDir.
func softHSMTokens(dataDir string) string { return filepath.Join(dataDir, "softhsm", "tokens") }

// TestFaultHSMTokenLoss: the token's files disappear under the running
// daemon and come back. While gone, signing answers 503 with
// Retry-After; once back, it signs again without a restart.
func TestFaultHSMTokenLoss(t *testing.T) {
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	d := startDaemon(t, bin, dataDir)
	key := d.key(t, "dev-api-key")
	pdf, _ := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")
	client := noKeepAlive()
	sign := func() faultAnswer {
		return d.trySign(client, key, pdf, map[string]string{"signer": "dev-official", "level": "B-B"})
	}
	if a := sign(); a.status != http.StatusOK {
		t.Fatalf("before: %d %v %.300s", a.status, a.err, a.body)
	}

	tokens, gone := softHSMTokens(dataDir), softHSMTokens(dataDir)+".gone"
	if err := os.Rename(tokens, gone); err != nil {
		t.Fatal(err)
	}
	back := func() {
		if _, err := os.Stat(gone); err == nil {
			if err := os.Rename(gone, tokens); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(back)
	for i := 0; i < 2; i++ {
		checkErrorAnswer(t, sign(), http.StatusServiceUnavailable, "hsm_unavailable", "dependency_unavailable")
	}

	back()
	var a faultAnswer
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if a = sign(); a.status == http.StatusOK {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if a.status != http.StatusOK {
		t.Fatalf("after the token returned: %d %v %.300s\n%s", a.status, a.err, a.body, d.log)
	}
	auditVerifyAndList(t, map[string]string{"ESIGN_DATA_DIR": dataDir})
}

// loadResult is what a signing load saw.
type loadResult struct {
	mu      sync.Mutex
	answers []faultAnswer
}

func (r *loadResult) add(a faultAnswer) {
	r.mu.Lock()
	r.answers = append(r.answers, a)
	r.mu.Unlock()
}

func (r *loadResult) ok() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, a := range r.answers {
		if a.status == http.StatusOK {
			n++
		}
	}
	return n
}

// runLoad signs with workers in parallel until stop is closed.
func runLoad(d *daemon, key string, pdf []byte, workers int, stop <-chan struct{}) (*loadResult, *sync.WaitGroup) {
	r := &loadResult{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 2 * time.Minute}
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r.add(d.trySign(client, key, pdf, map[string]string{"signer": "dev-official", "level": "B-B"}))
			}
		})
	}
	return r, &wg
}

// checkAudited checks the answers of a load against the audit log: an
// answer with X-Esign-Audit: recorded is in the log under its
// X-Request-Id, one without is not, every 200 is recorded, and the log
// holds nothing else.
func checkAudited(t *testing.T, answers []faultAnswer, entries []auditEntry) {
	t.Helper()
	inLog := map[string]auditEntry{}
	for _, e := range entries {
		if _, dup := inLog[e.RequestID]; dup {
			t.Errorf("request %s recorded twice", e.RequestID)
		}
		inLog[e.RequestID] = e
	}
	recorded := 0
	for _, a := range answers {
		if a.err != nil {
			continue
		}
		id := a.hdr.Get("X-Request-Id")
		e, ok := inLog[id]
		if a.hdr.Get("X-Esign-Audit") != "recorded" {
			if a.status == http.StatusOK {
				t.Errorf("a signed PDF went out unrecorded (request %q)", id)
			}
			if ok {
				t.Errorf("answer %d does not say request %q was recorded; the log has it", a.status, id)
			}
			continue
		}
		recorded++
		if !ok {
			t.Errorf("answer %d says request %q was recorded; the log has no entry", a.status, id)
			continue
		}
		if (a.status == http.StatusOK) != (e.Result == "success") {
			t.Errorf("answer %d recorded as %+v", a.status, e)
		}
	}
	if recorded != len(entries) {
		t.Errorf("%d answers recorded, %d audit entries", recorded, len(entries))
	}
}

// TestFaultPostgresRestart: PostgreSQL restarts (fast shutdown, then
// start) under a signing load. Answers during the outage are clean
// errors with the error JSON; signing recovers by itself; `esign audit
// verify` passes and the log holds exactly the requests whose answers
// say they were recorded.
func TestFaultPostgresRestart(t *testing.T) {
	pg := storetest.StartServer(t)
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	d := startDaemon(t, bin, dataDir, "ESIGN_DATABASE_URL="+pg.URL())
	key := d.key(t, "dev-api-key")
	pdf, _ := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")

	stop := make(chan struct{})
	res, wg := runLoad(d, key, pdf, 4, stop)
	stopped := false
	defer func() {
		if !stopped {
			close(stop)
			wg.Wait()
		}
	}()
	waitFor(t, func() bool { return res.ok() >= 10 })
	pg.Stop(t)
	// Let the load meet the outage.
	downSince := len(res.answers)
	waitFor(t, func() bool {
		res.mu.Lock()
		defer res.mu.Unlock()
		return len(res.answers) >= downSince+8
	})
	pg.Start(t)
	okBefore := res.ok()
	waitFor(t, func() bool { return res.ok() >= okBefore+10 })
	close(stop)
	wg.Wait()
	stopped = true

	var failures int
	for _, a := range res.answers {
		if a.err != nil {
			t.Errorf("no answer: %v", a.err)
			continue
		}
		if a.status == http.StatusOK {
			continue
		}
		failures++
		checkErrorAnswer(t, a, http.StatusServiceUnavailable, "dependency_unavailable")
		if strings.Contains(string(a.body), "esign-pg-") {
			t.Errorf("the answer shows the database's address: %s", a.body)
		}
	}
	if failures == 0 {
		t.Error("no request failed while PostgreSQL was down")
	}
	if bytes.Contains(d.log.Bytes(), []byte("panic")) {
		t.Errorf("panic in the log:\n%s", d.log)
	}
	logDaemonErrors(t, d)
	entries := auditVerifyAndList(t, map[string]string{"ESIGN_DATA_DIR": dataDir, "ESIGN_DATABASE_URL": pg.URL()})
	checkAudited(t, res.answers, entries)
	t.Logf("%d answers, %d failures, %d audit entries", len(res.answers), failures, len(entries))
}

// fill writes zeros into dir/filler until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// Smaller writes take what is left of the last blocks.
	for _, err := f.Write(buf[:512]); err == nil; _, err = f.Write(buf[:512]) {
	}
	return path
}

// TestFaultDiskFull: the SQLite data directory sits on a small tmpfs
// (the SoftHSM token elsewhere) that fills up. Signing answers a clean
// error and hands out no PDF it could not record; `esign audit verify`
// passes; once space returns, signing works again without a restart.
func TestFaultDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dataDir, "tmpfs", 0, "size=16m,mode=0700"); err != nil {
		t.Skipf("mount tmpfs on %s: %v (this sandbox does not allow mounts)", dataDir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dataDir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dataDir, err)
		}
	})
	// The token lives off the small file system, so the HSM keeps working.
	hsmDir := t.TempDir()
	if err := os.Symlink(hsmDir, filepath.Join(dataDir, "softhsm")); err != nil {
		t.Fatal(err)
	}

	bin := buildDaemon(t)
	d := startDaemon(t, bin, dataDir)
	key := d.key(t, "dev-api-key")
	pdf, _ := os.ReadFile("../../testdata/corpus/memo-chromium.pdf")
	client := noKeepAlive()
	sign := func() faultAnswer {
		return d.trySign(client, key, pdf, map[string]string{"signer": "dev-official", "level": "B-B"})
	}
	var answers []faultAnswer
	a := sign()
	answers = append(answers, a)
	if a.status != http.StatusOK {
		t.Fatalf("before: %d %v %.300s", a.status, a.err, a.body)
	}

	filler := fill(t, dataDir)
	// The WAL may still have room in pages it already holds; sign until
	// the database needs a page it cannot get.
	var full faultAnswer
	for i := 0; i < 200; i++ {
		a := sign()
		answers = append(answers, a)
		if a.err != nil {
			t.Fatalf("no answer: %v", a.err)
		}
		if a.status != http.StatusOK {
			full = a
			break
		}
	}
	if full.status == 0 {
		t.Fatal("200 signatures on a full disk and no error")
	}
	if full.status != http.StatusInsufficientStorage {
		logDaemonErrors(t, d)
	}
	checkErrorAnswer(t, full, http.StatusInsufficientStorage, "insufficient_storage")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	a = sign()
	answers = append(answers, a)
	if a.status != http.StatusOK {
		t.Fatalf("after space returned: %d %v %.300s", a.status, a.err, a.body)
	}
	if bytes.Contains(d.log.Bytes(), []byte("panic")) {
		t.Errorf("panic in the log:\n%s", d.log)
	}
	entries := auditVerifyAndList(t, map[string]string{"ESIGN_DATA_DIR": dataDir})
	checkAudited(t, answers, entries)
}

// logDaemonErrors logs each distinct error the daemon logged, with its
// count, for the failure's reader.
func logDaemonErrors(t *testing.T, d *daemon) {
	t.Helper()
	seen := map[string]int{}
	var order []string
	for _, line := range bytes.Split(d.log.Bytes(), []byte("\n")) {
		var l struct{ Error string }
		if json.Unmarshal(line, &l) != nil || l.Error == "" {
			continue
		}
		if seen[l.Error] == 0 {
			order = append(order, l.Error)
		}
		seen[l.Error]++
	}
	for i, e := range order {
		if i == 20 {
			t.Logf("… and %d more", len(order)-i)
			break
		}
		t.Logf("daemon error ×%d: %s", seen[e], e)
	}
}
