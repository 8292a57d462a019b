package audit_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"esign/audit"
	"esign/store"
	"esign/store/storetest"
)

// docsTable makes the table that stands for a batch's documents: the
// conditions of these tests change a document's state in it.
func docsTable(t *testing.T, st *store.Store, ids int) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.DB().ExecContext(ctx, "CREATE TABLE docs (id INTEGER PRIMARY KEY, state TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		if _, err := st.DB().ExecContext(ctx, st.Rebind("INSERT INTO docs (id, state) VALUES (?, 'pending')"), id); err != nil {
			t.Fatal(err)
		}
	}
}

// markDone is the condition a batch worker gives: the document goes from
// pending to done, once.
func markDone(id int) func(context.Context, *store.Tx) (bool, error) {
	return func(ctx context.Context, tx *store.Tx) (bool, error) {
		res, err := tx.ExecContext(ctx, "UPDATE docs SET state = 'done' WHERE id = ? AND state = 'pending'", id)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n == 1, err
	}
}

func docEntry(batch string, id int) audit.Entry {
	e := entry(id)
	e.Batch, e.Ref = batch, fmt.Sprintf("doc-%d", id)
	return e
}

func count(t *testing.T, l *audit.Log, f audit.Filter) int64 {
	t.Helper()
	n, err := l.Count(context.Background(), f)
	if err != nil {
		t.Fatalf("Count(%+v): %v", f, err)
	}
	return n
}

// checkChain verifies the log and that it holds want entries numbered
// 1..want without gaps.
func checkChain(t *testing.T, l *audit.Log, want int) {
	t.Helper()
	ctx := context.Background()
	rep, err := l.Verify(ctx)
	if err != nil || rep.Entries != int64(want) {
		t.Fatalf("Verify = %+v, %v; want %d entries", rep, err, want)
	}
	es, err := l.Entries(ctx, 0, want+10)
	if err != nil || len(es) != want {
		t.Fatalf("Entries = %d, %v; want %d", len(es), err, want)
	}
	for i, e := range es {
		if e.Seq != int64(i+1) {
			t.Fatalf("entry %d has sequence number %d", i+1, e.Seq)
		}
	}
}

// hold keeps l's writer busy inside a transaction, so that the appends
// made meanwhile queue up and are then committed as one group. release
// waits until queued appends wait, then lets the writer go on.
func hold(t *testing.T, l *audit.Log) (release func(queued int)) {
	t.Helper()
	started, gate, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, ok, err := l.AppendIf(context.Background(), entry(999), func(context.Context, *store.Tx) (bool, error) {
			close(started)
			<-gate
			return false, nil
		})
		if err == nil && ok {
			err = errors.New("the holding entry was appended")
		}
		done <- err
	}()
	<-started
	return func(queued int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for audit.QueueLen(l) < queued {
			if time.Now().After(deadline) {
				close(gate)
				t.Fatalf("%d appends queued after 10 s, want %d", audit.QueueLen(l), queued)
			}
			time.Sleep(time.Millisecond)
		}
		close(gate)
		if err := <-done; err != nil {
			t.Fatalf("holding append: %v", err)
		}
	}
}

func TestAppendIfDeclined(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		l := openLog(t, st)
		docsTable(t, st, 8)

		t.Run("alone", func(t *testing.T) {
			if _, err := l.Append(ctx, entry(1)); err != nil {
				t.Fatal(err)
			}
			declined := func(context.Context, *store.Tx) (bool, error) { return false, nil }
			e, ok, err := l.AppendIf(ctx, docEntry("b", 1), declined)
			if err != nil || ok || e.Seq != 0 || e.Hash != "" {
				t.Fatalf("AppendIf with a declining condition = %+v, %v, %v", e, ok, err)
			}
			e, err = l.Append(ctx, entry(3))
			if err != nil || e.Seq != 2 {
				t.Fatalf("next Append = seq %d, %v; want 2", e.Seq, err)
			}
			checkChain(t, l, 2)
		})

		t.Run("in a group", func(t *testing.T) {
			// Documents 0, 2, 4 and 6 are marked done beforehand, so their
			// conditions decline; 1, 3, 5 and 7 are appended.
			for id := 0; id < 8; id += 2 {
				if _, err := st.DB().ExecContext(ctx, st.Rebind("UPDATE docs SET state = 'done' WHERE id = ?"), id); err != nil {
					t.Fatal(err)
				}
			}
			release := hold(t, l)
			type result struct {
				id int
				e  audit.Entry
				ok bool
			}
			results := make(chan result, 8)
			errs := make(chan error, 8)
			for id := range 8 {
				go func() {
					e, ok, err := l.AppendIf(ctx, docEntry("b", id), markDone(id))
					if err != nil {
						errs <- err
						return
					}
					results <- result{id, e, ok}
				}()
			}
			release(8)
			var seqs []int64
			for range 8 {
				select {
				case err := <-errs:
					t.Fatal(err)
				case r := <-results:
					if r.ok != (r.id%2 == 1) {
						t.Fatalf("document %d: appended = %v", r.id, r.ok)
					}
					if r.ok {
						seqs = append(seqs, r.e.Seq)
					} else if r.e.Seq != 0 {
						t.Fatalf("declined document %d came back as entry %d", r.id, r.e.Seq)
					}
				}
			}
			slices.Sort(seqs)
			if !slices.Equal(seqs, []int64{3, 4, 5, 6}) {
				t.Fatalf("appended entries %v, want 3-6", seqs)
			}
			checkChain(t, l, 6)
		})

		t.Run("declining keeps what the condition wrote", func(t *testing.T) {
			_, ok, err := l.AppendIf(ctx, docEntry("b", 20), func(ctx context.Context, tx *store.Tx) (bool, error) {
				_, err := tx.ExecContext(ctx, "INSERT INTO docs (id, state) VALUES (20, 'skipped')")
				return false, err
			})
			if err != nil || ok {
				t.Fatalf("AppendIf = %v, %v", ok, err)
			}
			var state string
			if err := st.DB().QueryRowContext(ctx, "SELECT state FROM docs WHERE id = 20").Scan(&state); err != nil || state != "skipped" {
				t.Fatalf("the condition's write: %q, %v", state, err)
			}
			checkChain(t, l, 6)
		})
	})
}

