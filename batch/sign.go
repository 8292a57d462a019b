package batch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"esign/audit"
	"esign/registry"
	"esign/signer"
	"esign/signopts"
	"esign/store"
)

// pendingDoc is what signing a document needs from its row.
type pendingDoc struct {
	state, key, sum, options string
	size                     int64
	documentID               string // the registry ID, for a registered document
}

// signed is a document's signature, and its registry record if it is
// registered.
type signed struct {
	res *signer.Result
	doc *registry.Document
}

// sign works one try of one document. It returns nil when the document
// has ended (signed, failed, or found ended by someone else), and an
// error for River to retry it.
func (e *Engine) sign(ctx context.Context, id, ref string, jobID int64, attempt, maxAttempts int) error {
	// A place among the documents in progress, from the first read to
	// the commit: the queue hands this replica more jobs than that, and
	// each job that ran ahead would hold a database connection.
	select {
	case e.inProgress <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.inProgress }()
	b, err := scanBatch(e.queryRow(ctx, "SELECT "+batchColumns+" FROM batches WHERE id = ?", id))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var d pendingDoc
	err = e.queryRow(ctx, "SELECT state, input_key, input_sha256, input_size, options, document_id FROM batch_documents WHERE batch_id = ? AND ref = ?", id, ref).
		Scan(&d.state, &d.key, &d.sum, &d.size, &d.options, &d.documentID)
	if err != nil {
		return fmt.Errorf("read batch document: %w", err)
	}
	if d.state != "pending" || b.state == "cancelled" {
		return nil // ended already: a repeated job, or a cancelled batch
	}
	inSum, _ := hex.DecodeString(d.sum)
	entry := audit.Entry{
		RequestID: fmt.Sprintf("batch-job-%d", jobID), Client: b.client, Credential: b.signer, Level: b.level,
		Batch: id, Ref: ref, InputSHA256: inSum,
	}
	res, err := e.signDocument(ctx, b, &d, &entry)
	if err == nil {
		if res.doc != nil {
			res.doc.Batch, res.doc.Ref = id, ref
		}
		return e.commit(ctx, entry, id, ref, attempt, res)
	}
	status, code := e.cfg.Classify(err)
	if status < 500 && !errors.Is(err, context.Canceled) || attempt >= maxAttempts {
		msg := err.Error()
		if status >= 500 || status < 400 {
			// Internal detail stays in the log; the client gets the kind.
			msg = fmt.Sprintf("signing failed %d times: %s", attempt, code)
			e.cfg.Logger.Error("batch document failed", "batch", id, "ref", ref, "error", err)
		}
		return e.fail(ctx, entry, id, ref, attempt, status, code, msg)
	}
	e.metrics.retries.Inc()
	e.cfg.Logger.Warn("batch document will be retried", "batch", id, "ref", ref, "attempt", attempt, "code", code, "error", err)
	return fmt.Errorf("%w: %s: %w", errRetry, code, err)
}

