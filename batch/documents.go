package batch

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"esign/blob"
	"esign/registry"
	"esign/signopts"
	"esign/store"
)

// Document is one document of a batch, as the API lists it.
type Document struct {
	Ref          string     `json:"ref"`
	State        string     `json:"state"` // pending, signed, failed, cancelled
	Error        *DocError  `json:"error,omitempty"`
	InputSHA256  string     `json:"input_sha256"`
	OutputSHA256 string     `json:"output_sha256,omitempty"`
	InputSize    int64      `json:"input_size"`
	Field        string     `json:"field,omitempty"`
	Attempts     int        `json:"attempts"`
	CreatedAt    time.Time  `json:"created_at"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	// DocumentID is a registered document's ID (qr or register), fixed
	// when it is accepted, and VerifyURL its page on the public verifier.
	DocumentID string `json:"document_id,omitempty"`
	VerifyURL  string `json:"verify_url,omitempty"`
	// Renewals counts the renewals appended to a kept signed document
	// (package renewjob), the last at RenewedAt; OutputSHA256 is then the
	// digest of the renewed file, which is what is served.
	Renewals  int        `json:"renewals,omitempty"`
	RenewedAt *time.Time `json:"renewed_at,omitempty"`
}

// DocError is why a document failed: the status and code /sign would
// have answered, and its message.
type DocError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

const docColumns = "ref, state, input_sha256, output_sha256, input_size, field, attempts, error_status, error_code, error_message, created_at, ended_at, document_id, renewals, renewed_at"

func (e *Engine) scanDocument(sc interface{ Scan(...any) error }) (*Document, error) {
	var d Document
	var status int
	var code, msg, created, ended, renewed string
	if err := sc.Scan(&d.Ref, &d.State, &d.InputSHA256, &d.OutputSHA256, &d.InputSize, &d.Field, &d.Attempts,
		&status, &code, &msg, &created, &ended, &d.DocumentID, &d.Renewals, &renewed); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("read batch document: %w", err)
	}
	if code != "" {
		d.Error = &DocError{Status: status, Code: code, Message: msg}
	}
	d.VerifyURL = e.verifyURL(d.DocumentID)
	var err error
	if d.CreatedAt, err = store.ParseTime(created); err != nil {
		return nil, err
	}
	if ended != "" {
		t, err := store.ParseTime(ended)
		if err != nil {
			return nil, err
		}
		d.EndedAt = &t
	}
	if renewed != "" {
		t, err := store.ParseTime(renewed)
		if err != nil {
			return nil, err
		}
		d.RenewedAt = &t
	}
	return &d, nil
}

// verifyURL is a registered document's page on the public verifier; ""
// for one not registered.
func (e *Engine) verifyURL(docID string) string {
	if docID == "" {
		return ""
	}
	return signopts.VerifyURL(e.cfg.PublicVerifyURL, docID)
}

// DocumentSpec is a document's own part of its batch's options.
type DocumentSpec struct {
	// Options are the document's own options (signopts.PerDocument) over
	// the batch's.
	Options map[string]string
	// Attachment is the file embedded in its signed revision, if any.
	Attachment *signopts.File
}

// AddDocument puts a document into a batch of client's under ref, with
// its own options (signopts.PerDocument) over the batch's, and queues it
// for signing. The same ref with the same bytes again returns the first
// document (created false); with other bytes it is ErrConflict.
func (e *Engine) AddDocument(ctx context.Context, client *store.Client, id, ref string, body io.Reader, opts map[string]string) (doc *Document, created bool, err error) {
	return e.Add(ctx, client, id, ref, body, DocumentSpec{Options: opts})
}

// Add is AddDocument with the document's attachment. A document to be
// registered (qr or register) gets its registry ID now, so that every
// try of its signing prints and records the same one.
func (e *Engine) Add(ctx context.Context, client *store.Client, id, ref string, body io.Reader, spec DocumentSpec) (doc *Document, created bool, err error) {
	if err := ValidRef(ref); err != nil {
		return nil, false, err
	}
	opts := spec.Options
	for k := range opts {
		if !slices.Contains(signopts.PerDocument, k) || k == "attachment" {
			return nil, false, fmt.Errorf("%w: a document may set only %v (the attachment as a file), not %q", ErrInvalid, signopts.PerDocument, k)
		}
	}
	b, err := e.get(ctx, client.Name, id)
	if err != nil {
		return nil, false, err
	}
	req, err := e.request(b, opts, spec.Attachment)
	if err != nil {
		return nil, false, err
	}
	if err := e.canRegister(req); err != nil {
		return nil, false, err
	}
	body = &limitedReader{r: body, left: e.cfg.MaxUpload}
	if existing, err := e.document(ctx, id, ref); err == nil {
		// A repeat: only its digest matters.
		h := sha256.New()
		n, err := io.Copy(h, body)
		if err != nil {
			return nil, false, fmt.Errorf("read document: %w", err)
		}
		if err := e.sameOptions(ctx, id, ref, spec); err != nil {
			return nil, false, err
		}
		return e.repeat(existing, hex.EncodeToString(h.Sum(nil)), n)
	} else if !errors.Is(err, ErrNotFound) {
		return nil, false, err
	}
	if b.state != "open" {
		return nil, false, ErrClosed
	}
	key := fmt.Sprintf("%s/%s.%s", id, ref, newID()[:16])
	info, err := e.cfg.Blobs.Put(ctx, key, body)
	if err != nil {
		return nil, false, fmt.Errorf("store document: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = e.cfg.Blobs.Delete(context.WithoutCancel(ctx), key)
		}
	}()
	if info.Size == 0 {
		return nil, false, fmt.Errorf("%w: the document is empty", ErrInvalid)
	}
	sum := hex.EncodeToString(info.SHA256[:])
	stored := storedOptions{Options: opts}
	if a := spec.Attachment; a != nil {
		// Beside the document, not in its row: a transcript's XML may be
		// megabytes, and rows are read whole.
		akey := key + ".attachment"
		ainfo, err := e.cfg.Blobs.Put(ctx, akey, bytes.NewReader(a.Data))
		if err != nil {
			return nil, false, fmt.Errorf("store attachment: %w", err)
		}
		defer func() {
			if !keep {
				_ = e.cfg.Blobs.Delete(context.WithoutCancel(ctx), akey)
			}
		}()
		stored.Attachment = &storedFile{Key: akey, Name: a.Name, Size: ainfo.Size, SHA256: hex.EncodeToString(ainfo.SHA256[:])}
	}
	var docOpts []byte
	if len(opts) > 0 || stored.Attachment != nil {
		if docOpts, err = json.Marshal(stored); err != nil {
			return nil, false, err
		}
	}
	var docID string
	if req.Registered() {
		if docID, err = registry.NewID(); err != nil {
			return nil, false, err
		}
	}
	err = e.st.WithTx(ctx, func(tx *store.Tx) error {
		// The batch's row is read under a lock that a concurrent close or
		// cancel must wait for: no document slips in after either.
		var state string
		if err := tx.QueryRowContext(ctx, "SELECT state FROM batches WHERE id = ?"+e.shareLock(), id).Scan(&state); err != nil {
			return fmt.Errorf("read batch: %w", err)
		}
		if state != "open" {
			return ErrClosed
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO batch_documents (batch_id, ref, state, options, input_key, input_sha256, input_size, created_at, document_id)
			VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)`, id, ref, string(docOpts), key, sum, info.Size, store.FormatTime(e.cfg.Now()), docID)
		if err != nil {
			return err
		}
		return e.queue.enqueueTx(ctx, tx, id, ref)
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			// The same ref raced in from another request.
			existing, derr := e.document(ctx, id, ref)
			if derr != nil {
				return nil, false, derr
			}
			if err := e.sameOptions(ctx, id, ref, spec); err != nil {
				return nil, false, err
			}
			return e.repeat(existing, sum, info.Size)
		}
		if errors.Is(err, ErrClosed) {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("add document: %w", err)
	}
	keep = true
	e.metrics.accepted.Inc()
	doc, err = e.document(ctx, id, ref)
	return doc, true, err
}

