package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"esign/devpki"
	"esign/internal/extverify"
	"esign/metrics/metricstest"
	"esign/revocation"
	"esign/store/storetest"
	"esign/tsa"
)

// The batch tests (issue #10) run real esignd processes on batches of
// hundreds of documents: killed and restarted mid-batch on SQLite and on
// PostgreSQL, two replicas sharing one batch, repeated uploads and
// another client's requests, broken documents and a TSA outage. They talk
// HTTP only and read the audit log through `esign audit`, as an operator
// would.

// batchStatus is GET /api/v1/batches/{id}.
type batchStatus struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Total     int64  `json:"total"`
	Signed    int64  `json:"signed"`
	Failed    int64  `json:"failed"`
	Pending   int64  `json:"pending"`
	Cancelled int64  `json:"cancelled"`
}

// batchDoc is a document as the batch API lists it.
type batchDoc struct {
	Ref          string     `json:"ref"`
	State        string     `json:"state"`
	InputSHA256  string     `json:"input_sha256"`
	OutputSHA256 string     `json:"output_sha256"`
	InputSize    int64      `json:"input_size"`
	EndedAt      *time.Time `json:"ended_at"`
	Error        *struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	} `json:"error"`
}

// batchInput is a document to put into a batch under ref.
type batchInput struct {
	ref string
	pdf []byte
}

// batchInputs makes n documents from the transcripts of the corpus, each
// with bytes of its own: the binary comment on a PDF's second line (four
// bytes above 127, which PDF/A asks for) carries the document's number.
func batchInputs(t *testing.T, n int) []batchInput {
	t.Helper()
	paths, err := filepath.Glob("../../testdata/corpus/transcript-*.pdf")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no transcripts in testdata/corpus: %v", err)
	}
	var bases [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 15 || !bytes.HasPrefix(b, []byte("%PDF-1.")) || b[9] != '%' || slices.ContainsFunc(b[10:14], func(c byte) bool { return c < 0x80 }) {
			t.Fatalf("%s: no binary comment on the second line to vary", p)
		}
		bases = append(bases, b)
	}
	out := make([]batchInput, n)
	for i := range out {
		b := bytes.Clone(bases[i%len(bases)])
		for k := range 4 {
			b[10+k] = 0x80 | byte(i>>(7*k))&0x7f
		}
		out[i] = batchInput{ref: fmt.Sprintf("student-%05d", i), pdf: b}
	}
	return out
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// batchClient talks to the batch API of one daemon as one API client.
type batchClient struct {
	base string
	key  string
	http *http.Client
}

func newBatchClient(d *batchDaemon, key string) *batchClient {
	return &batchClient{base: d.base, key: key, http: &http.Client{Timeout: 2 * time.Minute}}
}

// httpAnswer is one HTTP exchange's answer.
type httpAnswer struct {
	status int
	hdr    http.Header
	body   []byte
}

// code is the error code of an error answer, "" for anything else.
func (a httpAnswer) code() string {
	var e struct {
		Error struct{ Code string }
	}
	json.Unmarshal(a.body, &e)
	return e.Error.Code
}

func (a httpAnswer) String() string { return fmt.Sprintf("%d %.300s", a.status, a.body) }

// try sends one request without failing the test, for goroutines.
func (c *batchClient) try(method, path, ctype string, body []byte) (httpAnswer, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return httpAnswer{}, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return httpAnswer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return httpAnswer{}, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return httpAnswer{status: resp.StatusCode, hdr: resp.Header, body: out}, nil
}

func (c *batchClient) do(t *testing.T, method, path, ctype string, body []byte) httpAnswer {
	t.Helper()
	a, err := c.try(method, path, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// decode reads a 2xx JSON answer into v.
func decode(t *testing.T, what string, a httpAnswer, v any) {
	t.Helper()
	if a.status/100 != 2 {
		t.Fatalf("%s: %s", what, a)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("%s: %v: %.300s", what, err, a.body)
	}
}

func (c *batchClient) create(t *testing.T, spec map[string]string) (httpAnswer, batchStatus) {
	t.Helper()
	body, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	a := c.do(t, http.MethodPost, "/api/v1/batches", "application/json", body)
	var st batchStatus
	if a.status/100 == 2 {
		decode(t, "create batch", a, &st)
	}
	return a, st
}

// mustCreate creates a batch and returns its ID.
func (c *batchClient) mustCreate(t *testing.T, spec map[string]string) string {
	t.Helper()
	a, st := c.create(t, spec)
	if a.status != http.StatusCreated || st.ID == "" || st.State != "open" {
		t.Fatalf("create batch: %s", a)
	}
	return st.ID
}

func (c *batchClient) put(t *testing.T, id, ref string, pdf []byte) httpAnswer {
	t.Helper()
	return c.do(t, http.MethodPut, "/api/v1/batches/"+id+"/documents/"+ref, "application/pdf", pdf)
}

// putAll puts every document, four at a time; each must be new (201).
func (c *batchClient) putAll(t *testing.T, id string, docs []batchInput) {
	t.Helper()
	var mu sync.Mutex
	var errs []string
	next := make(chan batchInput)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for in := range next {
				a, err := c.try(http.MethodPut, "/api/v1/batches/"+id+"/documents/"+in.ref, "application/pdf", in.pdf)
				if err == nil && a.status != http.StatusCreated {
					err = fmt.Errorf("PUT %s: %s", in.ref, a)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
				}
			}
		})
	}
	for _, in := range docs {
		next <- in
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d uploads failed, first: %s", len(errs), len(docs), errs[0])
	}
}

