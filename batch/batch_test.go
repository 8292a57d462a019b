package batch

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
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"esign/activation"
	"esign/api"
	"esign/audit"
	"esign/blob"
	"esign/signer"
	"esign/store"
	"esign/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// softKeys resolves every credential to one software key, and can be made
// to fail: these tests are about the queue, not the HSM (the daemon's
// tests sign with SoftHSM).
type softKeys struct {
	cred  signer.Credential
	fails atomic.Int64 // Resolve fails this many more times, as an HSM that is away
	calls atomic.Int64
}

func (k *softKeys) Resolve(context.Context, *store.Credential) (signer.Credential, error) {
	k.calls.Add(1)
	if k.fails.Add(-1) >= 0 {
		return signer.Credential{}, &signer.KeyError{Err: errors.New("token removed")}
	}
	return k.cred, nil
}

func newSoftKeys(t *testing.T) *softKeys {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ทะเบียน test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &softKeys{cred: signer.Credential{Signer: key, Chain: []*x509.Certificate{cert}}}
}

// harness is one database, blob store and audit log that engines
// (replicas) share.
type harness struct {
	st     *store.Store
	blobs  *blob.Dir
	log    *audit.Log
	keys   *softKeys
	client *store.Client
	other  *store.Client
	pdf    []byte
}

func newHarness(t *testing.T, backend store.Backend) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{st: storetest.Open(t, backend, store.Options{}), keys: newSoftKeys(t)}
	var err error
	if h.blobs, err = blob.OpenDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if h.log, err = audit.Open(ctx, h.st, audit.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []store.Credential{
		{Name: "registrar", KeyLabel: "registrar", Activation: store.ActivationNone},
		{Name: "pinned", KeyLabel: "pinned", Activation: store.ActivationPIN},
	} {
		if err := h.st.CreateCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.st.SetPIN(ctx, "pinned", []byte("246810")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"university", "other"} {
		if _, err := h.st.CreateClient(ctx, name, []string{"registrar", "pinned"}); err != nil {
			t.Fatal(err)
		}
	}
	if h.client, err = h.st.Client(ctx, "university"); err != nil {
		t.Fatal(err)
	}
	if h.other, err = h.st.Client(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if h.pdf, err = os.ReadFile("../testdata/corpus/memo-chromium.pdf"); err != nil {
		t.Fatal(err)
	}
	return h
}

// engine opens a replica on the harness's database; workers 0 takes
// documents in but signs none. It is stopped when the test ends.
func (h *harness) engine(t *testing.T, workers int, edit ...func(*Config)) *Engine {
	t.Helper()
	cfg := Config{
		Store: h.st, Blobs: h.blobs, Audit: h.log, Signer: &signer.Signer{}, Keys: h.keys,
		Activator: activation.New(h.st, activation.Options{}), Classify: api.StatusOf, Workers: workers,
	}
	for _, f := range edit {
		f(&cfg)
	}
	e, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
		e.Close()
	})
	return e
}

// variant makes distinct documents from one PDF: bytes after %%EOF are
// allowed and leave it a valid PDF.
func (h *harness) variant(i int) []byte {
	return append(bytes.Clone(h.pdf), fmt.Sprintf("\n%% copy %d\n", i)...)
}

func (h *harness) create(t *testing.T, e *Engine, opts map[string]string) *Status {
	t.Helper()
	if opts == nil {
		opts = map[string]string{}
	}
	if opts["signer"] == "" {
		opts["signer"] = "registrar"
	}
	if opts["level"] == "" {
		opts["level"] = "B-B"
	}
	st, created, err := e.Create(context.Background(), h.client, Spec{Options: opts})
	if err != nil || !created {
		t.Fatalf("create batch: %v (created %v)", err, created)
	}
	return st
}

func (h *harness) add(t *testing.T, e *Engine, id, ref string, pdf []byte, opts map[string]string) *Document {
	t.Helper()
	d, created, err := e.AddDocument(context.Background(), h.client, id, ref, bytes.NewReader(pdf), opts)
	if err != nil || !created {
		t.Fatalf("add %s: %v (created %v)", ref, err, created)
	}
	return d
}

