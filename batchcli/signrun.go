package batchcli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"esign/internal/atomicfile"
)

// ErrIncomplete reports a batch that ended with documents not signed or
// not saved; they have been listed on standard output.
var ErrIncomplete = errors.New("batch incomplete")

// pageSize is the limit asked for when listing documents; the server may
// give fewer.
const pageSize = 1000

// downloadTries is how often one signed PDF is fetched when the
// connection breaks in the middle of its body.
const downloadTries = 3

// batchRun uploads, closes, follows and downloads one batch.
type batchRun struct {
	c      *Client
	id     string
	docs   []Doc // local documents, sorted by ref
	out    string
	conc   int
	poll   time.Duration
	prog   progress
	stdout io.Writer
	stderr io.Writer
}

// run takes the batch from st to its end. It returns nil only when every
// document of the batch is signed and saved in out.
func (r *batchRun) run(ctx context.Context, st Status) error {
	if st.State == "cancelled" {
		return fmt.Errorf("batch %s was cancelled; nothing more can be signed in it", r.id)
	}
	existing, err := r.listAll(ctx, "")
	if err != nil {
		return err
	}
	var todo []Doc
	var conflicts []string
	for _, d := range r.docs {
		e, ok := existing[d.Ref]
		switch {
		case !ok:
			todo = append(todo, d)
		case e.InputSHA256 != "" && !strings.EqualFold(e.InputSHA256, d.SHA256):
			conflicts = append(conflicts, fmt.Sprintf("%s: the batch holds other bytes under the ref %s (SHA-256 %s, the file has %s)", d.Path, d.Ref, e.InputSHA256, d.SHA256))
		}
	}
	if len(conflicts) > 0 {
		for _, c := range conflicts {
			fmt.Fprintln(r.stderr, "esign batch:", c)
		}
		return fmt.Errorf("batch %s: %d files conflict with documents already in it; nothing was uploaded", r.id, len(conflicts))
	}
	if len(todo) > 0 && st.State != "open" {
		return fmt.Errorf("batch %s is %s and takes no more documents, but %d of the files are not in it (the first: %s)", r.id, st.State, len(todo), todo[0].Path)
	}
	fmt.Fprintf(r.stderr, "esign batch: batch %s: %d documents, %d to upload, %d already uploaded\n",
		r.id, len(existing)+len(todo), len(todo), len(existing))
	if err := r.upload(ctx, todo); err != nil {
		return err
	}
	if st.State == "open" {
		if _, err := r.c.Close(ctx, r.id); err != nil {
			return r.stopped(ctx, err)
		}
	}
	refs := make([]string, 0, len(existing)+len(todo))
	for ref := range existing {
		refs = append(refs, ref)
	}
	for _, d := range todo {
		refs = append(refs, d.Ref)
	}
	slices.Sort(refs)
	return r.follow(ctx, slices.Compact(refs))
}

// stopped turns an error after an interruption into one that says how to
// go on.
func (r *batchRun) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("batch %s: interrupted; the server keeps the batch: run the same command again to resume: %w", r.id, ctx.Err())
	}
	return err
}

// listAll lists every document of the batch in state (all when empty).
func (r *batchRun) listAll(ctx context.Context, state string) (map[string]Document, error) {
	docs := map[string]Document{}
	err := r.listFrom(ctx, state, "", func(d Document) { docs[d.Ref] = d })
	if err != nil {
		return nil, r.stopped(ctx, err)
	}
	return docs, nil
}