// sameOptions refuses a repeat whose own options or attached file differ
// from those the ref was accepted with: a retry that brings a corrected
// transcript XML or another label must not be answered with the old
// document as if it were the same.
func (e *Engine) sameOptions(ctx context.Context, id, ref string, spec DocumentSpec) error {
	var raw string
	if err := e.queryRow(ctx, "SELECT options FROM batch_documents WHERE batch_id = ? AND ref = ?", id, ref).Scan(&raw); err != nil {
		return fmt.Errorf("read batch document: %w", err)
	}
	have, err := decodeOptions(raw)
	if err != nil {
		return err
	}
	same := maps.Equal(have.Options, spec.Options)
	switch a, h := spec.Attachment, have.Attachment; {
	case a == nil || h == nil:
		same = same && a == nil && h == nil
	default:
		sum := sha256.Sum256(a.Data)
		same = same && a.Name == h.Name && int64(len(a.Data)) == h.Size && hex.EncodeToString(sum[:]) == h.SHA256
	}
	if !same {
		return fmt.Errorf("%w: %q was accepted with other options or another attachment", ErrConflict, ref)
	}
	return nil
}

// decodeOptions reads a document's stored options (none when raw is
// empty).
func decodeOptions(raw string) (storedOptions, error) {
	var o storedOptions
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &o); err != nil {
			return o, fmt.Errorf("document options: %w", err)
		}
	}
	return o, nil
}

