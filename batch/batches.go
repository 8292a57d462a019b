package batch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"esign/signopts"
	"esign/store"
)

// Spec is a new batch.
type Spec struct {
	// Options are the /sign options by their form names (signopts.Names):
	// "signer" and "level" at least. "activation" is not kept: it is
	// checked once, here.
	Options map[string]string
	// Image is the visible signature's PNG, if any.
	Image []byte
	// Activation is the signer's PIN or TOTP code, for credentials that
	// need one. It is never stored.
	Activation string
	// IdempotencyKey makes a repeated creation return the first batch.
	IdempotencyKey string
}

// storedOptions is a batch's or document's options as kept in its row.
type storedOptions struct {
	Options map[string]string `json:"options"`
	Image   []byte            `json:"image,omitempty"`
	// Attachment is a document's attached file, kept in the blob store
	// beside the document.
	Attachment *storedFile `json:"attachment,omitempty"`
}

// storedFile is a file in the blob store.
type storedFile struct {
	Key    string `json:"key"`
	Name   string `json:"name"` // the uploaded part's file name
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Status is a batch as the API reports it.
type Status struct {
	ID             string     `json:"id"`
	State          string     `json:"state"` // open, running, done, cancelled
	Total          int64      `json:"total"`
	Signed         int64      `json:"signed"`
	Failed         int64      `json:"failed"`
	Pending        int64      `json:"pending"`
	Cancelled      int64      `json:"cancelled"`
	CreatedAt      time.Time  `json:"created_at"`
	ClosedAt       *time.Time `json:"closed_at"`
	FinishedAt     *time.Time `json:"finished_at"`
	Signer         string     `json:"signer"`
	Level          string     `json:"level"`
	IdempotencyKey string     `json:"idempotency_key,omitempty"`
	ActivatedUntil *time.Time `json:"activated_until,omitempty"`
	// RatePerS is documents ended per second over the last minute, and
	// EtaS the seconds the pending ones would take at that rate; both
	// while documents are pending and some have ended.
	RatePerS *float64 `json:"rate_per_s,omitempty"`
	EtaS     *float64 `json:"eta_s,omitempty"`
}

// row is a batch as stored.
type row struct {
	id, client, key, signer, level, state string
	options                               storedOptions
	activatedUntil, created, closed       time.Time
	cancelled                             time.Time
}

const batchColumns = "id, client, idempotency_key, signer, level, options, state, activated_until, created_at, closed_at, cancelled_at"

func scanBatch(sc interface{ Scan(...any) error }) (*row, error) {
	var r row
	var opts, activated, created, closed, cancelled string
	if err := sc.Scan(&r.id, &r.client, &r.key, &r.signer, &r.level, &opts, &r.state, &activated, &created, &closed, &cancelled); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("read batch: %w", err)
	}
	if err := json.Unmarshal([]byte(opts), &r.options); err != nil {
		return nil, fmt.Errorf("batch %s options: %w", r.id, err)
	}
	var err error
	for _, t := range []struct {
		dst *time.Time
		v   string
	}{{&r.activatedUntil, activated}, {&r.created, created}, {&r.closed, closed}, {&r.cancelled, cancelled}} {
		if *t.dst, err = store.ParseTime(t.v); err != nil {
			return nil, fmt.Errorf("batch %s: %w", r.id, err)
		}
	}
	return &r, nil
}

// get reads a batch of client's; another client's is ErrNotFound.
func (e *Engine) get(ctx context.Context, client, id string) (*row, error) {
	return scanBatch(e.queryRow(ctx, "SELECT "+batchColumns+" FROM batches WHERE id = ? AND client = ?", id, client))
}

func (e *Engine) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return e.st.QueryRow(ctx, q, args...)
}

func (e *Engine) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return e.st.Query(ctx, q, args...)
}

// maxIdempotencyKey bounds a batch's idempotency key.
const maxIdempotencyKey = 256