// listFrom pages through the documents in state after the ref after.
func (r *batchRun) listFrom(ctx context.Context, state, after string, each func(Document)) error {
	for {
		docs, next, err := r.c.Documents(ctx, r.id, state, after, pageSize)
		if err != nil {
			return err
		}
		for _, d := range docs {
			each(d)
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// upload sends todo with r.conc uploads at a time. An error of one file
// (a conflict, a file the server refuses) is reported and the others go
// on; an error of the batch or the server stops them all. The batch is
// closed only when every file is in.
func (r *batchRun) upload(ctx context.Context, todo []Doc) error {
	if len(todo) == 0 {
		return nil
	}
	uctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu       sync.Mutex
		done     int
		fileErrs []error
	)
	r.prog.uploaded(0, len(todo))
	forEach(uctx, r.conc, todo, func(uctx context.Context, d Doc) {
		_, err := r.c.Upload(uctx, r.id, d.Ref, d.Path)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			done++
			r.prog.uploaded(done, len(todo))
		case uctx.Err() != nil:
		case documentError(err):
			fileErrs = append(fileErrs, err)
		default:
			cancel(err)
		}
	})
	if err := context.Cause(uctx); err != nil {
		return r.stopped(ctx, fmt.Errorf("batch %s: %w", r.id, err))
	}
	if len(fileErrs) > 0 {
		for _, err := range fileErrs {
			fmt.Fprintln(r.stderr, "esign batch:", err)
		}
		return fmt.Errorf("batch %s: %d files were not accepted; the batch stays open: fix or drop them and run again (with -batch %s to keep this batch)", r.id, len(fileErrs), r.id)
	}
	return nil
}

// documentError reports whether err concerns one uploaded file rather
// than the batch or the server.
func documentError(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		var re *requestError
		return errors.As(err, &re) // the local file could not be opened
	}
	switch ae.Status {
	case 400, 413, 415, 422:
		return true
	case 409:
		return ae.Code == "conflict"
	}
	return false
}

// forEach calls fn for each item, n at a time, until ctx is done.
func forEach[T any](ctx context.Context, n int, items []T, fn func(context.Context, T)) {
	jobs := make(chan T)
	var wg sync.WaitGroup
	for range min(max(n, 1), len(items)) {
		wg.Go(func() {
			for it := range jobs {
				fn(ctx, it)
			}
		})
	}
feed:
	for _, it := range items {
		select {
		case jobs <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
}

// follow polls the batch until it is done, saving each signed document
// as it comes. Documents are listed in ref order while they finish in any
// order, so the listing cannot resume from the last ref seen: it resumes
// after the longest run of refs (in order) that are all finished here,
// and once the batch is final it is read once more from the start.
func (r *batchRun) follow(ctx context.Context, refs []string) error {
	var (
		saved   = map[string]bool{}     // in out, complete
		failed  = map[string]Document{} // failed on the server
		unsaved = map[string]error{}    // signed, but not saved here
		cursor  int                     // refs[:cursor] are all finished here
	)
	finished := func(ref string) bool {
		_, f := failed[ref]
		_, u := unsaved[ref]
		return saved[ref] || f || u
	}
	var st Status
	for {
		var err error
		if st, err = r.c.Status(ctx, r.id); err != nil {
			return r.stopped(ctx, err)
		}
		final := st.Final()
		if final || st.Failed > len(failed) {
			if err := r.listFrom(ctx, "failed", "", func(d Document) { failed[d.Ref] = d }); err != nil {
				return r.stopped(ctx, err)
			}
		}
		if final || len(saved)+len(unsaved) < st.Signed {
			after := ""
			if cursor > 0 && !final {
				after = refs[cursor-1]
			}
			var fetch []Document
			err := r.listFrom(ctx, "signed", after, func(d Document) {
				if saved[d.Ref] || unsaved[d.Ref] != nil {
					return
				}
				if !ValidRef(d.Ref) {
					// The ref becomes a file name: never one from outside -out.
					unsaved[d.Ref] = errors.New("the server listed a ref that is no file name")
					return
				}
				switch ok, err := r.present(d); {
				case err != nil:
					unsaved[d.Ref] = err
				case ok:
					saved[d.Ref] = true
				default:
					fetch = append(fetch, d)
				}
			})
			if err != nil {
				return r.stopped(ctx, err)
			}
			if err := r.downloadAll(ctx, fetch, saved, unsaved); err != nil {
				return r.stopped(ctx, err)
			}
		}
		for cursor < len(refs) && finished(refs[cursor]) {
			cursor++
		}
		if final {
			break
		}
		r.prog.signing(st, len(saved))
		if err := sleep(ctx, r.poll); err != nil {
			return r.stopped(ctx, err)
		}
	}
	r.prog.finish(st, len(saved))
	return r.report(st, saved, failed, unsaved)
}

// present reports whether the signed document d is already in out, as
// the server's output_sha256 says it should be. A different file under
// its name is an error: it is not this batch's and is not overwritten.
func (r *batchRun) present(d Document) (bool, error) {
	path := r.outPath(d.Ref)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if d.OutputSHA256 == "" {
		return true, nil
	}
	sum, err := hashFile(path)
	if err != nil {
		return false, err
	}
	if !strings.EqualFold(sum, d.OutputSHA256) {
		return false, fmt.Errorf("%s exists and is not the batch's signed document (SHA-256 %s, not %s): move it away and run again", path, sum, d.OutputSHA256)
	}
	return true, nil
}

func (r *batchRun) outPath(ref string) string { return filepath.Join(r.out, ref+".pdf") }

// downloadAll saves docs, r.conc at a time. A document that cannot be
// saved is recorded in unsaved; only an error of the server or the batch
// stops the run.
func (r *batchRun) downloadAll(ctx context.Context, docs []Document, saved map[string]bool, unsaved map[string]error) error {
	if len(docs) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	forEach(ctx, r.conc, docs, func(ctx context.Context, d Document) {
		err := r.download(ctx, d)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			saved[d.Ref] = true
		case ctx.Err() != nil:
		case downloadFatal(err):
			cancel(err)
		default:
			unsaved[d.Ref] = err
		}
	})
	return context.Cause(ctx)
}

// downloadFatal reports whether a download's error concerns the batch or
// the server (the key, the batch gone, the server down) rather than the
// one document.
func downloadFatal(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == 401 || ae.Status == 404 || ae.Status >= 500
	}
	var re *ReadError
	if errors.As(err, &re) {
		return false
	}
	var ue *url.Error // the server cannot be reached, after the retries
	return errors.As(err, &ue)
}