// TestAppendIfFailureIsolated fails one condition of a group: only its
// entry fails, and what the others' conditions wrote commits once.
func TestAppendIfFailureIsolated(t *testing.T) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	for _, tc := range []struct {
		name string
		fail func() (bool, error)
		// check checks what the failing caller saw: its error, or what
		// its AppendIf panicked with.
		check func(err error, panicked any) bool
	}{
		{"error", func() (bool, error) { return false, errBoom },
			func(err error, panicked any) bool { return errors.Is(err, errBoom) && panicked == nil }},
		{"panic", func() (bool, error) { panic("boom-panic") },
			func(err error, panicked any) bool {
				e, ok := panicked.(error)
				return err == nil && ok && strings.Contains(e.Error(), "boom-panic") && strings.Contains(e.Error(), "batch_test.go")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, b store.Backend) {
				st := storetest.Open(t, b, store.Options{})
				l := openLog(t, st)
				docsTable(t, st, 0)
				const n, bad = 9, 4
				var mu sync.Mutex
				badRuns := 0
				cond := func(id int) func(context.Context, *store.Tx) (bool, error) {
					return func(ctx context.Context, tx *store.Tx) (bool, error) {
						// A second insert of one id would fail: a run in a
						// rolled-back transaction must leave nothing.
						if _, err := tx.ExecContext(ctx, "INSERT INTO docs (id, state) VALUES (?, 'done')", id); err != nil {
							return false, err
						}
						if id != bad {
							return true, nil
						}
						mu.Lock()
						badRuns++
						mu.Unlock()
						return tc.fail()
					}
				}
				release := hold(t, l)
				type result struct {
					id       int
					err      error
					panicked any
				}
				results := make(chan result, n)
				for id := range n {
					go func() {
						r := result{id: id}
						defer func() {
							r.panicked = recover()
							results <- r
						}()
						_, _, r.err = l.AppendIf(ctx, docEntry("b", id), cond(id))
					}()
				}
				release(n)
				for range n {
					r := <-results
					if r.id == bad {
						if !tc.check(r.err, r.panicked) {
							t.Fatalf("failing condition: err = %v, panic = %v", r.err, r.panicked)
						}
					} else if r.err != nil || r.panicked != nil {
						t.Fatalf("document %d: err = %v, panic = %v", r.id, r.err, r.panicked)
					}
				}
				if badRuns != 2 {
					t.Errorf("the failing condition ran %d times, want 2 (in the group, then alone)", badRuns)
				}
				checkChain(t, l, n-1)
				var rows int
				if err := st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM docs").Scan(&rows); err != nil || rows != n-1 {
					t.Fatalf("docs rows = %d, %v; want %d", rows, err, n-1)
				}
				if got := count(t, l, audit.Filter{Batch: "b", Ref: fmt.Sprintf("doc-%d", bad)}); got != 0 {
					t.Fatalf("the failing document has %d entries", got)
				}
			})
		})
	}
}