// Create makes a batch for client, or, given an idempotency key the
// client used before, returns that batch (created is then false). The
// options are checked as /sign checks them, the credential must be the
// client's, and its activation data is checked once now.
func (e *Engine) Create(ctx context.Context, client *store.Client, spec Spec) (st *Status, created bool, err error) {
	if len(spec.IdempotencyKey) > maxIdempotencyKey {
		return nil, false, fmt.Errorf("%w: idempotency_key is over %d bytes", ErrInvalid, maxIdempotencyKey)
	}
	if spec.IdempotencyKey != "" {
		if st, err := e.byKey(ctx, client.Name, spec.IdempotencyKey); !errors.Is(err, ErrNotFound) {
			return st, false, err
		}
	}
	opts := map[string]string{}
	for k, v := range spec.Options {
		if k != "activation" && v != "" {
			opts[k] = v
		}
	}
	req, err := signopts.Parse(func(k string) string { return opts[k] }, signopts.Files{Image: spec.Image})
	if err != nil {
		return nil, false, err
	}
	if err := e.canRegister(req); err != nil {
		return nil, false, err
	}
	cred, err := e.st.Authorize(ctx, client, req.Signer)
	if err != nil {
		return nil, false, err
	}
	// Before the activation check: a PIN given for a batch that cannot
	// be signed must not count toward the lockout.
	if each, ok := e.cfg.Keys.(EachSignatureActivation); ok {
		needs, err := each.ActivatesEachSignature(ctx, cred)
		if err != nil {
			return nil, false, err
		}
		if needs {
			return nil, false, ErrActivationUnsupported
		}
	}
	if req.NeedsAppearance() {
		// Only checked here: each document draws its own.
		if err := req.Draw(cred, e.cfg.Appearance); err != nil {
			return nil, false, err
		}
	}
	now := e.cfg.Now().UTC()
	var activatedUntil time.Time
	if cred.Activation != store.ActivationNone {
		if e.cfg.Activator == nil {
			return nil, false, errors.New("batch: no activator for a credential that needs activation")
		}
		if err := e.cfg.Activator.Activate(ctx, req.Signer, spec.Activation); err != nil {
			return nil, false, err
		}
		activatedUntil = now.Add(e.cfg.ActivationTTL)
	}
	stored, err := json.Marshal(storedOptions{Options: opts, Image: spec.Image})
	if err != nil {
		return nil, false, err
	}
	id := newID()
	err = e.st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO batches ("+batchColumns+") VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, '', '')",
			id, client.Name, spec.IdempotencyKey, req.Signer, string(req.Options.Level), string(stored),
			store.FormatTime(activatedUntil), store.FormatTime(now))
		return err
	})
	if err != nil {
		if spec.IdempotencyKey != "" && store.IsUniqueViolation(err) {
			// The same key raced in from another request: its batch wins.
			st, err := e.byKey(ctx, client.Name, spec.IdempotencyKey)
			return st, false, err
		}
		return nil, false, fmt.Errorf("create batch: %w", err)
	}
	st, err = e.Status(ctx, client, id)
	return st, true, err
}

// canRegister refuses a registered document where there is no registry.
func (e *Engine) canRegister(req *signopts.Request) error {
	if req.Registered() && (e.cfg.Registry == nil || e.cfg.PublicVerifyURL == "") {
		return fmt.Errorf("%w: this service keeps no registry of issued documents", ErrInvalid)
	}
	return nil
}

func (e *Engine) byKey(ctx context.Context, client, key string) (*Status, error) {
	r, err := scanBatch(e.queryRow(ctx, "SELECT "+batchColumns+" FROM batches WHERE client = ? AND idempotency_key = ?", client, key))
	if err != nil {
		return nil, err
	}
	return e.status(ctx, r)
}

// Status reports a batch of client's.
func (e *Engine) Status(ctx context.Context, client *store.Client, id string) (*Status, error) {
	r, err := e.get(ctx, client.Name, id)
	if err != nil {
		return nil, err
	}
	return e.status(ctx, r)
}

// rateWindow is the span over which a batch's rate is measured.
const rateWindow = time.Minute