// errDigest reports a download whose bytes are not the listed ones.
var errDigest = errors.New("the signed PDF's SHA-256 is not the one the server listed")

// download writes the signed document to out/REF.pdf through a temporary
// file that is synced and renamed, so a killed run never leaves a partial
// REF.pdf. The bytes are checked against the listed output_sha256.
func (r *batchRun) download(ctx context.Context, d Document) error {
	var err error
	for try := 1; try <= downloadTries; try++ {
		err = atomicfile.WriteFrom(r.outPath(d.Ref), 0o644, func(w io.Writer) error {
			h := sha256.New()
			if err := r.c.Download(ctx, r.id, d.Ref, io.MultiWriter(w, h)); err != nil {
				return err
			}
			if d.OutputSHA256 != "" && !strings.EqualFold(hex.EncodeToString(h.Sum(nil)), d.OutputSHA256) {
				return fmt.Errorf("download %s: %w", d.Ref, errDigest)
			}
			return nil
		})
		var re *ReadError
		if err == nil || ctx.Err() != nil || !errors.As(err, &re) {
			break
		}
	}
	return err
}

// report prints the end of the run on stdout: one line per document not
// signed or not saved, then a summary.
//
//	failed<TAB>REF<TAB>CODE<TAB>MESSAGE     signing failed on the server
//	unsaved<TAB>REF<TAB>CODE<TAB>MESSAGE    signed, but not saved here
func (r *batchRun) report(st Status, saved map[string]bool, failed map[string]Document, unsaved map[string]error) error {
	for _, ref := range slices.Sorted(maps.Keys(failed)) {
		code, msg := "unknown", ""
		if e := failed[ref].Error; e != nil {
			code, msg = clean(e.Code), clean(e.Message)
		}
		fmt.Fprintf(r.stdout, "failed\t%s\t%s\t%s\n", clean(ref), code, msg)
	}
	for _, ref := range slices.Sorted(maps.Keys(unsaved)) {
		err := unsaved[ref]
		code := "local"
		var ae *APIError
		if errors.As(err, &ae) {
			code = ae.Code
		}
		fmt.Fprintf(r.stdout, "unsaved\t%s\t%s\t%s\n", clean(ref), code, clean(err.Error()))
	}
	fmt.Fprintf(r.stdout, "batch %s %s: %d of %d signed, %d failed, %d cancelled; %d saved in %s\n",
		r.id, st.State, st.Signed, st.Total, st.Failed, st.Cancelled, len(saved), r.out)
	if st.State != "done" || len(saved) != st.Total {
		return fmt.Errorf("%w: batch %s: %d of %d documents not signed and saved", ErrIncomplete, r.id, st.Total-len(saved), st.Total)
	}
	return nil
}