func (c *batchClient) closeBatch(t *testing.T, id string) batchStatus {
	t.Helper()
	var st batchStatus
	decode(t, "close batch", c.do(t, http.MethodPost, "/api/v1/batches/"+id+"/close", "", nil), &st)
	return st
}

func (c *batchClient) status(t *testing.T, id string) batchStatus {
	t.Helper()
	var st batchStatus
	decode(t, "batch status", c.do(t, http.MethodGet, "/api/v1/batches/"+id, "", nil), &st)
	return st
}

// documents lists a batch's documents in state ("" for all), a page of
// 200 at a time.
func (c *batchClient) documents(t *testing.T, id, state string) []batchDoc {
	t.Helper()
	var all []batchDoc
	after := ""
	for {
		var page struct {
			Documents []batchDoc `json:"documents"`
			Next      string     `json:"next"`
		}
		path := fmt.Sprintf("/api/v1/batches/%s/documents?limit=200&state=%s&after=%s", id, state, after)
		decode(t, "list documents", c.do(t, http.MethodGet, path, "", nil), &page)
		all = append(all, page.Documents...)
		if page.Next == "" {
			return all
		}
		after = page.Next
	}
}

func (c *batchClient) document(t *testing.T, id, ref string) httpAnswer {
	t.Helper()
	return c.do(t, http.MethodGet, "/api/v1/batches/"+id+"/documents/"+ref, "", nil)
}

func (c *batchClient) results(t *testing.T, id string) httpAnswer {
	t.Helper()
	return c.do(t, http.MethodGet, "/api/v1/batches/"+id+"/results.zip", "", nil)
}

func (c *batchClient) cancel(t *testing.T, id string) httpAnswer {
	t.Helper()
	return c.do(t, http.MethodDelete, "/api/v1/batches/"+id, "", nil)
}

// waitStatus polls the batch until cond holds. The deadline only catches
// a batch that hangs.
func (c *batchClient) waitStatus(t *testing.T, id, what string, deadline time.Duration, cond func(batchStatus) bool) batchStatus {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		st := c.status(t, id)
		if cond(st) {
			return st
		}
		if time.Now().After(end) {
			t.Fatalf("batch %s: not %s after %v: %+v", id, what, deadline, st)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (c *batchClient) waitDone(t *testing.T, id string, deadline time.Duration) batchStatus {
	t.Helper()
	return c.waitStatus(t, id, "done", deadline, func(st batchStatus) bool { return st.State == "done" })
}

// waitUntil polls cond until it holds; the deadline only catches hangs.
func waitUntil(t *testing.T, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not after %v", what, deadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// batchDaemon is an esignd the batch tests may kill: it runs in a
// process group of its own, which kill takes down with its verifier
// child, and exited is closed when it has ended.
type batchDaemon struct {
	*daemon
	exited chan struct{}
}

// launchDaemon starts esignd -dev on the addresses given and waits until
// it is healthy. Restarted on the same addresses, the daemon keeps its
// development certificates, whose OCSP and CRL URLs name the address
// (devpki issues them again for another), so pdfsig can still check
// files signed before a restart.
func launchDaemon(t *testing.T, bin, dataDir, addr, verifyAddr string, env ...string) *batchDaemon {
	t.Helper()
	d := &batchDaemon{
		daemon: &daemon{base: "http://" + addr, client: http.DefaultClient, addr: addr, verifyAddr: verifyAddr, dataDir: dataDir, log: &bytes.Buffer{}},
		exited: make(chan struct{}),
	}
	d.prepare(bin, env...)
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.stop(t)
		if t.Failed() {
			logDaemonErrors(t, d.daemon)
		}
	})
	exited := func() bool {
		select {
		case <-d.exited:
			return true
		default:
			return false
		}
	}
	if !d.waitHealthy(100*time.Millisecond, exited) {
		if exited() {
			t.Fatalf("esignd exited while starting:\n%s", d.log)
		}
		t.Fatalf("esignd did not become healthy:\n%s", d.log)
	}
	return d
}

// stop shuts esignd down with SIGTERM, as an operator would.
func (d *batchDaemon) stop(t *testing.T) {
	t.Helper()
	select {
	case <-d.exited:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("esignd ignored SIGTERM:\n%s", d.log)
		d.kill(t)
	}
}

// kill kills esignd and its verifier with SIGKILL: no drain, no deferred
// clean-up, as a crash or an OOM kill would.
func (d *batchDaemon) kill(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill esignd: %v", err)
	}
	<-d.exited
}

// verifierUnlimited lifts the public verifier's per-address rate limit,
// so the tests can verify every output.
var verifierUnlimited = []string{"ESIGN_VERIFY_RATE_PER_MINUTE=1000000", "ESIGN_VERIFY_BURST=100000"}

// batchSigned reads a daemon's esign_batch_documents_total{result="signed"}:
// the documents this replica signed.
func batchSigned(t *testing.T, d *batchDaemon) float64 {
	t.Helper()
	v, ok := metricstest.Value(metricstest.ScrapeURL(t, d.client, d.base+"/metrics"), "esign_batch_documents_total", map[string]string{"result": "signed"})
	if !ok {
		t.Fatal(`no esign_batch_documents_total{result="signed"} in /metrics`)
	}
	return v
}

func batchRetries(t *testing.T, d *batchDaemon) float64 {
	t.Helper()
	v, ok := metricstest.Value(metricstest.ScrapeURL(t, d.client, d.base+"/metrics"), "esign_batch_retries_total", nil)
	if !ok {
		t.Fatal("no esign_batch_retries_total in /metrics")
	}
	return v
}