// repeat answers a document put again under a ref already taken.
func (e *Engine) repeat(existing *Document, sum string, size int64) (*Document, bool, error) {
	if existing.InputSHA256 != sum || existing.InputSize != size {
		return nil, false, fmt.Errorf("%w: %q", ErrConflict, existing.Ref)
	}
	return existing, false, nil
}

// shareLock keeps a batch's row from changing until the transaction ends
// while letting other documents' inserts read it too. SQLite's
// transaction already holds the database's write lock.
func (e *Engine) shareLock() string {
	if e.st.Backend() == store.Postgres {
		return " FOR SHARE"
	}
	return ""
}

// limitedReader fails a body over the limit rather than cutting it.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, ErrTooLarge
	}
	return n, err
}

// ErrTooLarge reports a document over Config.MaxUpload.
var ErrTooLarge = errors.New("batch: the document is over the upload limit")

func (e *Engine) document(ctx context.Context, id, ref string) (*Document, error) {
	return e.scanDocument(e.queryRow(ctx, "SELECT "+docColumns+" FROM batch_documents WHERE batch_id = ? AND ref = ?", id, ref))
}

// Document reports one document of a batch of client's.
func (e *Engine) Document(ctx context.Context, client *store.Client, id, ref string) (*Document, error) {
	if _, err := e.get(ctx, client.Name, id); err != nil {
		return nil, err
	}
	return e.document(ctx, id, ref)
}

// MaxPage bounds a page of Documents.
const MaxPage = 1000

