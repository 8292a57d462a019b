package renewjob_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"esign/activation"
	"esign/api"
	"esign/audit"
	"esign/batch"
	"esign/blob"
	"esign/extend"
	"esign/hsm/hsmtest"
	"esign/internal/testenv"
	"esign/pdf/pdftest"
	"esign/renewjob"
	"esign/signer"
	"esign/store"
	"esign/store/storetest"
	"esign/verify"
)

func TestMain(m *testing.M) {
	os.Exit(storetest.Run(func() int { return hsmtest.Main(m) }))
}

// devKeys resolves every credential to the dev registrar's SoftHSM key.
type devKeys struct{ cred signer.Credential }

func (k devKeys) Resolve(context.Context, *store.Credential) (signer.Credential, error) {
	return k.cred, nil
}

// fixture is a database, blob store and audit log shared by replicas,
// with the dev PKI's services on loopback.
type fixture struct {
	env    *testenv.Env
	roots  *x509.CertPool
	st     *store.Store
	blobs  *blob.Dir
	log    *audit.Log
	client *store.Client
	pdf    []byte
}

func newFixture(t *testing.T, backend store.Backend) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{env: testenv.New(t), roots: x509.NewCertPool(), st: storetest.Open(t, backend, store.Options{})}
	f.roots.AddCert(f.env.PKI.Root)
	var err error
	if f.blobs, err = blob.OpenDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if f.log, err = audit.Open(ctx, f.st, audit.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.CreateCredential(ctx, store.Credential{Name: "registrar", KeyLabel: "registrar", Activation: store.ActivationNone}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CreateClient(ctx, "university", []string{"registrar"}); err != nil {
		t.Fatal(err)
	}
	if f.client, err = f.st.Client(ctx, "university"); err != nil {
		t.Fatal(err)
	}
	if f.pdf, err = os.ReadFile("../testdata/corpus/memo-chromium.pdf"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) renewer(t *testing.T, interval, within time.Duration) *renewjob.Renewer {
	t.Helper()
	x := extend.New(extend.Config{Signer: f.env.Signer, Verify: verify.Config{Roots: f.roots}})
	r, err := renewjob.New(renewjob.Config{Extender: x, Within: within, Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// engine opens a replica; with periodic work it renews on its own.
func (f *fixture) engine(t *testing.T, periodic ...batch.Periodic) *batch.Engine {
	t.Helper()
	e, err := batch.Open(context.Background(), batch.Config{
		Store: f.st, Blobs: f.blobs, Audit: f.log, Signer: f.env.Signer, Keys: devKeys{f.env.Creds["dev-registrar"]},
		Activator: activation.New(f.st, activation.Options{}), Classify: api.StatusOf, Workers: 2, Periodic: periodic,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.Stop(ctx)
		e.Close()
	})
	return e
}

// signBatch signs n variants of the PDF at B-T and returns the batch ID
// and the inputs by ref.
func (f *fixture) signBatch(t *testing.T, e *batch.Engine, n int) (string, map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	st, _, err := e.Create(ctx, f.client, batch.Spec{Options: map[string]string{"signer": "registrar", "level": "B-T"}})
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{}
	for i := range n {
		ref := fmt.Sprintf("doc-%d", i)
		in := append(bytes.Clone(f.pdf), fmt.Sprintf("\n%% copy %d\n", i)...)
		if _, _, err := e.AddDocument(ctx, f.client, st.ID, ref, bytes.NewReader(in), nil); err != nil {
			t.Fatal(err)
		}
		inputs[ref] = in
	}
	if _, err := e.CloseBatch(ctx, f.client, st.ID); err != nil {
		t.Fatal(err)
	}
	return st.ID, inputs
}

// signedBatch is signBatch, returning once the batch is done.
func (f *fixture) signedBatch(t *testing.T, e *batch.Engine, n int) (string, map[string][]byte) {
	t.Helper()
	id, inputs := f.signBatch(t, e, n)
	waitFor(t, "batch signed", func() bool {
		st, err := e.Status(context.Background(), f.client, id)
		return err == nil && st.State == "done"
	})
	return id, inputs
}

// waitFor polls until cond holds; the deadline only catches a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *fixture) output(t *testing.T, e *batch.Engine, id, ref string) ([]byte, *batch.Output) {
	t.Helper()
	out, err := e.Output(context.Background(), f.client, id, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var b bytes.Buffer
	if _, err := out.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), out
}

// TestPeriodicRenewal: a replica whose queue renews every second, with
// every document due (Within a century), renews the signed outputs of a
// batch: the file served is the input, what was signed, then the
// renewals; it validates, its signed revision (what the registry names)
// is unchanged, the listing, the ZIP and its manifest give the renewed
// digest, and the audit log holds one renew entry per renewal, chained
// from the signing's output digest to the current one.
func TestPeriodicRenewal(t *testing.T) {
	for _, backend := range storetest.Backends() {
		t.Run(string(backend), func(t *testing.T) {
			f := newFixture(t, backend)
			ctx := context.Background()
			r := f.renewer(t, time.Second, 100*365*24*time.Hour)
			e := f.engine(t, r.Periodic())
			id, inputs := f.signBatch(t, e, 3)
			for ref := range inputs {
				waitFor(t, ref+" renewed", func() bool {
					d, err := e.Document(ctx, f.client, id, ref)
					return err == nil && d.Renewals >= 1
				})
			}
			stop, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := e.Stop(stop); err != nil {
				t.Fatal(err)
			}

			for ref, in := range inputs {
				d, err := e.Document(ctx, f.client, id, ref)
				if err != nil {
					t.Fatal(err)
				}
				data, out := f.output(t, e, id, ref)
				sum := sha256.Sum256(data)
				if hex.EncodeToString(sum[:]) != d.OutputSHA256 || out.SHA256 != d.OutputSHA256 || out.Size() != int64(len(data)) {
					t.Errorf("%s: served file digest %x, listed %s", ref, sum, d.OutputSHA256)
				}
				if d.RenewedAt == nil || !bytes.HasPrefix(data, in) {
					t.Errorf("%s: renewed_at %v; output starts with the input: %v", ref, d.RenewedAt, bytes.HasPrefix(data, in))
				}
				rep, err := verify.Verify(ctx, bytes.NewReader(data), int64(len(data)), verify.Config{Roots: f.roots})
				if err != nil {
					t.Fatal(err)
				}
				sig := rep.Signatures[0]
				if rep.Document.Indication != verify.TotalPassed || sig.Level != verify.LevelLTA || rep.Document.DocumentTimestampCount < d.Renewals {
					t.Errorf("%s: %s %s, level %s, %d document timestamps for %d renewals", ref, rep.Document.Indication, rep.Document.Summary, sig.Level, rep.Document.DocumentTimestampCount, d.Renewals)
				}
				signedLen := sig.RevisionLength
				if s := sha256.Sum256(data[:signedLen]); hex.EncodeToString(s[:]) != sig.RevisionSHA256 {
					t.Errorf("%s: signed revision digest", ref)
				}

				// The audit chain: signed, then each renewal from the
				// previous output to the next.
				es, err := f.log.List(ctx, audit.Filter{Batch: id, Ref: ref}, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) != 1+d.Renewals || es[0].Action != "" {
					t.Fatalf("%s: %d audit entries for %d renewals", ref, len(es), d.Renewals)
				}
				prev := es[0].OutputSHA256
				for _, en := range es[1:] {
					if en.Action != audit.ActionRenew || !bytes.Equal(en.InputSHA256, prev) || en.Level != "B-LTA" || en.Client != "university" {
						t.Errorf("%s: renew entry %d: action %q, input %x after %x", ref, en.Seq, en.Action, en.InputSHA256, prev)
					}
					prev = en.OutputSHA256
				}
				if hex.EncodeToString(prev) != d.OutputSHA256 {
					t.Errorf("%s: last audited output %x, served %s", ref, prev, d.OutputSHA256)
				}
			}

			// The results ZIP serves the renewed files, and its manifest
			// their digests.
			var zbuf bytes.Buffer
			if err := e.WriteResults(ctx, f.client, id, &zbuf); err != nil {
				t.Fatal(err)
			}
			zr, err := zip.NewReader(bytes.NewReader(zbuf.Bytes()), int64(zbuf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			var manifest struct {
				Documents []batch.Document `json:"documents"`
			}
			for _, zf := range zr.File {
				rc, _ := zf.Open()
				b, _ := io.ReadAll(rc)
				rc.Close()
				if zf.Name == "manifest.json" {
					if err := json.Unmarshal(b, &manifest); err != nil {
						t.Fatal(err)
					}
					continue
				}
				s := sha256.Sum256(b)
				got[zf.Name] = hex.EncodeToString(s[:])
			}
			for _, d := range manifest.Documents {
				if got[d.Ref+".pdf"] != d.OutputSHA256 || d.Renewals < 1 {
					t.Errorf("zip %s: %s, manifest %s, %d renewals", d.Ref, got[d.Ref+".pdf"], d.OutputSHA256, d.Renewals)
				}
			}
		})
	}
}

// TestConcurrentRuns: two replicas run renewal at the same time over the
// same documents. Each renewal stored is one whole extension of the file
// as it then was: the audit chain of each document is unbroken, and as
// long as its renewals column says.
func TestConcurrentRuns(t *testing.T) {
	for _, backend := range storetest.Backends() {
		t.Run(string(backend), func(t *testing.T) {
			f := newFixture(t, backend)
			ctx := context.Background()
			a := f.engine(t)
			id, inputs := f.signedBatch(t, a, 3)
			b := f.engine(t)
			r := f.renewer(t, time.Hour, 100*365*24*time.Hour)
			var wg sync.WaitGroup
			stats := make([]renewjob.Stats, 2)
			for i, e := range []*batch.Engine{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := r.Run(ctx, e)
					if err != nil {
						t.Errorf("run: %v", err)
					}
					stats[i] = st
				}()
			}
			wg.Wait()
			if stats[0].Failed+stats[1].Failed != 0 || stats[0].Renewed+stats[1].Renewed < len(inputs) {
				t.Fatalf("runs: %+v", stats)
			}
			for ref := range inputs {
				d, err := a.Document(ctx, f.client, id, ref)
				if err != nil {
					t.Fatal(err)
				}
				es, err := f.log.List(ctx, audit.Filter{Batch: id, Ref: ref}, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) != 1+d.Renewals {
					t.Fatalf("%s: %d audit entries for %d renewals", ref, len(es), d.Renewals)
				}
				for i := 1; i < len(es); i++ {
					if !bytes.Equal(es[i].InputSHA256, es[i-1].OutputSHA256) {
						t.Errorf("%s: renewal %d does not follow the output before it", ref, i)
					}
				}
				data, _ := f.output(t, a, id, ref)
				rep, err := verify.Verify(ctx, bytes.NewReader(data), int64(len(data)), verify.Config{Roots: f.roots})
				if err != nil || rep.Document.Indication != verify.TotalPassed || rep.Document.DocumentTimestampCount != d.Renewals {
					t.Errorf("%s: %v %s, %d document timestamps for %d renewals", ref, err, rep.Document.Summary, rep.Document.DocumentTimestampCount, d.Renewals)
				}
			}
		})
	}
}

// TestNotDue: with Within shorter than the certificates' lives nothing
// is renewed; the run notes when each document falls due, and the next
// run lists none of them.
func TestNotDue(t *testing.T) {
	f := newFixture(t, store.SQLite)
	ctx := context.Background()
	e := f.engine(t)
	_, inputs := f.signedBatch(t, e, 2)
	r := f.renewer(t, time.Hour, time.Hour)
	st, err := r.Run(ctx, e)
	if err != nil || st.NotDue != len(inputs) || st.Renewed != 0 {
		t.Fatalf("first run: %+v, %v", st, err)
	}
	if st, err = r.Run(ctx, e); err != nil || st != (renewjob.Stats{}) {
		t.Fatalf("second run looked at documents again: %+v, %v", st, err)
	}
	kept, err := e.KeptDue(ctx, time.Now().Add(100*365*24*time.Hour), "", "", 10)
	if err != nil || len(kept) != len(inputs) || kept[0].ProofExpires.IsZero() {
		t.Fatalf("kept documents %+v, %v", kept, err)
	}
}

// TestPasswordRequired: a kept document encrypted with a user password,
// which the job has no password for, is counted and logged once as
// password_required, not as a failure, and skipped by the next runs; the
// other documents are renewed as usual.
func TestPasswordRequired(t *testing.T) {
	f := newFixture(t, store.SQLite)
	ctx := context.Background()
	e := f.engine(t)
	id, inputs := f.signedBatch(t, e, 2)
	// doc-0 becomes a signed file that needs its user password.
	enc := pdftest.QPDF(t, f.pdf, pdftest.Encryption{User: "usr", Owner: "own", Args: []string{"256"}})
	res, err := f.env.Signer.Sign(ctx, bytes.NewReader(enc), int64(len(enc)), f.env.Creds["dev-registrar"],
		signer.Options{Level: signer.LevelT, Password: signer.Secret("usr")})
	if err != nil {
		t.Fatal(err)
	}
	var locked bytes.Buffer
	if _, err := res.Write(&locked, bytes.NewReader(enc)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.blobs.Put(ctx, "test/locked.pdf", bytes.NewReader(locked.Bytes())); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(locked.Bytes())
	if err := f.st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE batch_documents SET input_key = ?, input_size = ?, signed_update = ?, output_sha256 = ?
			WHERE batch_id = ? AND ref = ?`, "test/locked.pdf", locked.Len(), []byte{}, hex.EncodeToString(sum[:]), id, "doc-0")
		return err
	}); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	x := extend.New(extend.Config{Signer: f.env.Signer, Verify: verify.Config{Roots: f.roots}})
	// Within four years: the B-T files (the signer's three-year
	// certificate) are due, a renewed one (the TSA's five) is not.
	r, err := renewjob.New(renewjob.Config{Extender: x, Within: 4 * 365 * 24 * time.Hour, Interval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.Run(ctx, e)
	if err != nil || st.PasswordRequired != 1 || st.Renewed != len(inputs)-1 || st.Failed != 0 {
		t.Fatalf("first run: %+v, %v\n%s", st, err, logs.String())
	}
	if !strings.Contains(logs.String(), "password_required") || !strings.Contains(logs.String(), "ref=doc-0") {
		t.Errorf("the locked document is not named in the log:\n%s", logs.String())
	}
	st, err = r.Run(ctx, e)
	if err != nil || st != (renewjob.Stats{PasswordRequired: 1}) {
		t.Fatalf("second run: %+v, %v", st, err)
	}
	if strings.Count(logs.String(), "a kept document is encrypted") != 1 {
		t.Errorf("the locked document was logged again:\n%s", logs.String())
	}
}