// signDocument signs the document with its batch's credential and
// options, its own over them.
func (e *Engine) signDocument(ctx context.Context, b *row, d *pendingDoc, entry *audit.Entry) (*signed, error) {
	// Authorize checks the client is enabled and the credential still
	// assigned, enabled and existing, as for every /sign request; cached
	// until any of that changes.
	cred, err := e.st.Authorize(ctx, &store.Client{Name: b.client}, b.signer)
	if err != nil {
		return nil, err
	}
	if cred.Activation != store.ActivationNone && !e.cfg.Now().Before(b.activatedUntil) {
		return nil, ErrActivationExpired
	}
	own, err := decodeOptions(d.options)
	if err != nil {
		return nil, err
	}
	var att *signopts.File
	if own.Attachment != nil {
		if att, err = e.readAttachment(ctx, own.Attachment); err != nil {
			return nil, err
		}
	}
	req, err := e.request(b, own.Options, att)
	if err != nil {
		return nil, err
	}
	entry.Metadata = req.Metadata
	if req.Registered() != (d.documentID != "") {
		// Options are fixed when the document is accepted.
		return nil, fmt.Errorf("document %s: registered %v, but its registry ID is %q", d.key, req.Registered(), d.documentID)
	}
	if d.documentID != "" {
		if err := e.canRegister(req); err != nil {
			return nil, err
		}
		if err := req.Issue(e.verifyURL(d.documentID)); err != nil {
			return nil, err
		}
	}
	if req.NeedsAppearance() {
		if err := req.Draw(cred, e.cfg.Appearance); err != nil {
			return nil, err
		}
	}
	key, err := e.cfg.Keys.Resolve(ctx, cred)
	if err != nil {
		return nil, err
	}
	in, err := e.cfg.Blobs.Open(ctx, d.key)
	if err != nil {
		return nil, fmt.Errorf("open document: %w", err)
	}
	defer in.Close()
	if in.Size() != d.size {
		return nil, fmt.Errorf("document input is %d bytes, want %d", in.Size(), d.size)
	}
	select {
	case e.signing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	start := time.Now()
	res, err := e.cfg.Signer.Sign(ctx, in, d.size, key, req.Options)
	<-e.signing
	e.metrics.observe(req.Options.Level, time.Since(start))
	if errors.Is(err, signer.ErrPasswordRequired) {
		// A batch would have to store a password until its documents are
		// signed; it takes none, and says where to go instead.
		return nil, fmt.Errorf("%w; batches sign without passwords, which they never store: sign this document with POST /api/v1/sign and its \"password\"", err)
	}
	if err != nil {
		return nil, err
	}
	if res.BaseSize != d.size {
		return nil, fmt.Errorf("signed update starts at %d, want %d", res.BaseSize, d.size)
	}
	out := &signed{res: res}
	if d.documentID != "" {
		if len(res.SignedRevisionSHA256) != sha256.Size {
			return nil, errors.New("the signer gave no digest of the signed revision")
		}
		entry.Document = d.documentID
		out.doc = &registry.Document{ID: d.documentID, Client: b.client, Credential: b.signer, Issuer: signopts.IssuerOf(key),
			RevisionSHA256: res.SignedRevisionSHA256, Label: req.Label}
	}
	return out, nil
}

// readAttachment reads a document's attached file from the blob store,
// checked against what was accepted.
func (e *Engine) readAttachment(ctx context.Context, f *storedFile) (*signopts.File, error) {
	obj, err := e.cfg.Blobs.Open(ctx, f.Key)
	if err != nil {
		return nil, fmt.Errorf("open attachment: %w", err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(io.NewSectionReader(obj, 0, obj.Size()), signopts.MaxAttachment+1))
	if err != nil {
		return nil, fmt.Errorf("read attachment: %w", err)
	}
	if sum := sha256.Sum256(data); int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
		return nil, fmt.Errorf("attachment %s: stored bytes differ from those accepted", f.Key)
	}
	return &signopts.File{Name: f.Name, Data: data}, nil
}

// request is a document's options: the batch's, with the document's own
// (signopts.PerDocument) and its attachment in their place.
func (e *Engine) request(b *row, own map[string]string, att *signopts.File) (*signopts.Request, error) {
	get := func(k string) string {
		if v, ok := own[k]; ok {
			return v
		}
		return b.options.Options[k]
	}
	return signopts.Parse(get, signopts.Files{Image: b.options.Image, Attachment: att})
}

// commit stores a signed document: its update, its state and its audit
// entry in one transaction, on the condition that it is still pending.
// If it is not — another replica's try committed first, or the batch was
// cancelled — nothing is stored and the signature is dropped.
//
// A registered document is recorded in the registry in the same
// transaction, so it is never handed out unregistered, and a try that
// loses the race records nothing.
func (e *Engine) commit(ctx context.Context, entry audit.Entry, id, ref string, attempt int, s *signed) error {
	res := s.res
	entry.OutputSHA256, entry.Result = res.OutputSHA256, audit.Success
	_, ok, err := e.cfg.Audit.AppendIf(ctx, entry, func(ctx context.Context, tx *store.Tx) (bool, error) {
		r, err := tx.ExecContext(ctx, `UPDATE batch_documents SET state = 'signed', output_sha256 = ?, signed_update = ?, field = ?,
			attempts = ?, ended_at = ? WHERE batch_id = ? AND ref = ? AND state = 'pending'`,
			hex.EncodeToString(res.OutputSHA256), res.Appended, res.Field, attempt, store.FormatTime(e.cfg.Now()), id, ref)
		if err != nil {
			return false, err
		}
		n, err := r.RowsAffected()
		if err != nil || n != 1 {
			return false, err
		}
		if s.doc != nil {
			if _, err := e.cfg.Registry.Record(ctx, tx, *s.doc); err != nil {
				return false, err
			}
		}
		return true, nil
	})
	if err != nil {
		e.metrics.retries.Inc()
		return fmt.Errorf("%w: store signed document: %w", errRetry, err)
	}
	if ok {
		e.metrics.ended("signed")
	}
	return nil
}

// fail ends a document with the error /sign would have given.
func (e *Engine) fail(ctx context.Context, entry audit.Entry, id, ref string, attempt, status int, code, msg string) error {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	entry.Result, entry.ErrorCode = audit.Failure, code
	_, ok, err := e.cfg.Audit.AppendIf(ctx, entry, func(ctx context.Context, tx *store.Tx) (bool, error) {
		r, err := tx.ExecContext(ctx, `UPDATE batch_documents SET state = 'failed', error_status = ?, error_code = ?, error_message = ?,
			attempts = ?, ended_at = ? WHERE batch_id = ? AND ref = ? AND state = 'pending'`,
			status, code, msg, attempt, store.FormatTime(e.cfg.Now()), id, ref)
		if err != nil {
			return false, err
		}
		n, err := r.RowsAffected()
		return n == 1, err
	})
	if err != nil {
		return fmt.Errorf("%w: record failed document: %w", errRetry, err)
	}
	if ok {
		e.metrics.ended("failed")
	}
	return nil
}
