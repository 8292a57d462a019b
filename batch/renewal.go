package batch

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"esign/audit"
	"esign/store"
)

// What the engine offers renewal (package renewjob): the signed documents
// it keeps, read as served, and a way to append a renewal to one. The
// file served stays input + signed_update + renewed_update, so the bytes
// that were signed, and the registry entry that names their revision, do
// not change; the output digest the API and the manifest give becomes the
// renewed file's.

// Kept is a signed document the engine keeps, as renewal sees it.
type Kept struct {
	Batch, Ref string
	// Client owns the batch; DocumentID is the registry's ID, if any.
	Client, DocumentID string
	// OutputSHA256 is the hex digest of the file as served now.
	OutputSHA256 string
	// ProofExpires is when the certificate its proof rests on expires, as
	// last noted; zero when not yet looked at.
	ProofExpires time.Time
}

// KeptDue lists, in (batch, ref) order after the given key, up to limit
// signed documents whose proof expires by the given time or has not been
// looked at.
func (e *Engine) KeptDue(ctx context.Context, by time.Time, afterBatch, afterRef string, limit int) ([]Kept, error) {
	rows, err := e.query(ctx, `SELECT d.batch_id, d.ref, b.client, d.document_id, d.output_sha256, d.proof_expires_at
		FROM batch_documents d JOIN batches b ON b.id = d.batch_id
		WHERE d.state = 'signed' AND (d.proof_expires_at = '' OR d.proof_expires_at <= ?)
		AND (d.batch_id > ? OR (d.batch_id = ? AND d.ref > ?))
		ORDER BY d.batch_id, d.ref LIMIT ?`, store.FormatTime(by), afterBatch, afterBatch, afterRef, limit)
	if err != nil {
		return nil, fmt.Errorf("list kept documents: %w", err)
	}
	defer rows.Close()
	var out []Kept
	for rows.Next() {
		var k Kept
		var exp string
		if err := rows.Scan(&k.Batch, &k.Ref, &k.Client, &k.DocumentID, &k.OutputSHA256, &exp); err != nil {
			return nil, fmt.Errorf("list kept documents: %w", err)
		}
		if exp != "" {
			if k.ProofExpires, err = store.ParseTime(exp); err != nil {
				return nil, err
			}
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list kept documents: %w", err)
	}
	return out, nil
}

// OpenKept opens a kept document's file as served, for the service's own
// use (no client is checked). It fails with ErrChanged when the file is no
// longer the one k names.
func (e *Engine) OpenKept(ctx context.Context, k Kept) (*Output, error) {
	var key, sum string
	var size int64
	var update, renewed []byte
	err := e.queryRow(ctx, `SELECT input_key, input_size, output_sha256, signed_update, renewed_update
		FROM batch_documents WHERE batch_id = ? AND ref = ? AND state = 'signed'`, k.Batch, k.Ref).Scan(&key, &size, &sum, &update, &renewed)
	if err != nil {
		return nil, fmt.Errorf("read kept document %s/%s: %w", k.Batch, k.Ref, err)
	}
	if sum != k.OutputSHA256 {
		return nil, ErrChanged
	}
	return e.open(ctx, k.Ref, key, size, sum, append(update, renewed...))
}

// ErrChanged reports a kept document renewed by another run meanwhile.
var ErrChanged = errors.New("batch: the kept document changed meanwhile")

// NoteProofExpiry records when k's proof expires, unless its file
// changed meanwhile.
func (e *Engine) NoteProofExpiry(ctx context.Context, k Kept, exp time.Time) error {
	return e.st.WithTx(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE batch_documents SET proof_expires_at = ?
			WHERE batch_id = ? AND ref = ? AND state = 'signed' AND output_sha256 = ?`,
			store.FormatTime(exp), k.Batch, k.Ref, k.OutputSHA256)
		return err
	})
}

// Renewal is what one renewal appends to a kept document.
type Renewal struct {
	// Appended follows the file as served now (k.OutputSHA256).
	Appended []byte
	// Level is the level extended to, for the audit entry.
	Level string
	// ProofExpires is when the renewed file's proof expires.
	ProofExpires time.Time
}

// StoreRenewal appends r to kept document k with its audit entry
// (ActionRenew, the digests before and after) in one transaction, on the
// condition that the file is still the one k names: of two runs that
// renewed it at once, one stores and the other gets ErrChanged and its
// work is dropped.
func (e *Engine) StoreRenewal(ctx context.Context, k Kept, out *Output, r Renewal) error {
	if out.SHA256 != k.OutputSHA256 {
		return ErrChanged
	}
	prev, err := hex.DecodeString(k.OutputSHA256)
	if err != nil || len(prev) != sha256.Size {
		return fmt.Errorf("kept document %s/%s: output digest %q", k.Batch, k.Ref, k.OutputSHA256)
	}
	h := sha256.New()
	if _, err := out.WriteTo(h); err != nil {
		return fmt.Errorf("digest kept document %s/%s: %w", k.Batch, k.Ref, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != k.OutputSHA256 {
		return fmt.Errorf("kept document %s/%s: stored file digests to %s, not %s", k.Batch, k.Ref, got, k.OutputSHA256)
	}
	h.Write(r.Appended)
	next := h.Sum(nil)
	entry := audit.Entry{
		Client: k.Client, Batch: k.Batch, Ref: k.Ref, Action: audit.ActionRenew, Document: k.DocumentID,
		InputSHA256: prev, OutputSHA256: next, Level: r.Level, Result: audit.Success,
	}
	_, ok, err := e.cfg.Audit.AppendIf(ctx, entry, func(ctx context.Context, tx *store.Tx) (bool, error) {
		// The renewed bytes so far, to which these are added.
		var renewed []byte
		if err := tx.QueryRowContext(ctx, `SELECT renewed_update FROM batch_documents
			WHERE batch_id = ? AND ref = ? AND state = 'signed' AND output_sha256 = ?`,
			k.Batch, k.Ref, k.OutputSHA256).Scan(&renewed); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return false, nil
			}
			return false, err
		}
		res, err := tx.ExecContext(ctx, `UPDATE batch_documents SET renewed_update = ?, output_sha256 = ?,
			renewals = renewals + 1, renewed_at = ?, proof_expires_at = ?
			WHERE batch_id = ? AND ref = ? AND state = 'signed' AND output_sha256 = ?`,
			append(renewed, r.Appended...), hex.EncodeToString(next), store.FormatTime(e.cfg.Now()),
			store.FormatTime(r.ProofExpires), k.Batch, k.Ref, k.OutputSHA256)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n == 1, err
	})
	if err != nil {
		return fmt.Errorf("store renewal of %s/%s: %w", k.Batch, k.Ref, err)
	}
	if !ok {
		return ErrChanged
	}
	return nil
}