// batchDatabase is a PostgreSQL database of the test's own, so that no
// test sees another's batches: a fresh schema on the server
// ESIGN_TEST_DATABASE_URL names (CI sets it), or else a server the test
// starts.
func batchDatabase(t *testing.T) string {
	t.Helper()
	if os.Getenv(storetest.EnvURL) != "" {
		return storetest.Schema(t)
	}
	return storetest.StartServer(t).URL()
}

// testTSA is a time-stamping authority outside the daemon, as production
// has one: the repository's tsa.Server under a PKI of the test's own (not
// the development one, whose root the daemon trusts by itself), behind a
// delay, with a CRL for its certificate so that B-LT and B-LTA files can
// carry the TSA's validation data. The daemon and its verifier trust its
// root through ESIGN_TRUST.
type testTSA struct {
	addr    string
	root    *x509.Certificate
	rootPEM string
	handler http.Handler

	mu  sync.Mutex
	srv *httptest.Server
}

// noRevocations is a CA that revoked nothing.
type noRevocations struct{}

func (noRevocations) Revoked(context.Context) ([]revocation.Revocation, error) { return nil, nil }

func startTestTSA(t *testing.T, latency time.Duration) *testTSA {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testTSA{addr: ln.Addr().String()}
	base := "http://" + s.addr
	ctx := context.Background()
	now := time.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.root, err = devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject:   pkix.Name{CommonName: "esign Batch Test TSA Root CA", Organization: []string{"esign tests"}, Country: []string{"TH"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		IsCA: true, MaxPathLen: 0, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, rootKey.Public(), nil, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	tsaKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject:   pkix.Name{CommonName: "esign Batch Test TSA", Organization: []string{"esign tests"}, Country: []string{"TH"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, CriticalEKU: true,
		IssuingCertificateURL: []string{base + "/root.crt"},
		CRLDistributionPoints: []string{base + "/root.crl"},
	}, tsaKey.Public(), s.root, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	s.rootPEM = filepath.Join(t.TempDir(), "tsa-root.pem")
	if err := os.WriteFile(s.rootPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.root.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	stamps := &tsa.Server{Signer: tsaKey, Certificate: leaf}
	crl := &revocation.CRLHandler{Issuer: s.root, Signer: rootKey, Source: noRevocations{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/tsa", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		stamps.ServeHTTP(w, r)
	})
	mux.Handle("/root.crl", crl)
	mux.HandleFunc("/root.crt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(s.root.Raw)
	})
	s.handler = mux
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *testTSA) serve(ln net.Listener) {
	srv := httptest.NewUnstartedServer(s.handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

// stop closes the TSA: connections to it are refused until restart.
func (s *testTSA) stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// restart brings the TSA back on the same address.
func (s *testTSA) restart(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatalf("listen again on the TSA's address: %v", err)
	}
	s.serve(ln)
}

// env points a daemon, and the verifier it starts, at the TSA.
func (s *testTSA) env() []string {
	base := "http://" + s.addr
	return []string{"ESIGN_TSA_URL=" + base + "/tsa", "ESIGN_SIGNER_FETCH_TRUSTED=" + base,
		"ESIGN_TRUST=" + s.rootPEM, "ESIGN_VERIFY_FETCH_ALLOW=" + base}
}

// verifyReport posts a file to the daemon's verifier process and returns
// the document's indication and the first signature's level.
func verifyReport(client *http.Client, d *batchDaemon, pdf []byte) (indication, level string, err error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "doc.pdf")
	fw.Write(pdf)
	mw.Close()
	var resp *http.Response
	// The verifier starts beside esignd; give it a moment on first use.
	for range 50 {
		resp, err = client.Post("http://"+d.verifyAddr+"/api/v1/verify", mw.FormDataContentType(), bytes.NewReader(body.Bytes()))
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return "", "", fmt.Errorf("verifier: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", fmt.Errorf("verifier: %w", err)
	}
	var r struct {
		Document struct {
			Indication string `json:"indication"`
		} `json:"document"`
		Signatures []struct {
			Level string `json:"level"`
		} `json:"signatures"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(out, &r) != nil || len(r.Signatures) == 0 {
		return "", "", fmt.Errorf("verifier: %d %.300s", resp.StatusCode, out)
	}
	return r.Document.Indication, r.Signatures[0].Level, nil
}

// checkOutputs checks every document of a done batch: signed, its output
// the input followed by the signature's update with the digest the list
// gives, TOTAL-PASSED at wantLevel by our verifier; pdfsig (a verifier we
// did not write) on a sample; and results.zip holding every file and a
// manifest whose digests match the downloads. It returns the outputs'
// digests by ref.
func checkOutputs(t *testing.T, d *batchDaemon, c *batchClient, id string, inputs []batchInput, wantLevel, nssdir string) map[string]string {
	t.Helper()
	docs := c.documents(t, id, "")
	if len(docs) != len(inputs) {
		t.Fatalf("%d documents listed, want %d", len(docs), len(inputs))
	}
	listed := map[string]batchDoc{}
	for _, doc := range docs {
		listed[doc.Ref] = doc
	}
	var mu sync.Mutex
	outputs := map[string]string{}
	var errs []string
	fail := func(format string, args ...any) {
		mu.Lock()
		errs = append(errs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	sample := map[string]bool{}
	for i := range 5 {
		sample[inputs[i*len(inputs)/5].ref] = true
	}
	sampleDir := t.TempDir()
	next := make(chan batchInput)
	var wg sync.WaitGroup
	verifier := &http.Client{Timeout: 2 * time.Minute}
	for range 4 {
		wg.Go(func() {
			for in := range next {
				doc := listed[in.ref]
				if doc.State != "signed" || doc.InputSHA256 != sha256Hex(in.pdf) || doc.InputSize != int64(len(in.pdf)) {
					fail("%s listed as %+v", in.ref, doc)
					continue
				}
				a, err := c.try(http.MethodGet, "/api/v1/batches/"+id+"/documents/"+in.ref, "", nil)
				if err != nil || a.status != http.StatusOK {
					fail("GET %s: %v %v", in.ref, err, a)
					continue
				}
				sum := sha256Hex(a.body)
				if !bytes.HasPrefix(a.body, in.pdf) || len(a.body) == len(in.pdf) {
					fail("%s: the output does not start with the input and add to it", in.ref)
				}
				if sum != doc.OutputSHA256 || sum != a.hdr.Get("X-Esign-Output-Sha256") || a.hdr.Get("Content-Type") != "application/pdf" {
					fail("%s: output SHA-256 %s, listed %s, header %q, type %q", in.ref, sum, doc.OutputSHA256, a.hdr.Get("X-Esign-Output-Sha256"), a.hdr.Get("Content-Type"))
				}
				ind, level, err := verifyReport(verifier, d, a.body)
				if err != nil || ind != "TOTAL-PASSED" || level != wantLevel {
					fail("%s: our verifier: %s %s %v", in.ref, ind, level, err)
				}
				if sample[in.ref] {
					if err := os.WriteFile(filepath.Join(sampleDir, in.ref+".pdf"), a.body, 0o644); err != nil {
						fail("%v", err)
					}
				}
				mu.Lock()
				outputs[in.ref] = sum
				mu.Unlock()
			}
		})
	}
	for _, in := range inputs {
		next <- in
	}
	close(next)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d problems with the outputs, the first ones:\n%s", len(errs), strings.Join(errs[:min(len(errs), 10)], "\n"))
	}

	for ref := range sample {
		sigs := extverify.PDFSig(t, nssdir, filepath.Join(sampleDir, ref+".pdf"))
		if len(sigs) == 0 || !sigs[0].Valid || !sigs[0].Trusted {
			t.Errorf("pdfsig %s: %+v", ref, sigs)
		}
		// Poppler lists a document time-stamp (B-LTA) without checking it
		// ("Signature has not yet been verified").
		if wantLevel == "PAdES-BASELINE-LTA" && (len(sigs) != 2 || sigs[1].CommonName != "esign Batch Test TSA") {
			t.Errorf("pdfsig %s: want the signature and a document time-stamp by the outside TSA: %+v", ref, sigs)
		}
	}

	a := c.results(t, id)
	if a.status != http.StatusOK || a.hdr.Get("Content-Type") != "application/zip" {
		t.Fatalf("results.zip: %s", a)
	}
	zr, err := zip.NewReader(bytes.NewReader(a.body), int64(len(a.body)))
	if err != nil {
		t.Fatalf("results.zip: %v", err)
	}
	inZip := map[string]bool{}
	var manifest struct {
		Batch     batchStatus `json:"batch"`
		Documents []batchDoc  `json:"documents"`
	}
	for _, f := range zr.File {
		b := readZipFile(t, f)
		if f.Name == "manifest.json" {
			if err := json.Unmarshal(b, &manifest); err != nil {
				t.Fatalf("manifest.json: %v", err)
			}
			continue
		}
		ref, ok := strings.CutSuffix(f.Name, ".pdf")
		if !ok || outputs[ref] == "" || inZip[ref] {
			t.Errorf("results.zip holds %s", f.Name)
			continue
		}
		inZip[ref] = true
		if sha256Hex(b) != outputs[ref] {
			t.Errorf("results.zip: %s differs from the download", f.Name)
		}
	}
	if len(inZip) != len(inputs) {
		t.Errorf("results.zip holds %d documents, want %d", len(inZip), len(inputs))
	}
	if manifest.Batch.ID != id || manifest.Batch.Signed != int64(len(inputs)) || len(manifest.Documents) != len(inputs) {
		t.Errorf("manifest: batch %+v, %d documents", manifest.Batch, len(manifest.Documents))
	}
	for _, doc := range manifest.Documents {
		if doc.State != "signed" || doc.OutputSHA256 != outputs[doc.Ref] || doc.InputSHA256 != listed[doc.Ref].InputSHA256 {
			t.Errorf("manifest: %+v; downloaded %s", doc, outputs[doc.Ref])
		}
	}
	return outputs
}

func readZipFile(t *testing.T, f *zip.File) []byte {
	t.Helper()
	r, err := f.Open()
	if err != nil {
		t.Fatalf("results.zip %s: %v", f.Name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("results.zip %s: %v", f.Name, err)
	}
	return b
}

// batchAuditEntry is a line of `esign audit list --batch`.
type batchAuditEntry struct {
	Batch     string `json:"batch"`
	Ref       string `json:"ref"`
	Result    string `json:"result"`
	ErrorCode string `json:"error_code"`
	Output    string `json:"output_sha256"`
}

// batchAudit runs `esign audit verify`, which must pass, and returns the
// batch's entries from `esign audit list --batch`, by ref.
func batchAudit(t *testing.T, env map[string]string, id string) map[string][]batchAuditEntry {
	t.Helper()
	if out, err := auditCLI(t, env, "verify"); err != nil {
		t.Fatalf("esign audit verify: %v\n%s", err, out)
	}
	byRef := map[string][]batchAuditEntry{}
	for after := int64(0); ; {
		out, err := auditCLI(t, env, "list", "--batch", id, "--after", strconv.FormatInt(after, 10), "--limit", "1000")
		if err != nil {
			t.Fatalf("esign audit list --batch: %v\n%s", err, out)
		}
		n := 0
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			var e struct {
				Seq int64 `json:"seq"`
				batchAuditEntry
			}
			if err := dec.Decode(&e); err != nil {
				t.Fatalf("esign audit list: %v", err)
			}
			if e.Batch != id {
				t.Errorf("esign audit list --batch %s lists an entry of batch %q", id, e.Batch)
			}
			byRef[e.Ref] = append(byRef[e.Ref], e.batchAuditEntry)
			after = e.Seq
			n++
		}
		if n == 0 {
			return byRef
		}
	}
}

// checkSignedOnce checks that the audit log holds exactly one entry, a
// success, for each ref of signed (with its output's digest when given),
// and nothing else for the batch.
func checkSignedOnce(t *testing.T, byRef map[string][]batchAuditEntry, signed []string, outputs map[string]string) {
	t.Helper()
	successes := 0
	for _, es := range byRef {
		for _, e := range es {
			if e.Result == "success" {
				successes++
			}
		}
	}
	if successes != len(signed) {
		t.Errorf("%d success entries in the audit log, %d documents signed", successes, len(signed))
	}
	bad := 0
	for _, ref := range signed {
		es := byRef[ref]
		if len(es) != 1 || es[0].Result != "success" || outputs != nil && es[0].Output != outputs[ref] {
			if bad++; bad <= 10 {
				t.Errorf("audit entries of %s: %+v, want one success", ref, es)
			}
		}
	}
	if bad > 10 {
		t.Errorf("… %d documents in all", bad)
	}
	if len(byRef) != len(signed) {
		t.Errorf("audit entries for %d refs, want %d", len(byRef), len(signed))
	}
}

func refsOf(inputs []batchInput) []string {
	refs := make([]string, len(inputs))
	for i, in := range inputs {
		refs[i] = in.ref
	}
	return refs
}

// TestBatchKillAndRestart: a batch of 500 transcripts at B-LTA against an
// outside TSA; esignd is killed with SIGKILL with part of it signed, and
// started again on the same data directory and database. The batch
// finishes: every document signed once, one success in the audit log per
// document and nothing else, the log's chain intact, every output
// verified by our verifier and a sample by pdfsig, results.zip complete.
func TestBatchKillAndRestart(t *testing.T) {
	bin := buildDaemon(t)
	ts := startTestTSA(t, 15*time.Millisecond)
	const n = 500
	inputs := batchInputs(t, n)
	for _, tc := range []struct {
		name     string
		database func(*testing.T) string // nil: SQLite in the data directory
	}{
		{"sqlite", nil},
		{"postgres", batchDatabase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			env := append(ts.env(), verifierUnlimited...)
			auditEnv := map[string]string{"ESIGN_DATA_DIR": dataDir}
			if tc.database != nil {
				url := tc.database(t)
				env = append(env, "ESIGN_DATABASE_URL="+url)
				auditEnv["ESIGN_DATABASE_URL"] = url
			}
			addr, verifyAddr := freeAddr(t), freeAddr(t)
			// The documents go in while no replica signs, so that the kill
			// finds most of them pending however fast this machine signs.
			d := launchDaemon(t, bin, dataDir, addr, verifyAddr, append(env, "ESIGN_BATCH_WORKERS=0")...)
			c := newBatchClient(d, d.key(t, "dev-api-key"))
			id := c.mustCreate(t, map[string]string{"signer": "dev-registrar", "level": "B-LTA", "reason": "ใบรับรองผลการศึกษา"})
			c.putAll(t, id, inputs)
			c.closeBatch(t, id)
			d.stop(t)

			env = append(env, "ESIGN_BATCH_WORKERS=16")
			d = launchDaemon(t, bin, dataDir, addr, verifyAddr, env...)
			start := time.Now()
			before := c.waitStatus(t, id, "a fifth signed", 5*time.Minute, func(st batchStatus) bool { return st.Signed >= n/5 })
			if before.Pending < n/10 {
				t.Fatalf("the batch is nearly done before the kill (%+v): make it larger", before)
			}
			d.kill(t)
			t.Logf("killed with %d signed, %d pending, %v after the workers started", before.Signed, before.Pending, time.Since(start).Round(time.Millisecond))

			d = launchDaemon(t, bin, dataDir, addr, verifyAddr, env...)
			st := c.waitDone(t, id, 5*time.Minute)
			t.Logf("done %v after the workers first started", time.Since(start).Round(time.Millisecond))
			if st.Total != n || st.Signed != n || st.Failed != 0 || st.Pending != 0 || st.Cancelled != 0 {
				t.Fatalf("status %+v, want all %d signed", st, n)
			}
			nss := extverify.NSSDB(t, readCert(t, filepath.Join(dataDir, "pki", "root.pem")), ts.root)
			checked := time.Now()
			outputs := checkOutputs(t, d, c, id, inputs, "PAdES-BASELINE-LTA", nss)
			t.Logf("outputs checked in %v", time.Since(checked).Round(time.Millisecond))

			d.stop(t)
			checkSignedOnce(t, batchAudit(t, auditEnv, id), refsOf(inputs), outputs)
		})
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// TestBatchReplicas: two esignd replicas on one PostgreSQL database and
// one data directory (one token, one blob folder) work one batch; both
// sign part of it, and the one that did not create it answers for it.
// One is killed with SIGKILL mid-batch; the other hands the documents the
// dead one held back to the queue and finishes the batch within the
// issue's bound of a minute, every document signed once.
func TestBatchReplicas(t *testing.T) {
	bin := buildDaemon(t)
	// A slow TSA, so that the batch lasts long enough for both replicas to
	// take part before the kill.
	ts := startTestTSA(t, 40*time.Millisecond)
	dataDir := t.TempDir()
	url := batchDatabase(t)
	env := append(ts.env(), "ESIGN_DATABASE_URL="+url, "ESIGN_BATCH_WORKERS=2")
	// The second replica issues the development certificates again for
	// its own address; B-T fetches no revocation data, so neither replica
	// depends on the other's OCSP responder.
	a := launchDaemon(t, bin, dataDir, freeAddr(t), freeAddr(t), env...)
	b := launchDaemon(t, bin, dataDir, freeAddr(t), freeAddr(t), env...)
	key := a.key(t, "dev-api-key")
	ca, cb := newBatchClient(a, key), newBatchClient(b, key)

	const n = 300
	inputs := batchInputs(t, n)
	id := ca.mustCreate(t, map[string]string{"signer": "dev-registrar", "level": "B-T"})
	ca.putAll(t, id, inputs[:n/2])
	cb.putAll(t, id, inputs[n/2:])
	if st := cb.closeBatch(t, id); st.ID != id || st.Total != n {
		t.Fatalf("close through the second replica: %+v", st)
	}
	waitUntil(t, "both replicas signing", 2*time.Minute, func() bool { return batchSigned(t, a) > 0 && batchSigned(t, b) > 0 })
	signedA, signedB := batchSigned(t, a), batchSigned(t, b)
	// The replica that did not create the batch answers for it.
	signed := cb.documents(t, id, "signed")
	if len(signed) == 0 {
		t.Fatal("no document listed as signed")
	}
	if got := cb.document(t, id, signed[0].Ref); got.status != http.StatusOK || sha256Hex(got.body) != signed[0].OutputSHA256 {
		t.Fatalf("GET %s from the second replica: %s", signed[0].Ref, got)
	}
	before := ca.status(t, id)
	if before.Pending < n/10 {
		t.Fatalf("the batch is nearly done before the kill (%+v): make it larger", before)
	}
	a.kill(t)
	t.Logf("killed the first replica with %v and %v signed by each, batch %+v", signedA, signedB, before)

	killed := time.Now()
	st := cb.waitDone(t, id, time.Minute)
	t.Logf("the survivor finished the batch %v after the kill", time.Since(killed).Round(time.Millisecond))
	if st.Signed != n || st.Failed != 0 || st.Total != n {
		t.Fatalf("status %+v, want all %d signed", st, n)
	}
	if got := batchSigned(t, b); got <= signedB {
		t.Errorf("the survivor signed nothing after the kill (%v before, %v after)", signedB, got)
	}
	outputs := map[string]string{}
	for _, doc := range cb.documents(t, id, "") {
		outputs[doc.Ref] = doc.OutputSHA256
	}
	got := cb.document(t, id, inputs[0].ref)
	if got.status != http.StatusOK || !bytes.HasPrefix(got.body, inputs[0].pdf) || sha256Hex(got.body) != outputs[inputs[0].ref] {
		t.Errorf("GET %s from the survivor: %d", inputs[0].ref, got.status)
	}
	res := cb.results(t, id)
	zr, err := zip.NewReader(bytes.NewReader(res.body), int64(len(res.body)))
	if res.status != http.StatusOK || err != nil {
		t.Fatalf("results.zip from the survivor: %d %v", res.status, err)
	}
	if len(zr.File) != n+1 {
		t.Errorf("results.zip holds %d files, want %d and the manifest", len(zr.File), n)
	}
	b.stop(t)
	checkSignedOnce(t, batchAudit(t, map[string]string{"ESIGN_DATA_DIR": dataDir, "ESIGN_DATABASE_URL": url}, id), refsOf(inputs), outputs)
}

// TestBatchIdempotencyAndIsolation: a document put twice under one ref is
// one document, the same bytes under two refs are two, other bytes under
// a taken ref are refused; a repeated idempotency key returns the batch
// made first. Another client (dev-api-key-2, which may use the same
// credential) finds none of the batch's endpoints. Cancelling leaves the
// pending documents cancelled and never signed, and the signed ones
// downloadable.
func TestBatchIdempotencyAndIsolation(t *testing.T) {
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	addr, verifyAddr := freeAddr(t), freeAddr(t)
	d := launchDaemon(t, bin, dataDir, addr, verifyAddr, "ESIGN_BATCH_WORKERS=2")
	c := newBatchClient(d, d.key(t, "dev-api-key"))
	other := newBatchClient(d, d.key(t, "dev-api-key-2"))
	inputs := batchInputs(t, 5)
	spec := map[string]string{"signer": "dev-registrar", "level": "B-B", "idempotency_key": "round-2568-1"}

	a, first := c.create(t, spec)
	if a.status != http.StatusCreated {
		t.Fatalf("create: %s", a)
	}
	id := first.ID
	if a, again := c.create(t, spec); a.status != http.StatusOK || again.ID != id {
		t.Fatalf("the same idempotency key again: %s, want 200 with batch %s", a, id)
	}
	// The key is the client's own: the other client's use of it makes
	// another batch.
	if a, theirs := other.create(t, spec); a.status != http.StatusCreated || theirs.ID == id {
		t.Fatalf("another client's batch under the same key: %s", a)
	}

	for _, step := range []struct {
		name   string
		ref    string
		pdf    []byte
		status int
		code   string
	}{
		{"new", "a", inputs[0].pdf, http.StatusCreated, ""},
		{"same ref, same bytes", "a", inputs[0].pdf, http.StatusOK, ""},
		{"other ref, same bytes", "b", inputs[0].pdf, http.StatusCreated, ""},
		{"same ref, other bytes", "a", inputs[1].pdf, http.StatusConflict, "conflict"},
		{"same ref, same bytes, after the conflict", "b", inputs[0].pdf, http.StatusOK, ""},
	} {
		got := c.put(t, id, step.ref, step.pdf)
		if got.status != step.status || got.code() != step.code {
			t.Errorf("%s: PUT %s: %s, want %d %q", step.name, step.ref, got, step.status, step.code)
		}
	}
	docs := c.documents(t, id, "")
	if len(docs) != 2 || docs[0].Ref != "a" || docs[1].Ref != "b" || docs[0].InputSHA256 != sha256Hex(inputs[0].pdf) || docs[1].InputSHA256 != docs[0].InputSHA256 {
		t.Fatalf("documents %+v, want a and b with the same bytes", docs)
	}
	c.waitStatus(t, id, "a and b signed", 2*time.Minute, func(st batchStatus) bool { return st.Signed == 2 })
	signedA := c.document(t, id, "a")
	if signedA.status != http.StatusOK || !bytes.HasPrefix(signedA.body, inputs[0].pdf) {
		t.Fatalf("GET a: %d", signedA.status)
	}

	// Another client finds nothing, whatever it asks, and changes nothing.
	isolation := func(t *testing.T) {
		t.Helper()
		for _, r := range []struct {
			method, path, ctype string
			body                []byte
		}{
			{http.MethodGet, "/api/v1/batches/" + id, "", nil},
			{http.MethodPut, "/api/v1/batches/" + id + "/documents/x", "application/pdf", inputs[2].pdf},
			{http.MethodPut, "/api/v1/batches/" + id + "/documents/a", "application/pdf", inputs[0].pdf},
			{http.MethodPost, "/api/v1/batches/" + id + "/close", "", nil},
			{http.MethodDelete, "/api/v1/batches/" + id, "", nil},
			{http.MethodGet, "/api/v1/batches/" + id + "/documents", "", nil},
			{http.MethodGet, "/api/v1/batches/" + id + "/documents/a", "", nil},
			{http.MethodGet, "/api/v1/batches/" + id + "/documents/nope", "", nil},
			{http.MethodGet, "/api/v1/batches/" + id + "/results.zip", "", nil},
		} {
			got := other.do(t, r.method, r.path, r.ctype, r.body)
			if got.status != http.StatusNotFound || got.code() != "not_found" {
				t.Errorf("another client's %s %s: %s, want 404 not_found", r.method, r.path, got)
			}
		}
	}
	isolation(t)

	// Without workers, documents put now stay pending.
	d.stop(t)
	d = launchDaemon(t, bin, dataDir, addr, verifyAddr, "ESIGN_BATCH_WORKERS=0")
	for _, in := range inputs[2:4] {
		if got := c.put(t, id, in.ref, in.pdf); got.status != http.StatusCreated {
			t.Fatalf("PUT %s: %s", in.ref, got)
		}
	}
	if got := c.document(t, id, inputs[2].ref); got.status != http.StatusConflict || got.code() != "not_signed" || !strings.Contains(string(got.body), `"state":"pending"`) {
		t.Errorf("GET a pending document: %s", got)
	}
	isolation(t)
	if st := c.status(t, id); st.State != "open" || st.Signed != 2 || st.Pending != 2 || st.Cancelled != 0 {
		t.Fatalf("status after the other client's requests: %+v", st)
	}

	var st batchStatus
	decode(t, "cancel", c.cancel(t, id), &st)
	if st.State != "cancelled" || st.Signed != 2 || st.Cancelled != 2 || st.Pending != 0 || st.Total != 4 {
		t.Fatalf("status after cancel: %+v", st)
	}
	if got := c.put(t, id, inputs[4].ref, inputs[4].pdf); got.status != http.StatusConflict || got.code() != "batch_closed" {
		t.Errorf("PUT into a cancelled batch: %s", got)
	}
	checkCancelled := func(t *testing.T) {
		t.Helper()
		for _, in := range inputs[2:4] {
			got := c.document(t, id, in.ref)
			if got.status != http.StatusConflict || got.code() != "not_signed" || !strings.Contains(string(got.body), `"state":"cancelled"`) {
				t.Errorf("GET cancelled %s: %s", in.ref, got)
			}
		}
		if got := c.document(t, id, "a"); got.status != http.StatusOK || !bytes.Equal(got.body, signedA.body) {
			t.Errorf("GET a after cancel: %d", got.status)
		}
		res := c.results(t, id)
		zr, err := zip.NewReader(bytes.NewReader(res.body), int64(len(res.body)))
		if res.status != http.StatusOK || err != nil {
			t.Fatalf("results.zip: %d %v", res.status, err)
		}
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		if !slices.Equal(names, []string{"a.pdf", "b.pdf", "manifest.json"}) {
			t.Errorf("results.zip holds %q", names)
		}
		if st := c.status(t, id); st.State != "cancelled" || st.Signed != 2 || st.Cancelled != 2 {
			t.Errorf("status: %+v", st)
		}
	}
	checkCancelled(t)

	// With workers again, the cancelled documents' jobs are taken and
	// dropped: a document put into a new batch afterwards is signed after
	// them (the queue works in order), and they stay cancelled.
	d.stop(t)
	d = launchDaemon(t, bin, dataDir, addr, verifyAddr, "ESIGN_BATCH_WORKERS=2")
	later := c.mustCreate(t, map[string]string{"signer": "dev-registrar", "level": "B-B"})
	if got := c.put(t, later, "z", inputs[4].pdf); got.status != http.StatusCreated {
		t.Fatalf("PUT z: %s", got)
	}
	c.closeBatch(t, later)
	c.waitDone(t, later, 2*time.Minute)
	checkCancelled(t)

	d.stop(t)
	byRef := batchAudit(t, map[string]string{"ESIGN_DATA_DIR": dataDir}, id)
	checkSignedOnce(t, byRef, []string{"a", "b"}, nil)
}

// pageTreeLoop is a PDF whose page tree holds itself.
var pageTreeLoop = []byte("%PDF-1.7\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type/Pages/Kids[2 0 R]/Count 1>>\nendobj\n" +
	"xref\n0 3\n0000000000 65535 f\r\n0000000009 00000 n\r\n0000000054 00000 n\r\ntrailer\n<</Size 3/Root 1 0 R>>\nstartxref\n105\n%%EOF\n")

// TestBatchBrokenAndTSAOutage: a broken document fails alone, with the
// status and code /api/v1/sign answers for the same bytes; the rest of
// its batch is signed. While the TSA is away, a batch's documents stay
// pending and are retried; when it is back on its address, the batch
// finishes with every document signed and none failed.
func TestBatchBrokenAndTSAOutage(t *testing.T) {
	bin := buildDaemon(t)
	ts := startTestTSA(t, 5*time.Millisecond)
	dataDir := t.TempDir()
	d := launchDaemon(t, bin, dataDir, freeAddr(t), freeAddr(t), append(ts.env(), "ESIGN_BATCH_WORKERS=4")...)
	key := d.key(t, "dev-api-key")
	c := newBatchClient(d, key)
	auditEnv := map[string]string{"ESIGN_DATA_DIR": dataDir}
	transcript, err := os.ReadFile("../../testdata/corpus/transcript-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	// An encrypted file that needs a password: batches take none (they
	// would have to store it), so it fails alone, as /sign fails it
	// without its password. (One with the empty user password is signed.)
	encDir := t.TempDir()
	os.WriteFile(filepath.Join(encDir, "plain.pdf"), transcript, 0o644)
	if out, err := exec.Command("qpdf", "--encrypt", "user-pw", "owner-pw", "256", "--",
		filepath.Join(encDir, "plain.pdf"), filepath.Join(encDir, "enc.pdf")).CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 { // 3: warnings only
			t.Fatalf("qpdf --encrypt: %v %s", err, out)
		}
	}
	encrypted, err := os.ReadFile(filepath.Join(encDir, "enc.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	options := map[string]string{"signer": "dev-registrar", "level": "B-T"}

	t.Run("broken documents", func(t *testing.T) {
		good := batchInputs(t, 8)
		broken := []batchInput{
			{"garbage", []byte("this is not a PDF")},
			{"truncated", transcript[:len(transcript)/3]},
			{"page-tree-loop", pageTreeLoop},
			{"encrypted", encrypted},
		}
		id := c.mustCreate(t, options)
		c.putAll(t, id, slices.Concat(good[:4], broken, good[4:]))
		c.closeBatch(t, id)
		st := c.waitDone(t, id, 2*time.Minute)
		if st.Signed != int64(len(good)) || st.Failed != int64(len(broken)) || st.Total != int64(len(good)+len(broken)) {
			t.Fatalf("status %+v, want %d signed and %d failed", st, len(good), len(broken))
		}
		listed := map[string]batchDoc{}
		for _, doc := range c.documents(t, id, "") {
			listed[doc.Ref] = doc
		}
		byRef := batchAudit(t, auditEnv, id)
		for _, in := range broken {
			t.Run(in.ref, func(t *testing.T) {
				status, _, body := d.sign(t, key, in.pdf, options)
				code := errorCode(t, body)
				if status/100 != 4 {
					t.Fatalf("/api/v1/sign: %d %s: not a client error", status, code)
				}
				got := c.document(t, id, in.ref)
				if got.status != status || got.code() != code || !strings.Contains(string(got.body), `"state":"failed"`) {
					t.Errorf("GET the failed document: %s; /api/v1/sign answers %d %s", got, status, code)
				}
				if doc := listed[in.ref]; doc.State != "failed" || doc.Error == nil || doc.Error.Status != status || doc.Error.Code != code {
					t.Errorf("listed as %+v, want failed with %d %s", doc, status, code)
				}
				if es := byRef[in.ref]; len(es) != 1 || es[0].Result != "failure" || es[0].ErrorCode != code {
					t.Errorf("audit entries %+v, want one failure %s", es, code)
				}
			})
		}
		for _, in := range good {
			if got := c.document(t, id, in.ref); got.status != http.StatusOK || !bytes.HasPrefix(got.body, in.pdf) {
				t.Errorf("GET %s: %d", in.ref, got.status)
			}
			if es := byRef[in.ref]; len(es) != 1 || es[0].Result != "success" {
				t.Errorf("audit entries of %s: %+v", in.ref, es)
			}
		}
	})

	t.Run("TSA outage", func(t *testing.T) {
		const n = 20
		inputs := batchInputs(t, n)
		retries := batchRetries(t, d)
		ts.stop()
		id := c.mustCreate(t, options)
		c.putAll(t, id, inputs)
		c.closeBatch(t, id)
		// Every document is tried, and tried again, while the TSA is away,
		// and stays pending.
		waitUntil(t, "every document retried twice", 2*time.Minute, func() bool { return batchRetries(t, d) >= retries+2*n })
		if st := c.status(t, id); st.Pending != n || st.Failed != 0 || st.Signed != 0 || st.State != "running" {
			t.Fatalf("status while the TSA is away: %+v, want all %d pending", st, n)
		}
		ts.restart(t)
		st := c.waitDone(t, id, 3*time.Minute)
		if st.Signed != n || st.Failed != 0 || st.Total != n {
			t.Fatalf("status after the TSA came back: %+v, want all %d signed", st, n)
		}
		outputs := map[string]string{}
		for _, doc := range c.documents(t, id, "") {
			outputs[doc.Ref] = doc.OutputSHA256
		}
		checkSignedOnce(t, batchAudit(t, auditEnv, id), refsOf(inputs), outputs)
	})
}