func (e *Engine) status(ctx context.Context, r *row) (*Status, error) {
	s := &Status{ID: r.id, CreatedAt: r.created, Signer: r.signer, Level: r.level, IdempotencyKey: r.key}
	if !r.activatedUntil.IsZero() {
		s.ActivatedUntil = &r.activatedUntil
	}
	if !r.closed.IsZero() {
		s.ClosedAt = &r.closed
	}
	rows, err := e.query(ctx, "SELECT state, COUNT(*) FROM batch_documents WHERE batch_id = ? GROUP BY state", r.id)
	if err != nil {
		return nil, fmt.Errorf("count batch documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("count batch documents: %w", err)
		}
		switch state {
		case "pending":
			s.Pending = n
		case "signed":
			s.Signed = n
		case "failed":
			s.Failed = n
		case "cancelled":
			s.Cancelled = n
		}
		s.Total += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count batch documents: %w", err)
	}
	switch {
	case r.state == "cancelled":
		s.State = "cancelled"
	case r.state == "open":
		s.State = "open"
	case s.Pending > 0:
		s.State = "running"
	default:
		s.State = "done"
	}
	now := e.cfg.Now().UTC()
	var first, last sql.NullString
	var recent int64
	err = e.queryRow(ctx, `SELECT MIN(ended_at), MAX(ended_at), COALESCE(SUM(CASE WHEN ended_at >= ? THEN 1 ELSE 0 END), 0)
		FROM batch_documents WHERE batch_id = ? AND ended_at <> ''`, store.FormatTime(now.Add(-rateWindow)), r.id).Scan(&first, &last, &recent)
	if err != nil {
		return nil, fmt.Errorf("batch rate: %w", err)
	}
	switch s.State {
	case "done", "cancelled":
		end := r.closed
		if r.state == "cancelled" {
			end = r.cancelled
		}
		if t, err := store.ParseTime(nullString(last)); err == nil && t.After(end) {
			end = t
		}
		if !end.IsZero() {
			s.FinishedAt = &end
		}
	}
	if s.Pending > 0 && recent > 0 {
		t0, err := store.ParseTime(nullString(first))
		if err == nil {
			// Over the last minute, or since the first document ended
			// if that is sooner; at least a second, so that one early
			// document does not promise thousands a second.
			span := min(rateWindow, max(now.Sub(t0), time.Second)).Seconds()
			rate := float64(recent) / span
			eta := float64(s.Pending) / rate
			s.RatePerS, s.EtaS = &rate, &eta
		}
	}
	return s, nil
}

// CloseBatch marks a batch as taking no more documents; it is done once every
// document has ended. Closing a closed or cancelled batch changes nothing.
func (e *Engine) CloseBatch(ctx context.Context, client *store.Client, id string) (*Status, error) {
	if _, err := e.get(ctx, client.Name, id); err != nil {
		return nil, err
	}
	err := e.st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE batches SET state = 'closed', closed_at = ? WHERE id = ? AND state = 'open'",
			store.FormatTime(e.cfg.Now()), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("close batch: %w", err)
	}
	return e.Status(ctx, client, id)
}

// CancelBatch stops a batch: its pending documents are never signed (a
// signature in progress is discarded), and those signed stay available.
// A batch whose documents have all ended is left as it is.
func (e *Engine) CancelBatch(ctx context.Context, client *store.Client, id string) (*Status, error) {
	st, err := e.Status(ctx, client, id)
	if err != nil || st.State == "done" || st.State == "cancelled" {
		return st, err
	}
	now := store.FormatTime(e.cfg.Now())
	err = e.st.WithTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE batches SET state = 'cancelled', cancelled_at = ? WHERE id = ? AND state <> 'cancelled'", now, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE batch_documents SET state = 'cancelled', ended_at = ? WHERE batch_id = ? AND state = 'pending'", now, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cancel batch: %w", err)
	}
	e.cfg.Logger.Info("batch cancelled", "batch", id, "client", client.Name, "pending", st.Pending)
	return e.Status(ctx, client, id)
}
