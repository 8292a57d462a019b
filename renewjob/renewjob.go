// Package renewjob renews the signed documents the service keeps (batch
// outputs, registered ones among them) before the certificate their
// proof rests on expires, as a periodic job on the batch queue: what
// `esign renew` does to a directory, for the database.
//
// A run lists the kept documents whose proof expires within Within (or
// that no run has looked at yet), decides each as extend.Due does, and
// extends the due ones with the service's Extender. The renewal is
// appended to the stored output in one transaction with its audit entry,
// on the condition that the output is still the one that was extended
// (batch.Engine.StoreRenewal): River schedules one run at a time, and
// should two ever overlap, one renewal of a document is kept and the
// other dropped. The signed bytes and the registry entry, which names the
// signed revision, are left as they are.
package renewjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"esign/batch"
	"esign/extend"
	"esign/signer"
)

// Name is the periodic work's name on the queue.
const Name = "renew_kept_documents"

// DefaultPage is how many documents a run lists at a time.
const DefaultPage = 100

// Config configures renewal. Extender, Within and Interval are required.
type Config struct {
	// Extender validates and extends, as POST /api/v1/extend does.
	Extender *extend.Extender
	// Within: a document whose proof expires before now+Within is
	// renewed (ESIGN_RENEW_WITHIN). It must be shorter than a fresh TSA
	// certificate's life, or every run renews every document again.
	Within time.Duration
	// Interval between runs (ESIGN_RENEW_INTERVAL).
	Interval time.Duration
	// Level is B-LTA (default) or B-LT.
	Level signer.Level
	// Page is how many documents a run lists at a time. Default
	// DefaultPage.
	Page   int
	Logger *slog.Logger // default: discard
	Now    func() time.Time
}

// Renewer renews kept documents.
type Renewer struct {
	cfg Config
	// locked holds the kept documents (batch, ref and output digest) that
	// need a password to open: the job has none, so after saying so once
	// it skips them without opening them again, until the process
	// restarts or the document changes.
	mu     sync.Mutex
	locked map[string]bool
}