// waitDone closes the batch and waits for every document to end.
func (h *harness) waitDone(t *testing.T, e *Engine, id string) *Status {
	t.Helper()
	ctx := context.Background()
	if _, err := e.CloseBatch(ctx, h.client, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute) // only catches a hang
	for {
		st, err := e.Status(ctx, h.client, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == "done" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch not done: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkOutput reads a signed document and checks that it is its input
// followed by an update, with the digest the listing gives.
func (h *harness) checkOutput(t *testing.T, e *Engine, id, ref string, in []byte) []byte {
	t.Helper()
	out, err := e.Output(context.Background(), h.client, id, ref)
	if err != nil {
		t.Fatalf("output %s: %v", ref, err)
	}
	defer out.Close()
	var b bytes.Buffer
	if _, err := out.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), in) || b.Len() <= len(in) {
		t.Fatalf("%s: output is not the input with an update appended", ref)
	}
	if sum := sha256.Sum256(b.Bytes()); hex.EncodeToString(sum[:]) != out.SHA256 || int64(b.Len()) != out.Size() {
		t.Fatalf("%s: output digest or size differs from the recorded ones", ref)
	}
	return b.Bytes()
}

// TestEachDocumentOnce: two replicas work one batch whose every document
// has three jobs, as after rescues of workers killed between the HSM and
// the commit. Every document is signed once: one stored result, one
// successful audit entry, the counts agree.
func TestEachDocumentOnce(t *testing.T) {
	for _, backend := range storetest.Backends() {
		t.Run(string(backend), func(t *testing.T) {
			h := newHarness(t, backend)
			a := h.engine(t, 0) // takes the documents in
			st := h.create(t, a, nil)
			const n = 60
			ctx := context.Background()
			for i := range n {
				ref := fmt.Sprintf("s%03d", i)
				h.add(t, a, st.ID, ref, h.variant(i), nil)
				for range 2 {
					if err := h.st.WithTx(ctx, func(tx *store.Tx) error { return a.queue.enqueueTx(ctx, tx, st.ID, ref) }); err != nil {
						t.Fatal(err)
					}
				}
			}
			b, c := h.engine(t, 4), h.engine(t, 4)
			done := h.waitDone(t, a, st.ID)
			if done.Signed != n || done.Failed != 0 || done.Total != n {
				t.Fatalf("status %+v, want %d signed", done, n)
			}
			ok, err := h.log.Count(ctx, audit.Filter{Batch: st.ID, Result: audit.Success})
			if err != nil || ok != n {
				t.Fatalf("%d successful audit entries (%v), want %d", ok, err, n)
			}
			all, err := h.log.Count(ctx, audit.Filter{Batch: st.ID})
			if err != nil || all != n {
				t.Fatalf("%d audit entries (%v), want %d", all, err, n)
			}
			for i := range n {
				ref := fmt.Sprintf("s%03d", i)
				if k, err := h.log.Count(ctx, audit.Filter{Batch: st.ID, Ref: ref, Result: audit.Success}); err != nil || k != 1 {
					t.Fatalf("%s: %d successful audit entries (%v)", ref, k, err)
				}
				h.checkOutput(t, a, st.ID, ref, h.variant(i))
			}
			// Both replicas worked: the queue was shared, not one's alone.
			signedBy := func(e *Engine) float64 { return counterValue(t, e, "signed") }
			if signedBy(b)+signedBy(c) != n {
				t.Errorf("replicas signed %v and %v, want %d together", signedBy(b), signedBy(c), n)
			}
			if h.keys.calls.Load() < n {
				t.Errorf("%d key resolutions for %d documents", h.keys.calls.Load(), n)
			}
			if _, err := h.log.Verify(ctx); err != nil {
				t.Fatalf("audit log: %v", err)
			}
		})
	}
}

func counterValue(t *testing.T, e *Engine, result string) float64 {
	t.Helper()
	var m dto.Metric
	if err := e.metrics.documents.WithLabelValues(result).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestFailuresAndRetries: a broken PDF fails alone with /sign's code;
// an HSM that is away is retried, not failed.
func TestFailuresAndRetries(t *testing.T) {
	h := newHarness(t, store.SQLite)
	h.keys.fails.Store(2) // the first two tries find no token
	e := h.engine(t, 2)
	st := h.create(t, e, nil)
	h.add(t, e, st.ID, "good", h.pdf, nil)
	h.add(t, e, st.ID, "broken", []byte("%PDF-1.7\nnot really\n"), nil)
	done := h.waitDone(t, e, st.ID)
	if done.Signed != 1 || done.Failed != 1 {
		t.Fatalf("status %+v, want 1 signed and 1 failed", done)
	}
	ctx := context.Background()
	bad, err := e.Document(ctx, h.client, st.ID, "broken")
	if err != nil {
		t.Fatal(err)
	}
	_, want := api.StatusOf(signer.ErrInvalidPDF)
	if bad.State != "failed" || bad.Error == nil || bad.Error.Code != want || bad.Error.Status != 422 {
		t.Fatalf("broken document: %+v, want failed with %s", bad, want)
	}
	var ns *NotSignedError
	if _, err := e.Output(ctx, h.client, st.ID, "broken"); !errors.As(err, &ns) || ns.Code != want {
		t.Fatalf("output of the broken document: %v", err)
	}
	good, err := e.Document(ctx, h.client, st.ID, "good")
	if err != nil {
		t.Fatal(err)
	}
	if good.State != "signed" || good.Attempts < 2 {
		t.Fatalf("good document: %+v, want signed after retries", good)
	}
	var m dto.Metric
	e.metrics.retries.Write(&m)
	if m.GetCounter().GetValue() < 2 {
		t.Errorf("retries counted %v, want at least 2", m.GetCounter().GetValue())
	}
	failed, _ := h.log.Count(ctx, audit.Filter{Batch: st.ID, Result: audit.Failure})
	if failed != 1 {
		t.Errorf("%d failure entries, want 1 (retries are not audited, the outcome is)", failed)
	}
}

// TestIdempotencyAndIsolation: the contract's idempotency rules, and a
// batch that only its client sees.
func TestIdempotencyAndIsolation(t *testing.T) {
	h := newHarness(t, store.SQLite)
	e := h.engine(t, 0)
	ctx := context.Background()
	spec := Spec{Options: map[string]string{"signer": "registrar", "level": "B-B"}, IdempotencyKey: "round-2569-1"}
	first, created, err := e.Create(ctx, h.client, spec)
	if err != nil || !created {
		t.Fatal(err)
	}
	again, created, err := e.Create(ctx, h.client, spec)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("repeated idempotency key: %v, created %v, id %s want %s", err, created, again.ID, first.ID)
	}
	theirs, created, err := e.Create(ctx, h.other, spec)
	if err != nil || !created || theirs.ID == first.ID {
		t.Fatalf("another client's same key must make its own batch: %v %v", err, created)
	}
	id := first.ID
	put := func(c *store.Client, ref string, pdf []byte) (bool, error) {
		_, created, err := e.AddDocument(ctx, c, id, ref, bytes.NewReader(pdf), nil)
		return created, err
	}
	for _, tc := range []struct {
		name    string
		client  *store.Client
		ref     string
		pdf     []byte
		created bool
		err     error
	}{
		{"new", h.client, "6401", h.pdf, true, nil},
		{"same ref and bytes", h.client, "6401", h.pdf, false, nil},
		{"same bytes, other ref", h.client, "6402", h.pdf, true, nil},
		{"same ref, other bytes", h.client, "6401", h.variant(1), false, ErrConflict},
		{"other client", h.other, "6403", h.pdf, false, ErrNotFound},
		{"bad ref", h.client, "../x", h.pdf, false, ErrInvalid},
		{"empty", h.client, "6404", nil, false, ErrInvalid},
	} {
		created, err := put(tc.client, tc.ref, tc.pdf)
		if created != tc.created || !errors.Is(err, tc.err) {
			t.Errorf("%s: created %v, err %v; want %v, %v", tc.name, created, err, tc.created, tc.err)
		}
	}
	if st, _ := e.Status(ctx, h.client, id); st.Total != 2 {
		t.Errorf("total %d, want 2", st.Total)
	}
	for name, call := range map[string]func() error{
		"status":    func() error { _, err := e.Status(ctx, h.other, id); return err },
		"close":     func() error { _, err := e.CloseBatch(ctx, h.other, id); return err },
		"cancel":    func() error { _, err := e.CancelBatch(ctx, h.other, id); return err },
		"documents": func() error { _, _, err := e.Documents(ctx, h.other, id, "", "", 0); return err },
		"document":  func() error { _, err := e.Document(ctx, h.other, id, "6401"); return err },
		"output":    func() error { _, err := e.Output(ctx, h.other, id, "6401"); return err },
		"results":   func() error { return e.WriteResults(ctx, h.other, id, io.Discard) },
	} {
		if err := call(); !errors.Is(err, ErrNotFound) {
			t.Errorf("another client's %s: %v, want ErrNotFound", name, err)
		}
	}
	if st, _ := e.Status(ctx, h.client, id); st.State != "open" {
		t.Errorf("another client's cancel or close changed the batch: %s", st.State)
	}
}

// TestCancel: pending documents are never signed; a cancelled batch takes
// no more.
func TestCancel(t *testing.T) {
	h := newHarness(t, store.SQLite)
	e := h.engine(t, 0)
	ctx := context.Background()
	st := h.create(t, e, nil)
	for i := range 5 {
		h.add(t, e, st.ID, fmt.Sprintf("d%d", i), h.variant(i), nil)
	}
	got, err := e.CancelBatch(ctx, h.client, st.ID)
	if err != nil || got.State != "cancelled" || got.Cancelled != 5 || got.Pending != 0 || got.FinishedAt == nil {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	if _, _, err := e.AddDocument(ctx, h.client, st.ID, "late", bytes.NewReader(h.pdf), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("document after cancel: %v, want ErrClosed", err)
	}
	// A replica that starts now finds the jobs and signs nothing.
	w := h.engine(t, 2)
	var ns *NotSignedError
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := h.st.DB().QueryRow("SELECT COUNT(*) FROM river_job WHERE state IN ('available', 'running')").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := w.Output(ctx, h.client, st.ID, "d0"); !errors.As(err, &ns) || ns.State != "cancelled" {
		t.Fatalf("output of a cancelled document: %v", err)
	}
	if n, _ := h.log.Count(ctx, audit.Filter{Batch: st.ID}); n != 0 || h.keys.calls.Load() != 0 {
		t.Fatalf("a cancelled batch was worked: %d audit entries, %d key uses", n, h.keys.calls.Load())
	}
}

// TestDocumentOptions: a document's own field overrides the batch's, and
// options /sign refuses are refused when the batch is made.
func TestDocumentOptions(t *testing.T) {
	h := newHarness(t, store.SQLite)
	e := h.engine(t, 2)
	ctx := context.Background()
	for _, bad := range []map[string]string{
		{"level": "B-X"},
		{"certify": "4"},
		{"signer": "nobody"},
		{"visible": "true"},
		{"page": "1", "rect": "1,2"},
	} {
		opts := map[string]string{"signer": "registrar"}
		for k, v := range bad {
			opts[k] = v
		}
		if _, _, err := e.Create(ctx, h.client, Spec{Options: opts}); err == nil {
			t.Errorf("batch with %v was made", bad)
		}
	}
	st := h.create(t, e, map[string]string{"field": "Registrar", "reason": "อนุมัติผลการศึกษา"})
	h.add(t, e, st.ID, "own", h.variant(1), map[string]string{"field": "Dean"})
	h.add(t, e, st.ID, "batch", h.variant(2), nil)
	if _, _, err := e.AddDocument(ctx, h.client, st.ID, "x", bytes.NewReader(h.pdf), map[string]string{"reason": "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a document setting the batch's reason: %v, want ErrInvalid", err)
	}
	h.waitDone(t, e, st.ID)
	for ref, field := range map[string]string{"own": "Dean", "batch": "Registrar"} {
		d, err := e.Document(ctx, h.client, st.ID, ref)
		if err != nil || d.Field != field {
			t.Errorf("%s: field %q (%v), want %q", ref, d.Field, err, field)
		}
		out := h.checkOutput(t, e, st.ID, ref, nil)
		if !bytes.Contains(out, []byte("/T ("+field+")")) && !bytes.Contains(out, []byte("/T <")) {
			t.Errorf("%s: the signed file names no field %q", ref, field)
		}
	}
}

// TestActivation: a PIN is checked once, at creation, and never stored;
// the batch stays activated for its TTL only.
func TestActivation(t *testing.T) {
	h := newHarness(t, store.SQLite)
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	e := h.engine(t, 2, func(c *Config) {
		c.ActivationTTL = time.Hour
		c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	})
	ctx := context.Background()
	opts := map[string]string{"signer": "pinned", "level": "B-B"}
	if _, _, err := e.Create(ctx, h.client, Spec{Options: opts, Activation: "000000"}); !errors.Is(err, activation.ErrActivationFailed) {
		t.Fatalf("wrong PIN: %v", err)
	}
	st, _, err := e.Create(ctx, h.client, Spec{Options: opts, Activation: "246810"})
	if err != nil {
		t.Fatal(err)
	}
	if st.ActivatedUntil == nil || !st.ActivatedUntil.Equal(now.Add(time.Hour).UTC().Truncate(time.Microsecond)) {
		t.Errorf("activated until %v, want an hour from now", st.ActivatedUntil)
	}
	var stored string
	h.st.DB().QueryRow("SELECT options FROM batches WHERE id = ?", st.ID).Scan(&stored)
	if strings.Contains(stored, "246810") {
		t.Fatal("the PIN was stored with the batch")
	}
	h.add(t, e, st.ID, "in-time", h.variant(1), nil)
	waitEnded(t, e, h.client, st.ID, "in-time")
	clock.Store(now.Add(2 * time.Hour).UnixNano())
	h.add(t, e, st.ID, "too-late", h.variant(2), nil)
	done := h.waitDone(t, e, st.ID)
	if done.Signed != 1 || done.Failed != 1 {
		t.Fatalf("status %+v, want the first signed and the late one failed", done)
	}
	late, _ := e.Document(ctx, h.client, st.ID, "too-late")
	if late.Error == nil || late.Error.Code != "activation_failed" {
		t.Fatalf("late document: %+v", late)
	}
}

func waitEnded(t *testing.T, e *Engine, c *store.Client, id, ref string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := e.Document(context.Background(), c, id, ref)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != "pending" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still pending", ref)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestResultsAndPaging: the ZIP holds every signed document and a
// manifest of all, and the listing pages through every document once.
func TestResultsAndPaging(t *testing.T) {
	h := newHarness(t, store.SQLite)
	e := h.engine(t, 2)
	ctx := context.Background()
	st := h.create(t, e, nil)
	const n = 25
	for i := range n {
		h.add(t, e, st.ID, fmt.Sprintf("r%02d", i), h.variant(i), nil)
	}
	h.add(t, e, st.ID, "zz-broken", []byte("%PDF-1.4 broken"), nil)
	h.waitDone(t, e, st.ID)

	var refs []string
	after := ""
	for pages := 0; ; pages++ {
		docs, next, err := e.Documents(ctx, h.client, st.ID, "", after, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			refs = append(refs, d.Ref)
		}
		if next == "" {
			break
		}
		after = next
		if pages > n {
			t.Fatal("paging does not end")
		}
	}
	if len(refs) != n+1 || refs[0] != "r00" || refs[n] != "zz-broken" {
		t.Fatalf("paged refs: %v", refs)
	}
	if failed, _, _ := e.Documents(ctx, h.client, st.ID, "failed", "", 0); len(failed) != 1 {
		t.Fatalf("failed documents: %d, want 1", len(failed))
	}

	var buf bytes.Buffer
	if err := e.WriteResults(ctx, h.client, st.ID, &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Batch     Status     `json:"batch"`
		Documents []Document `json:"documents"`
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if len(files) != n+1 || len(manifest.Documents) != n+1 || manifest.Batch.ID != st.ID {
		t.Fatalf("%d files, %d manifest entries", len(files), len(manifest.Documents))
	}
	for _, d := range manifest.Documents {
		b, ok := files[d.Ref+".pdf"]
		if d.State != "signed" {
			if ok || d.Error == nil {
				t.Errorf("%s: %s document in the ZIP, or without its error", d.Ref, d.State)
			}
			continue
		}
		sum := sha256.Sum256(b)
		if !ok || hex.EncodeToString(sum[:]) != d.OutputSHA256 {
			t.Errorf("%s: ZIP entry missing or its digest is not the manifest's", d.Ref)
		}
	}
}

func TestValidRef(t *testing.T) {
	for ref, ok := range map[string]bool{
		"6401234567": true, "transcript_2569-1.v2": true, strings.Repeat("a", 128): true,
		"": false, ".": false, "..": false, "a/b": false, "a b": false, "ก": false, strings.Repeat("a", 129): false, "a%2f": false,
	} {
		if err := ValidRef(ref); (err == nil) != ok {
			t.Errorf("ValidRef(%q) = %v", ref, err)
		}
	}
}

// TestConcurrentPuts: the same ref put from many requests at once is one
// document, and the losers' copies are not left in the blob store.
func TestConcurrentPuts(t *testing.T) {
	h := newHarness(t, store.SQLite)
	e := h.engine(t, 0)
	st := h.create(t, e, nil)
	var wg sync.WaitGroup
	var created atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, c, err := e.AddDocument(context.Background(), h.client, st.ID, "same", bytes.NewReader(h.pdf), nil)
			if err != nil {
				t.Error(err)
			}
			if c {
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d puts created the document, want 1", created.Load())
	}
	entries, err := os.ReadDir(h.blobs.Root() + "/" + st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d blobs for one document", len(entries))
	}
}