// TestAppendIfOncePerDocument has two batch workers (two stores on one
// database, as two processes) sign every document of a batch twice over,
// concurrently: each document gets one entry.
func TestAppendIfOncePerDocument(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		opts := store.Options{DataDir: t.TempDir()}
		if b == store.Postgres {
			opts.DatabaseURL = storetest.Schema(t)
		}
		const ids = 200
		var stores []*store.Store
		var logs []*audit.Log
		for range 2 {
			st, err := store.Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			stores, logs = append(stores, st), append(logs, openLog(t, st))
		}
		docsTable(t, stores[0], ids)

		// Conditions per transaction: a *store.Tx kept here is not reused
		// for another transaction.
		var mu sync.Mutex
		perTx := map[*store.Tx]int{}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var appended sync.Map // ref -> seq
		errs := make(chan error, 2*ids)
		for call := range 2 * ids {
			id := call / 2
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				e, ok, err := logs[call%2].AppendIf(ctx, docEntry("b1", id), func(ctx context.Context, tx *store.Tx) (bool, error) {
					mu.Lock()
					perTx[tx]++
					mu.Unlock()
					return markDone(id)(ctx, tx)
				})
				switch {
				case err != nil:
					errs <- fmt.Errorf("document %d: %w", id, err)
				case ok:
					if prev, dup := appended.LoadOrStore(e.Ref, e.Seq); dup {
						errs <- fmt.Errorf("document %d appended twice: entries %d and %d", id, prev, e.Seq)
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		n := 0
		appended.Range(func(_, _ any) bool { n++; return true })
		if n != ids {
			t.Fatalf("%d documents appended, want %d", n, ids)
		}
		l := logs[0]
		checkChain(t, l, ids)
		if got := count(t, l, audit.Filter{Batch: "b1", Result: audit.Success}) + count(t, l, audit.Filter{Batch: "b1", Result: audit.Failure}); got != ids {
			t.Fatalf("batch b1 has %d entries, want %d", got, ids)
		}
		for id := range ids {
			if got := count(t, l, audit.Filter{Batch: "b1", Ref: fmt.Sprintf("doc-%d", id)}); got != 1 {
				t.Fatalf("document %d has %d entries", id, got)
			}
		}
		var pending int
		if err := stores[0].DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM docs WHERE state <> 'done'").Scan(&pending); err != nil || pending != 0 {
			t.Fatalf("documents not done: %d, %v", pending, err)
		}
		most := 0
		for _, c := range perTx {
			most = max(most, c)
		}
		if most < 2 {
			t.Fatalf("%d transactions for %d conditions: no group commit", len(perTx), 2*ids)
		}
		t.Logf("%d conditions ran in %d transactions, at most %d in one", 2*ids, len(perTx), most)
	})
}

func TestCountAndList(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		l := openLog(t, st)
		// seq: 1 v1 success, 2 A/a1 success, 3 A/a2 failure, 4 B/a1
		// success, 5 A/a3 success, 6 v1 failure.
		for _, e := range []struct {
			batch, ref string
			result     audit.Result
		}{
			{"", "", audit.Success}, {"A", "a1", audit.Success}, {"A", "a2", audit.Failure},
			{"B", "a1", audit.Success}, {"A", "a3", audit.Success}, {"", "", audit.Failure},
		} {
			x := entry(1)
			x.Batch, x.Ref, x.Result = e.batch, e.ref, e.result
			if e.result == audit.Failure {
				x.ErrorCode = "hsm_unavailable"
			}
			if _, err := l.Append(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			name string
			f    audit.Filter
			want []int64
		}{
			{"everything", audit.Filter{}, []int64{1, 2, 3, 4, 5, 6}},
			{"after", audit.Filter{After: 3}, []int64{4, 5, 6}},
			{"batch", audit.Filter{Batch: "A"}, []int64{2, 3, 5}},
			{"batch successes", audit.Filter{Batch: "A", Result: audit.Success}, []int64{2, 5}},
			{"batch failures", audit.Filter{Batch: "A", Result: audit.Failure}, []int64{3}},
			{"document", audit.Filter{Batch: "A", Ref: "a1"}, []int64{2}},
			{"document success", audit.Filter{Batch: "A", Ref: "a1", Result: audit.Success}, []int64{2}},
			{"document failed only", audit.Filter{Batch: "A", Ref: "a2", Result: audit.Success}, nil},
			{"ref in any batch", audit.Filter{Ref: "a1"}, []int64{2, 4}},
			{"failures", audit.Filter{Result: audit.Failure}, []int64{3, 6}},
			{"batch after", audit.Filter{Batch: "A", After: 2}, []int64{3, 5}},
			{"unknown batch", audit.Filter{Batch: "Z"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := count(t, l, tc.f); got != int64(len(tc.want)) {
					t.Fatalf("Count = %d, want %d", got, len(tc.want))
				}
				es, err := l.List(ctx, tc.f, 100)
				if err != nil {
					t.Fatal(err)
				}
				var seqs []int64
				for _, e := range es {
					seqs = append(seqs, e.Seq)
					if tc.f.Batch != "" && e.Batch != tc.f.Batch || tc.f.Ref != "" && e.Ref != tc.f.Ref {
						t.Fatalf("List gave entry %d of batch %q ref %q", e.Seq, e.Batch, e.Ref)
					}
				}
				if !slices.Equal(seqs, tc.want) {
					t.Fatalf("List = %v, want %v", seqs, tc.want)
				}
			})
		}
		if es, err := l.List(ctx, audit.Filter{Batch: "A"}, 2); err != nil || len(es) != 2 || es[1].Seq != 3 {
			t.Fatalf("List with limit 2 = %d entries, %v", len(es), err)
		}
		for _, f := range []audit.Filter{{Result: "maybe"}, {Batch: "a\x00"}, {Ref: strings.Repeat("r", audit.MaxRefLen+1)}} {
			if _, err := l.Count(ctx, f); !errors.Is(err, audit.ErrInvalid) {
				t.Errorf("Count(%+v) = %v, want ErrInvalid", f, err)
			}
			if _, err := l.List(ctx, f, 1); !errors.Is(err, audit.ErrInvalid) {
				t.Errorf("List(%+v) = %v, want ErrInvalid", f, err)
			}
		}
	})
}