// New checks cfg and makes a Renewer.
func New(cfg Config) (*Renewer, error) {
	if cfg.Extender == nil || cfg.Within <= 0 || cfg.Interval <= 0 {
		return nil, errors.New("renewjob: Extender, Within and Interval are required")
	}
	if cfg.Level == "" {
		cfg.Level = signer.LevelLTA
	}
	if cfg.Level != signer.LevelLTA && cfg.Level != signer.LevelLT {
		return nil, fmt.Errorf("renewjob: level %q (want B-LT or B-LTA)", cfg.Level)
	}
	if cfg.Page <= 0 {
		cfg.Page = DefaultPage
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Renewer{cfg: cfg, locked: map[string]bool{}}, nil
}

// Periodic is the work to give batch.Config.Periodic.
func (r *Renewer) Periodic() batch.Periodic {
	return batch.Periodic{Name: Name, Interval: r.cfg.Interval, Run: func(ctx context.Context, e *batch.Engine) error {
		st, err := r.Run(ctx, e)
		r.cfg.Logger.Info("renewal of kept documents", "renewed", st.Renewed, "not_due", st.NotDue,
			"failed", st.Failed, "changed", st.Changed, "password_required", st.PasswordRequired, "error", err)
		return err
	}}
}

// Stats counts what a run did.
type Stats struct {
	Renewed, NotDue, Failed int
	// Changed counts documents another run renewed meanwhile.
	Changed int
	// PasswordRequired counts documents encrypted with a user password,
	// which the job cannot open: logged once, then skipped.
	PasswordRequired int
}

// Run renews every due document e keeps, and notes when the others fall
// due. A document that fails is logged and tried again next run, except
// one that needs a password (Stats.PasswordRequired), which is logged
// once and skipped by the runs after; Run
// stops early only when ctx ends or the database fails.
func (r *Renewer) Run(ctx context.Context, e *batch.Engine) (Stats, error) {
	var st Stats
	now := r.cfg.Now()
	by := now.Add(r.cfg.Within)
	afterBatch, afterRef := "", ""
	for {
		page, err := e.KeptDue(ctx, by, afterBatch, afterRef, r.cfg.Page)
		if err != nil {
			return st, err
		}
		for _, k := range page {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			afterBatch, afterRef = k.Batch, k.Ref
			key := k.Batch + "\x00" + k.Ref + "\x00" + k.OutputSHA256
			r.mu.Lock()
			locked := r.locked[key]
			r.mu.Unlock()
			if locked {
				st.PasswordRequired++
				continue
			}
			err := r.one(ctx, e, k, now)
			switch {
			case errors.Is(err, errNotDue):
				st.NotDue++
			case errors.Is(err, batch.ErrChanged):
				st.Changed++
			case errors.Is(err, signer.ErrPasswordRequired):
				// Retrying cannot help: no run has a password to give.
				st.PasswordRequired++
				r.mu.Lock()
				r.locked[key] = true
				r.mu.Unlock()
				r.cfg.Logger.Warn("a kept document is encrypted with a user password (password_required): the renewal job has no password, so it skips the document from now on; renew it by hand with its password (POST /api/v1/extend, or esign renew -password-file)",
					"batch", k.Batch, "ref", k.Ref)
			case err != nil:
				if ctx.Err() != nil {
					return st, ctx.Err()
				}
				st.Failed++
				r.cfg.Logger.Warn("renewal of a kept document failed", "batch", k.Batch, "ref", k.Ref, "error", err)
			default:
				st.Renewed++
			}
		}
		if len(page) < r.cfg.Page {
			return st, nil
		}
	}
}

var errNotDue = errors.New("renewjob: not due")

// one renews k if it is due, else notes when it will be.
func (r *Renewer) one(ctx context.Context, e *batch.Engine, k batch.Kept, now time.Time) error {
	out, err := e.OpenKept(ctx, k)
	if err != nil {
		return err
	}
	defer out.Close()
	sigs, err := signer.Signatures(ctx, out, out.Size())
	if err != nil {
		return fmt.Errorf("read signatures: %w", err)
	}
	due, exp, why := extend.Due(sigs, now, r.cfg.Within)
	if !due {
		if err := e.NoteProofExpiry(ctx, k, exp); err != nil {
			return err
		}
		return errNotDue
	}
	res, err := r.cfg.Extender.Extend(ctx, out, out.Size(), r.cfg.Level)
	if err != nil {
		return fmt.Errorf("extend (%s): %w", why, err)
	}
	if res.BaseSize != out.Size() {
		return fmt.Errorf("extension starts at %d, want %d", res.BaseSize, out.Size())
	}
	// When the renewed file falls due, for the next runs to skip it until
	// then.
	renewed := &joined{head: out, size: out.Size(), tail: res.Appended}
	sigs, err = signer.Signatures(ctx, renewed, renewed.Size())
	if err != nil {
		return fmt.Errorf("read renewed signatures: %w", err)
	}
	stillDue, next, _ := extend.Due(sigs, now, r.cfg.Within)
	if stillDue {
		r.cfg.Logger.Warn("a renewed document is due again at once: ESIGN_RENEW_WITHIN is longer than the TSA certificate lives",
			"batch", k.Batch, "ref", k.Ref, "expires", next)
	}
	err = e.StoreRenewal(ctx, k, out, batch.Renewal{Appended: res.Appended, Level: string(r.cfg.Level), ProofExpires: next})
	if err == nil {
		r.cfg.Logger.Info("kept document renewed", "batch", k.Batch, "ref", k.Ref, "why", why, "proof_expires", next)
	}
	return err
}

// joined reads head's first size bytes, then tail.
type joined struct {
	head io.ReaderAt
	size int64
	tail []byte
}

func (j *joined) Size() int64 { return j.size + int64(len(j.tail)) }

func (j *joined) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("renewjob: negative offset")
	}
	n := 0
	if off < j.size {
		k := int(min(int64(len(p)), j.size-off))
		m, err := j.head.ReadAt(p[:k], off)
		n += m
		if m < k {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		p, off = p[k:], off+int64(k)
	}
	if len(p) == 0 {
		return n, nil
	}
	m := 0
	if i := off - j.size; i < int64(len(j.tail)) {
		m = copy(p, j.tail[i:])
	}
	n += m
	if m < len(p) {
		return n, io.EOF
	}
	return n, nil
}