// Documents lists a batch's documents in the order of their refs
// (bytewise), after the ref given, in the state given ("" for all), at
// most limit (default 100, at most MaxPage). next is the after of the
// next page, "" at the end.
func (e *Engine) Documents(ctx context.Context, client *store.Client, id, state, after string, limit int) (docs []*Document, next string, err error) {
	if _, err := e.get(ctx, client.Name, id); err != nil {
		return nil, "", err
	}
	switch state {
	case "", "pending", "signed", "failed", "cancelled":
	default:
		return nil, "", fmt.Errorf("%w: state %q (want pending, signed, failed or cancelled)", ErrInvalid, state)
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxPage)
	q := "SELECT " + docColumns + " FROM batch_documents WHERE batch_id = ? AND ref > ?"
	args := []any{id, after}
	if state != "" {
		q += " AND state = ?"
		args = append(args, state)
	}
	rows, err := e.query(ctx, q+" ORDER BY ref LIMIT ?", append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("list batch documents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := e.scanDocument(rows)
		if err != nil {
			return nil, "", err
		}
		docs = append(docs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list batch documents: %w", err)
	}
	if len(docs) > limit {
		docs = docs[:limit]
		next = docs[limit-1].Ref
	}
	return docs, next, nil
}

// Output is a signed document: its input followed by the update the
// signature appended, streamed from where they are kept.
type Output struct {
	Ref    string
	SHA256 string
	// DocumentID and VerifyURL name a registered document.
	DocumentID, VerifyURL string
	in                    blob.Object
	base                  int64
	update                []byte
}

// Size is the signed file's length.
func (o *Output) Size() int64 { return o.base + int64(len(o.update)) }

// ReadAt reads the signed file, for renewal to validate and extend.
func (o *Output) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("batch: negative offset")
	}
	n := 0
	if off < o.base {
		k := int(min(int64(len(p)), o.base-off))
		m, err := o.in.ReadAt(p[:k], off)
		n += m
		if err != nil && !(errors.Is(err, io.EOF) && m == k) {
			return n, err
		}
		p, off = p[k:], off+int64(k)
	}
	if len(p) == 0 {
		return n, nil
	}
	i := off - o.base
	if i >= int64(len(o.update)) {
		return n, io.EOF
	}
	m := copy(p, o.update[i:])
	n += m
	if m < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteTo streams the signed file.
func (o *Output) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, io.NewSectionReader(o.in, 0, o.base))
	if err != nil {
		return n, err
	}
	m, err := w.Write(o.update)
	return n + int64(m), err
}

// Close releases the input.
func (o *Output) Close() error { return o.in.Close() }

// Output opens a signed document of a batch of client's. A document not
// signed is a *NotSignedError.
func (e *Engine) Output(ctx context.Context, client *store.Client, id, ref string) (*Output, error) {
	if _, err := e.get(ctx, client.Name, id); err != nil {
		return nil, err
	}
	var state, key, sum, code, msg, docID string
	var size int64
	var status int
	var update, renewed []byte
	err := e.queryRow(ctx, `SELECT state, input_key, input_size, output_sha256, signed_update, renewed_update, error_status, error_code, error_message, document_id
		FROM batch_documents WHERE batch_id = ? AND ref = ?`, id, ref).Scan(&state, &key, &size, &sum, &update, &renewed, &status, &code, &msg, &docID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read batch document: %w", err)
	}
	if state != "signed" {
		return nil, &NotSignedError{State: state, Status: status, Code: code, Message: msg}
	}
	out, err := e.open(ctx, ref, key, size, sum, append(update, renewed...))
	if err != nil {
		return nil, err
	}
	out.DocumentID, out.VerifyURL = docID, e.verifyURL(docID)
	return out, nil
}

func (e *Engine) open(ctx context.Context, ref, key string, size int64, sum string, update []byte) (*Output, error) {
	in, err := e.cfg.Blobs.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("open document %s: %w", ref, err)
	}
	if in.Size() != size {
		in.Close()
		return nil, fmt.Errorf("document %s: stored input is %d bytes, want %d", ref, in.Size(), size)
	}
	return &Output{Ref: ref, SHA256: sum, in: in, base: size, update: update}, nil
}

// renewalState is a renewed document as the results archive holds it.
type renewalState struct {
	sum       string
	renewals  int
	renewedAt string
}

// zipPage is how many signed documents WriteResults reads at a time:
// their updates are held in memory together.
const zipPage = 32