// firstMigration is the audit schema as it was before batches: the
// migrations directory with only its 0001 files.
func firstMigration(t *testing.T) fs.FS {
	t.Helper()
	m := fstest.MapFS{}
	for _, dir := range []string{"sqlite", "postgres"} {
		name := path.Join(dir, "0001_audit_log.sql")
		body, err := os.ReadFile(path.Join("migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		m[name] = &fstest.MapFile{Data: body}
	}
	return m
}

// TestMigrateExistingLog opens a log written under the first schema, by
// the code of that time (its INSERT, its v1 hashes): migration 0002 keeps
// it verifying, the append-only guards hold, and batch entries follow.
func TestMigrateExistingLog(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		st := storetest.Open(t, b, store.Options{})
		if err := st.Migrate(ctx, "audit", firstMigration(t)); err != nil {
			t.Fatal(err)
		}
		prev := strings.Repeat("0", 64)
		old := make([]audit.Entry, 3)
		for i := range old {
			e := entry([]int{1, 3, 7}[i]) // odd, not fifth: v1
			e.Seq, e.Time, e.PrevHash = int64(i+1), time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), prev
			e.Hash = audit.ComputeHash(&e)
			_, err := st.DB().ExecContext(ctx, st.Rebind(`INSERT INTO audit_log (seq, at, request_id, client, credential,
				input_sha256, output_sha256, level, doc_number, doc_date, subject, urgency, secrecy, result, error_code,
				prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				e.Seq, store.FormatTime(e.Time), e.RequestID, e.Client, e.Credential,
				fmt.Sprintf("%x", e.InputSHA256), fmt.Sprintf("%x", e.OutputSHA256), e.Level,
				e.Metadata.Number, e.Metadata.Date, e.Metadata.Subject, e.Metadata.Urgency, e.Metadata.Secrecy,
				string(e.Result), e.ErrorCode, e.PrevHash, e.Hash)
			if err != nil {
				t.Fatal(err)
			}
			old[i], prev = e, e.Hash
		}
		if _, err := st.DB().ExecContext(ctx, st.Rebind("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), len(old), prev); err != nil {
			t.Fatal(err)
		}

		l := openLog(t, st) // applies 0002 and 0003
		var applied int
		if err := st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE component = 'audit'").Scan(&applied); err != nil || applied != 3 {
			t.Fatalf("audit migrations applied: %d, %v", applied, err)
		}
		checkChain(t, l, 3)
		es, err := l.Entries(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range es {
			if e.Batch != "" || e.Ref != "" || e.Hash != old[i].Hash {
				t.Fatalf("old entry %d read back as batch %q ref %q hash %s", e.Seq, e.Batch, e.Ref, e.Hash)
			}
		}
		for _, q := range []string{
			"UPDATE audit_log SET batch = 'x' WHERE seq = 1",
			"UPDATE audit_log SET subject = 'x' WHERE seq = 2",
			"DELETE FROM audit_log WHERE seq = 3",
		} {
			if _, err := st.DB().ExecContext(ctx, q); err == nil {
				t.Errorf("%s: the database allowed it", q)
			}
		}
		for id := range 2 {
			if _, err := l.Append(ctx, docEntry("after-0002", id)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Append(ctx, entry(7)); err != nil {
			t.Fatal(err)
		}
		checkChain(t, l, 6)
		if got := count(t, l, audit.Filter{Batch: "after-0002"}); got != 2 {
			t.Fatalf("Count of the new batch = %d, want 2", got)
		}
	})
}
