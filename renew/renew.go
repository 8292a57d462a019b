// Package renew keeps an archive of signed PDFs valid: each file whose
// proof rests on a certificate that expires soon (the newest document
// timestamp's TSA certificate, or the signer's in a file without one)
// gets validation data and a new document timestamp, in place.
//
// A file is replaced through a temporary file beside it, synced, then
// renamed over it, and the directory synced: a crash or a kill at any
// moment leaves the old file or the new one, never a mix.
package renew

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"esign/extend"
	"esign/internal/atomicfile"
	"esign/signer"
)

// DefaultWithin is how long before expiry a file is renewed: a year
// leaves time to notice a renewal that keeps failing.
const DefaultWithin = 365 * 24 * time.Hour

// Options controls a run. The zero value renews, to B-LTA, the files due
// within DefaultWithin; Extender is required unless DryRun.
type Options struct {
	Extender *extend.Extender
	// Within: files whose certificate expires before now+Within are due.
	// Default DefaultWithin.
	Within time.Duration
	// Level is B-LTA (default) or B-LT.
	Level signer.Level
	// DryRun only decides what is due.
	DryRun bool
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Progress, when set, is called after each file.
	Progress func(done, total int, r Result)
	// Password opens encrypted files (their user or owner password); it is
	// tried on every file, and a file that opens with the empty user
	// password opens with it too. Without it, a file that needs a password
	// fails as ErrPasswordRequired.
	Password signer.Secret
}

// ErrPasswordRequired reports an encrypted file that the password given
// (or, without one, the empty user password) does not open: it is not a
// broken file, it needs its password (password_required).
var ErrPasswordRequired = errors.New("password_required: the file is encrypted and needs its password (esign renew -password-file)")

// Outcome of one file.
type Outcome string

// Outcomes.
const (
	Renewed Outcome = "renewed"
	Due     Outcome = "due" // in a dry run: would be renewed
	NotDue  Outcome = "not due"
	Failed  Outcome = "failed"
)

// Result is what happened to one file.
type Result struct {
	Path    string
	Outcome Outcome
	// Why says what the decision rests on, or why the file failed.
	Why     string
	Expires time.Time
	Err     error
}

// Files expands the arguments: a file stands for itself, a directory for
// every *.pdf below it (case-insensitive, hidden files and directories
// skipped, so a temporary file of an interrupted run is left alone).
func Files(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			hidden := strings.HasPrefix(d.Name(), ".") && p != a
			switch {
			case d.IsDir() && hidden:
				return filepath.SkipDir
			case d.IsDir(), hidden, !d.Type().IsRegular():
				return nil
			case strings.EqualFold(filepath.Ext(p), ".pdf"):
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walk %s: %w", a, err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Run renews each of files that is due, one after the other, and
// returns a result for each. It stops early only when ctx ends.
func Run(ctx context.Context, files []string, opts Options) ([]Result, error) {
	out := make([]Result, 0, len(files))
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		r := File(ctx, f, opts)
		out = append(out, r)
		if opts.Progress != nil {
			opts.Progress(i+1, len(files), r)
		}
	}
	return out, nil
}

// File renews one file if it is due.
func File(ctx context.Context, path string, opts Options) Result {
	res := Result{Path: path}
	fail := func(err error) Result {
		res.Outcome, res.Err, res.Why = Failed, err, err.Error()
		return res
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	within := opts.Within
	if within <= 0 {
		within = DefaultWithin
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	sigs, err := signer.SignaturesWithPassword(ctx, f, st.Size(), opts.Password)
	switch {
	case errors.Is(err, signer.ErrPasswordRequired), errors.Is(err, signer.ErrWrongPassword):
		// The file is fine: the password is missing or not its own.
		return fail(fmt.Errorf("%w: %w", ErrPasswordRequired, err))
	case err != nil:
		return fail(err)
	}
	if len(sigs) == 0 {
		return fail(errors.New("the file has no signature or document timestamp"))
	}
	due, exp, why := extend.Due(sigs, now(), within)
	res.Expires, res.Why = exp, why
	switch {
	case !due:
		res.Outcome = NotDue
		return res
	case opts.DryRun:
		res.Outcome = Due
		return res
	case opts.Extender == nil:
		return fail(errors.New("renew: no Extender"))
	}
	ext, err := opts.Extender.ExtendWith(ctx, f, st.Size(), extend.Options{Level: opts.Level, Password: opts.Password})
	if err != nil {
		return fail(err)
	}
	if err := replace(path, st.Mode().Perm(), func(w io.Writer) error {
		_, err := ext.Write(w, f)
		return err
	}); err != nil {
		return fail(err)
	}
	res.Outcome = Renewed
	return res
}

// replace writes path anew through a synced temporary file and a rename,
// then syncs the directory so the rename itself survives a crash.
func replace(path string, perm os.FileMode, fill func(io.Writer) error) error {
	if err := atomicfile.WriteFrom(path, perm, fill); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(path), err)
	}
	return nil
}