// WriteResults streams a ZIP of every signed document of a batch of
// client's, as ref.pdf, and a manifest.json of every document with its
// state and digests. Nothing is built in memory: documents are read a
// page at a time and written as they come.
func (e *Engine) WriteResults(ctx context.Context, client *store.Client, id string, w io.Writer) error {
	st, err := e.Status(ctx, client, id)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	// A renewal may commit while the archive is written: the manifest
	// gives what the archive holds, not what came after.
	written := map[string]renewalState{}
	after := ""
	for {
		rows, err := e.query(ctx, `SELECT ref, input_key, input_size, output_sha256, signed_update, renewed_update, ended_at, renewals, renewed_at FROM batch_documents
			WHERE batch_id = ? AND state = 'signed' AND ref > ? ORDER BY ref LIMIT ?`, id, after, zipPage)
		if err != nil {
			return fmt.Errorf("list signed documents: %w", err)
		}
		type item struct {
			ref, key, sum, ended string
			size                 int64
			update               []byte
		}
		var page []item
		for rows.Next() {
			var it item
			var renewed []byte
			var rs renewalState
			if err := rows.Scan(&it.ref, &it.key, &it.size, &it.sum, &it.update, &renewed, &it.ended, &rs.renewals, &rs.renewedAt); err != nil {
				rows.Close()
				return fmt.Errorf("list signed documents: %w", err)
			}
			it.update = append(it.update, renewed...)
			if rs.renewals > 0 {
				rs.sum = it.sum
				written[it.ref] = rs
			}
			page = append(page, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list signed documents: %w", err)
		}
		for _, it := range page {
			out, err := e.open(ctx, it.ref, it.key, it.size, it.sum, it.update)
			if err != nil {
				return err
			}
			modified, _ := store.ParseTime(it.ended)
			// Stored, not deflated: a PDF's streams are compressed already,
			// and the archive is made while the client waits.
			fw, err := zw.CreateHeader(&zip.FileHeader{Name: it.ref + ".pdf", Method: zip.Store, Modified: modified})
			if err == nil {
				_, err = out.WriteTo(fw)
			}
			out.Close()
			if err != nil {
				return fmt.Errorf("write %s.pdf: %w", it.ref, err)
			}
		}
		if len(page) < zipPage {
			break
		}
		after = page[len(page)-1].ref
	}
	if err := e.writeManifest(ctx, zw, st, written); err != nil {
		return err
	}
	return zw.Close()
}

// writeManifest adds manifest.json: the batch's status and every
// document, written a page at a time.
func (e *Engine) writeManifest(ctx context.Context, zw *zip.Writer, st *Status, written map[string]renewalState) error {
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: "manifest.json", Method: zip.Deflate, Modified: e.cfg.Now()})
	if err != nil {
		return err
	}
	head, err := json.Marshal(st)
	if err != nil {
		return err
	}
	// {"batch": status, "documents": [ … ]}
	var buf bytes.Buffer
	buf.WriteString(`{"batch":`)
	buf.Write(head)
	buf.WriteString(`,"documents":[`)
	first := true
	after := ""
	for {
		rows, err := e.query(ctx, "SELECT "+docColumns+" FROM batch_documents WHERE batch_id = ? AND ref > ? ORDER BY ref LIMIT ?", st.ID, after, MaxPage)
		if err != nil {
			return fmt.Errorf("list batch documents: %w", err)
		}
		n := 0
		for rows.Next() {
			d, err := e.scanDocument(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if w, ok := written[d.Ref]; ok && w.sum != d.OutputSHA256 {
				d.OutputSHA256, d.Renewals, d.RenewedAt = w.sum, w.renewals, nil
				if t, err := store.ParseTime(w.renewedAt); err == nil {
					d.RenewedAt = &t
				}
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			b, err := json.Marshal(d)
			if err != nil {
				rows.Close()
				return err
			}
			buf.Write(b)
			after = d.Ref
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list batch documents: %w", err)
		}
		if _, err := fw.Write(buf.Bytes()); err != nil {
			return err
		}
		buf.Reset()
		if n < MaxPage {
			break
		}
	}
	_, err = fw.Write([]byte("]}\n"))
	return err
}
