// Package audit records every signing request in an append-only,
// hash-chained log kept in the service's database (package store).
//
// Each entry's hash is SHA-256 over a canonical encoding of its fields
// and the previous entry's hash, so editing, removing or reordering
// entries breaks the chain and Verify reports the first entry affected.
// The database also refuses UPDATE and DELETE on the log (triggers), so
// tampering needs deliberate schema changes or writing the file directly.
// A chain alone cannot show that an attacker rewrote every entry from
// some point on: record the head hash that Verify reports somewhere
// outside the database to detect that too.
//
// Appends are serialised through a one-row head table, locked in the
// appending transaction (SQLite's write lock; a row lock on PostgreSQL),
// so concurrent requests, and several servers sharing one PostgreSQL,
// extend one chain.
//
// A document signed as part of a batch gets its entry through AppendIf,
// in the same transaction as the caller's change of the document's
// state, so that the two commit or roll back together; its entry names
// the batch and the caller's reference of the document, which Count and
// List can filter on.
package audit

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"esign/store"
)

var (
	// ErrBroken reports a log whose chain does not verify; the error is a
	// *BrokenError naming the first bad entry.
	ErrBroken = errors.New("audit: log does not verify")
	// ErrInvalid reports an entry that cannot be recorded as given.
	ErrInvalid = errors.New("audit: invalid entry")
)

// Result is a signing request's outcome.
type Result string

const (
	Success Result = "success"
	Failure Result = "failure"
)

// Action is what an entry records besides signatures.
type Action string

// ActionRevoke records the revocation of an issued document (package
// registry): Document names it, Reason says why, Client is who revoked
// it.
const ActionRevoke Action = "revoke"

// The remote-signing (CSC API) actions. Reason carries what the entry is
// about, as "ALGO HEX": the hash signed (sign_hash), the hash
// timestamped (timestamp), or the hashes an authorisation pins
// (authorize; empty when it pins none).
const (
	ActionAuthorize Action = "authorize"
	ActionSignHash  Action = "sign_hash"
	ActionTimestamp Action = "timestamp"
)

// ActionRenew records the renewal of a stored document (package
// renewjob): validation data and a document timestamp appended to a
// batch's signed output. Batch and Ref name it, InputSHA256 and
// OutputSHA256 are the output's digests before and after, Document its
// registry ID when it has one (the registry entry itself is unchanged:
// it names the signed revision, which renewal keeps).
const ActionRenew Action = "renew"

// ActionExtend records an extension (POST /api/v1/extend): validation
// data and document timestamps added to a client's file, which signs
// nothing with a credential. InputSHA256 and OutputSHA256 are the file's
// digests before and after.
const ActionExtend Action = "extend"

// Metadata is the e-Saraban metadata sent with a signing request.
type Metadata struct {
	Number  string // ที่: the document number, e.g. "ศธ 0201/1234"
	Date    string // the document's date as the e-Saraban system gives it
	Subject string // เรื่อง
	Urgency string // ชั้นความเร็ว, e.g. ด่วนที่สุด
	Secrecy string // ชั้นความลับ, e.g. ลับ
}

// Field size limits, in bytes.
const (
	MaxMetadataLen = 1024 // each Metadata field
	MaxBatchLen    = 256  // Entry.Batch
	MaxRefLen      = 128  // Entry.Ref
	MaxDocumentLen = 64   // Entry.Document
	MaxReasonLen   = 1024 // Entry.Reason
	maxNameLen     = 256  // client, credential, request ID, level
	maxCodeLen     = 64   // error code
)

// Validate checks the metadata can be recorded: each field valid UTF-8
// without NUL bytes (PostgreSQL text refuses them) and at most
// MaxMetadataLen bytes. Call it while parsing a request, to answer 400
// rather than fail at audit time.
func (m Metadata) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"number", m.Number}, {"date", m.Date}, {"subject", m.Subject}, {"urgency", m.Urgency}, {"secrecy", m.Secrecy},
	} {
		if err := checkText(f.name, f.v, MaxMetadataLen); err != nil {
			return err
		}
	}
	return nil
}

func checkText(name, v string, limit int) error {
	if len(v) > limit {
		return fmt.Errorf("%w: %s is over %d bytes", ErrInvalid, name, limit)
	}
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return fmt.Errorf("%w: %s is not valid UTF-8 text", ErrInvalid, name)
	}
	return nil
}

// Entry is one signing request.
type Entry struct {
	// Seq numbers entries from 1 without gaps; set by Append.
	Seq int64
	// Time is when the entry was appended (UTC, microseconds); set by
	// Append.
	Time time.Time
	// RequestID ties the entry to the request's log lines; optional.
	RequestID  string
	Client     string
	Credential string
	// InputSHA256 and OutputSHA256 are the SHA-256 digests of the PDF
	// received and returned; empty when there was none (a failure).
	InputSHA256  []byte
	OutputSHA256 []byte
	// Level is the PAdES level asked for, e.g. "B-LT".
	Level    string
	Metadata Metadata
	Result   Result
	// ErrorCode is the API error code of a failure, e.g.
	// "activation_failed"; empty on success.
	ErrorCode string
	// Batch is the ID of the batch the document was signed in; empty for
	// a single signing request.
	Batch string
	// Ref is the caller's reference of the document within its batch
	// ([A-Za-z0-9._-]{1,128} as the batch API takes it); empty outside a
	// batch. It needs Batch.
	Ref string
	// Action is what the entry records: "" for a signature, ActionRevoke
	// for the revocation of an issued document.
	Action Action
	// Document is the issuer registry's ID of the document signed (when
	// it was registered) or revoked.
	Document string
	// Reason is why a document was revoked.
	Reason string
	// PrevHash and Hash are hex SHA-256; set by Append.
	PrevHash string
	Hash     string
}

func (e *Entry) validate() error {
	if e.Result != Success && e.Result != Failure {
		return fmt.Errorf("%w: result %q (want success or failure)", ErrInvalid, e.Result)
	}
	for _, d := range []struct {
		name string
		v    []byte
	}{{"input digest", e.InputSHA256}, {"output digest", e.OutputSHA256}} {
		if len(d.v) != 0 && len(d.v) != sha256.Size {
			return fmt.Errorf("%w: %s is %d bytes, want %d", ErrInvalid, d.name, len(d.v), sha256.Size)
		}
	}
	for _, f := range []struct {
		name, v string
		limit   int
	}{
		{"request ID", e.RequestID, maxNameLen}, {"client", e.Client, maxNameLen}, {"credential", e.Credential, maxNameLen},
		{"level", e.Level, maxNameLen}, {"error code", e.ErrorCode, maxCodeLen},
		{"batch", e.Batch, MaxBatchLen}, {"ref", e.Ref, MaxRefLen},
		{"document", e.Document, MaxDocumentLen}, {"reason", e.Reason, MaxReasonLen},
	} {
		if err := checkText(f.name, f.v, f.limit); err != nil {
			return err
		}
	}
	// A reference means something only within its batch, and Count's
	// "one entry per (batch, ref)" needs both.
	if e.Ref != "" && e.Batch == "" {
		return fmt.Errorf("%w: ref %q without a batch", ErrInvalid, e.Ref)
	}
	switch e.Action {
	case "":
		if e.Reason != "" {
			return fmt.Errorf("%w: a reason belongs to a revocation", ErrInvalid)
		}
	case ActionRevoke:
		if e.Document == "" {
			return fmt.Errorf("%w: a revocation names no document", ErrInvalid)
		}
	case ActionRenew:
		if e.Batch == "" || e.Reason != "" {
			return fmt.Errorf("%w: a renewal names a batch document and gives no reason", ErrInvalid)
		}
	case ActionExtend, ActionAuthorize, ActionSignHash, ActionTimestamp:
	default:
		return fmt.Errorf("%w: action %q (want none, %s, %s, %s, %s, %s or %s)", ErrInvalid, e.Action,
			ActionRevoke, ActionRenew, ActionExtend, ActionAuthorize, ActionSignHash, ActionTimestamp)
	}
	return e.Metadata.Validate()
}

// genesis is the previous hash of the first entry.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// The version strings start every encoded entry, so that one encoding
// cannot be confused with another.
const (
	hashV1 = "esign audit entry v1"
	hashV2 = "esign audit entry v2"
	hashV3 = "esign audit entry v3"
)

// ComputeHash returns the hex SHA-256 of e's canonical encoding: the
// version string, then each field as a 4-byte big-endian length and its
// bytes. Length prefixes make the encoding unambiguous whatever the
// fields contain.
//
// An entry outside a batch (Batch and Ref both empty) is encoded as v1,
// as every entry was before batches existed: "esign audit entry v1",
// then seq (decimal), time (2006-01-02T15:04:05.000000Z), request ID,
// client, credential, input and output digests (lowercase hex), level,
// the five metadata fields (number, date, subject, urgency, secrecy),
// result, error code, previous hash.
//
// An entry with Batch or Ref set is encoded as v2: "esign audit entry
// v2", the v1 fields in the same order, then batch and ref (after the
// previous hash). Which version applies follows from the entry itself,
// so a log may mix both, and clearing or setting an entry's batch
// changes its hash like any other edit.
//
// An entry with Action, Document or Reason set (a registered signature,
// a revocation) is encoded as v3: "esign audit entry v3", the v2 fields
// in the same order, then action, document and reason. v1 and v2 entries
// keep their encodings, so logs written before v3 verify unchanged.
func ComputeHash(e *Entry) string {
	r := recordOf(e)
	return r.hash()
}

// record is an entry as stored: every field as text, in v3 hashing
// order.
type record [22]string

// Indexes into record.
const (
	rSeq = iota
	rTime
	rRequestID
	rClient
	rCredential
	rInput
	rOutput
	rLevel
	rNumber
	rDate
	rSubject
	rUrgency
	rSecrecy
	rResult
	rErrorCode
	rPrevHash
	rBatch    // v2 and v3
	rRef      // v2 and v3
	rAction   // v3 only
	rDocument // v3 only
	rReason   // v3 only
	rHash     // not hashed
)

func recordOf(e *Entry) record {
	return record{
		strconv.FormatInt(e.Seq, 10), store.FormatTime(e.Time), e.RequestID, e.Client, e.Credential,
		hex.EncodeToString(e.InputSHA256), hex.EncodeToString(e.OutputSHA256), e.Level,
		e.Metadata.Number, e.Metadata.Date, e.Metadata.Subject, e.Metadata.Urgency, e.Metadata.Secrecy,
		string(e.Result), e.ErrorCode, e.PrevHash, e.Batch, e.Ref,
		string(e.Action), e.Document, e.Reason, e.Hash,
	}
}

func (r *record) hash() string {
	h := sha256.New()
	var n [4]byte
	put := func(s string) {
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	// v1 entries must hash as they always have: existing logs verify.
	version, fields := hashV1, r[:rBatch]
	switch {
	case r[rAction] != "" || r[rDocument] != "" || r[rReason] != "":
		version, fields = hashV3, r[:rHash]
	case r[rBatch] != "" || r[rRef] != "":
		version, fields = hashV2, r[:rAction]
	}
	put(version)
	for _, f := range fields {
		put(f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// entry parses a stored record.
func (r *record) entry() (Entry, error) {
	e := Entry{
		RequestID: r[rRequestID], Client: r[rClient], Credential: r[rCredential], Level: r[rLevel],
		Metadata: Metadata{Number: r[rNumber], Date: r[rDate], Subject: r[rSubject], Urgency: r[rUrgency], Secrecy: r[rSecrecy]},
		Result:   Result(r[rResult]), ErrorCode: r[rErrorCode], Batch: r[rBatch], Ref: r[rRef],
		Action: Action(r[rAction]), Document: r[rDocument], Reason: r[rReason],
		PrevHash: r[rPrevHash], Hash: r[rHash],
	}
	var err error
	if e.Seq, err = strconv.ParseInt(r[rSeq], 10, 64); err != nil {
		return e, fmt.Errorf("entry sequence %q: %w", r[rSeq], err)
	}
	if e.Time, err = store.ParseTime(r[rTime]); err != nil {
		return e, fmt.Errorf("entry %d: %w", e.Seq, err)
	}
	if e.InputSHA256, err = hex.DecodeString(r[rInput]); err != nil {
		return e, fmt.Errorf("entry %d: input digest: %w", e.Seq, err)
	}
	if e.OutputSHA256, err = hex.DecodeString(r[rOutput]); err != nil {
		return e, fmt.Errorf("entry %d: output digest: %w", e.Seq, err)
	}
	return e, nil
}

//go:embed migrations
var migrationFiles embed.FS

// Options configures a Log. The zero value is ready to use.
type Options struct {
	// Now is the clock that stamps entries. Default time.Now.
	Now func() time.Time
}

// Log is the audit log in a store's database. It is safe for concurrent
// use.
type Log struct {
	st  *store.Store
	now func() time.Time

	mu      sync.Mutex
	queue   []*pending // appends waiting for a writer
	writing bool       // a caller is draining queue
}

// Open adds the log's tables to the store's database if needed.
func Open(ctx context.Context, st *store.Store, opts Options) (*Log, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx, "audit", sub); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Log{st: st, now: opts.Now}, nil
}

// columns are audit_log's columns in record order.
const columns = `seq, at, request_id, client, credential, input_sha256, output_sha256, level,
	doc_number, doc_date, subject, urgency, secrecy, result, error_code, prev_hash, batch, ref,
	action, document_id, reason, hash`

// Append records e and returns it as stored, with Seq, Time, PrevHash
// and Hash set. It returns once the entry is committed.
//
// Concurrent appends are committed in groups: while one caller writes,
// others queue, and the first of them then commits everything queued in
// one transaction. A signing server thus pays one commit (one fsync) for
// many requests instead of one each, without giving up durability.
//
// Cancelling ctx does not stop the append (each commit is bounded by a
// 30 s timeout instead): a request that ends early must still be
// recorded.
func (l *Log) Append(ctx context.Context, e Entry) (Entry, error) {
	e, _, err := l.AppendIf(ctx, e, nil)
	return e, err
}

// AppendIf records e as Append does, if cond allows it. cond runs in the
// transaction that appends e, just before e is inserted, so that what it
// writes through tx (a batch document's new state) and e commit
// together or not at all. A nil cond always allows.
//
//   - cond returns true: e is appended; AppendIf returns it as stored,
//     and true.
//   - cond returns false: e is not appended and AppendIf returns
//     (Entry{}, false, nil). The transaction goes on for the other
//     entries of the group, and commits what cond wrote, if anything.
//   - cond returns an error: the transaction is rolled back, the other
//     entries of the group are retried each in a transaction of its own,
//     and AppendIf returns the error, wrapped.
//
// AppendIf goes through Append's group commit: concurrent calls share a
// transaction and its commit. It follows that cond
//
//   - runs on whichever caller's goroutine writes the group, with a
//     context that has ctx's values but the group commit's deadline, not
//     ctx's cancellation (as for Append, a cancelled ctx does not stop
//     the append);
//   - must use tx alone: Append, AppendIf or a Store method that writes
//     would wait for the transaction cond runs in, for ever;
//   - may run more than once, as a failed group is retried entry by
//     entry; a run in a transaction rolled back leaves nothing behind;
//   - holds up the whole group while it runs: keep it to a few
//     statements.
//
// A panic in cond is raised again in AppendIf's caller.
func (l *Log) AppendIf(ctx context.Context, e Entry, cond func(ctx context.Context, tx *store.Tx) (bool, error)) (Entry, bool, error) {
	if err := e.validate(); err != nil {
		return Entry{}, false, err
	}
	p := &pending{e: e, cond: cond, done: make(chan signal, 1)}
	if cond != nil {
		p.values = context.WithoutCancel(ctx)
	}
	l.mu.Lock()
	l.queue = append(l.queue, p)
	lead := !l.writing
	l.writing = true
	l.mu.Unlock()
	if lead {
		l.writeBatch(ctx)
	}
	// The wait is bounded by the writers' transaction timeout, so it does
	// not watch ctx: once queued, the entry may be committed whatever
	// happens to this request, and its caller must learn the outcome.
	for {
		sig := <-p.done
		if sig.lead {
			l.writeBatch(ctx)
			continue
		}
		if sig.err != nil {
			var cp *condPanic
			if errors.As(sig.err, &cp) {
				panic(cp)
			}
			return Entry{}, false, fmt.Errorf("append audit entry: %w", sig.err)
		}
		if !p.appended {
			return Entry{}, false, nil
		}
		return p.e, true, nil
	}
}

// AppendAll records es as Append does, queued together so that they
// commit in as few group commits as their number allows (maxBatch
// each): a remote signature of 100 hashes costs one commit, not 100. It
// returns once every entry is committed; on an error, entries before
// the failed one may be committed.
func (l *Log) AppendAll(ctx context.Context, es []Entry) ([]Entry, error) {
	ps := make([]*pending, len(es))
	for i, e := range es {
		if err := e.validate(); err != nil {
			return nil, err
		}
		ps[i] = &pending{e: e, done: make(chan signal, 1)}
	}
	if len(ps) == 0 {
		return nil, nil
	}
	l.mu.Lock()
	l.queue = append(l.queue, ps...)
	lead := !l.writing
	l.writing = true
	l.mu.Unlock()
	if lead {
		l.writeBatch(ctx)
	}
	// The entries are queued together, so the writer's role, when it
	// comes to one of them, comes to the first not yet written: waiting
	// in order sees it.
	out := make([]Entry, len(ps))
	var first error
	for i, p := range ps {
		for {
			sig := <-p.done
			if sig.lead {
				l.writeBatch(ctx)
				continue
			}
			if sig.err != nil && first == nil {
				first = fmt.Errorf("append audit entry: %w", sig.err)
			}
			break
		}
		out[i] = p.e
	}
	if first != nil {
		return nil, first
	}
	return out, nil
}

// pending is a queued append.
type pending struct {
	e    Entry
	cond func(context.Context, *store.Tx) (bool, error)
	// values is the caller's context without its cancellation, for the
	// values cond may look up.
	values context.Context
	done   chan signal
	// appended is set with e once a write committed the entry; left
	// false when cond declined it.
	appended bool
}

// signal tells a queued caller its entry's outcome, or that it is to
// write the next batch (which starts with its own entry).
type signal struct {
	lead bool
	err  error
}

// maxBatch bounds the entries committed in one transaction.
const maxBatch = 256

// writeTimeout bounds one group commit on PostgreSQL. On SQLite the store
// runs statements without cancellation, and the wait for the write lock
// is bounded by its busy timeout (also 30 s) instead.
const writeTimeout = 30 * time.Second

// writeBatch commits the entries at the head of the queue, tells their
// callers, and hands the writer's role to the next caller queued, if
// any. Only the caller holding the role calls it, so batches are
// written in queue order.
func (l *Log) writeBatch(ctx context.Context) {
	// The batch carries other callers' entries: the leader's request
	// ending must not abort it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	l.mu.Lock()
	n := min(len(l.queue), maxBatch)
	batch := l.queue[:n:n]
	l.queue = l.queue[n:]
	l.mu.Unlock()

	err := l.write(ctx, batch)
	if err != nil && len(batch) > 1 {
		// Let each entry succeed or fail on its own.
		for _, p := range batch {
			p.done <- signal{err: l.write(ctx, []*pending{p})}
		}
	} else {
		for _, p := range batch {
			p.done <- signal{err: err}
		}
	}

	l.mu.Lock()
	if len(l.queue) == 0 {
		l.writing = false
		l.queue = nil
	} else {
		l.queue[0].done <- signal{lead: true}
	}
	l.mu.Unlock()
}

// write commits batch in one transaction, running each entry's condition
// and setting the Seq, Time, PrevHash and Hash of those appended. On
// error nothing is committed and the entries are left for a retry.
func (l *Log) write(ctx context.Context, batch []*pending) error {
	out := make([]Entry, len(batch))
	added := make([]bool, len(batch))
	err := l.st.WithTx(ctx, func(tx *store.Tx) error {
		var head, seq int64
		var prev string
		// Locking the head serialises appenders, in this process and in
		// others sharing the database; each sees the last entry.
		if err := tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1"+l.st.ForUpdate()).Scan(&head, &prev); err != nil {
			return fmt.Errorf("read audit head: %w", err)
		}
		seq = head
		now := l.now().UTC().Truncate(time.Microsecond)
		for i, p := range batch {
			if p.cond != nil {
				ok, err := p.runCond(ctx, tx)
				if err != nil {
					return fmt.Errorf("condition of audit entry: %w", err)
				}
				if !ok {
					continue
				}
			}
			e := p.e
			e.Seq, e.PrevHash, e.Time = seq+1, prev, now
			e.Hash = ComputeHash(&e)
			if _, err := tx.ExecContext(ctx, "INSERT INTO audit_log ("+columns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				e.Seq, store.FormatTime(e.Time), e.RequestID, e.Client, e.Credential,
				hex.EncodeToString(e.InputSHA256), hex.EncodeToString(e.OutputSHA256), e.Level,
				e.Metadata.Number, e.Metadata.Date, e.Metadata.Subject, e.Metadata.Urgency, e.Metadata.Secrecy,
				string(e.Result), e.ErrorCode, e.PrevHash, e.Batch, e.Ref,
				string(e.Action), e.Document, e.Reason, e.Hash); err != nil {
				return fmt.Errorf("insert audit entry %d: %w", e.Seq, err)
			}
			out[i], added[i] = e, true
			seq, prev = e.Seq, e.Hash
		}
		if seq == head {
			return nil // every condition declined
		}
		if _, err := tx.ExecContext(ctx, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", seq, prev); err != nil {
			return fmt.Errorf("advance audit head: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, p := range batch {
		p.e, p.appended = out[i], added[i]
	}
	return nil
}

// runCond runs p's condition in tx. A panic comes back as a *condPanic,
// for AppendIf to raise again in p's caller: left to unwind here, it
// would surface in whichever caller is writing the group, and leave the
// writer's role taken for ever.
func (p *pending) runCond(ctx context.Context, tx *store.Tx) (ok bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &condPanic{value: v, stack: debug.Stack()}
		}
	}()
	return p.cond(condContext{Context: ctx, values: p.values}, tx)
}

// condPanic is a panic in an AppendIf condition, with the stack where it
// happened.
type condPanic struct {
	value any
	stack []byte
}

func (c *condPanic) Error() string {
	return fmt.Sprintf("audit: AppendIf condition panicked: %v\n\n%s", c.value, c.stack)
}

// condContext is what a condition runs with: the group commit's
// deadline and cancellation, which bound the transaction, and the values
// of its own caller's context.
type condContext struct {
	context.Context
	values context.Context
}

func (c condContext) Value(key any) any { return c.values.Value(key) }

// scanRecord reads one row of columns. The sequence number is read as
// an integer (so that ORDER BY and the gap check agree) and kept as
// text.
func scanRecord(sc interface{ Scan(...any) error }) (int64, record, error) {
	var r record
	var seq int64
	dst := []any{&seq}
	for i := rTime; i <= rHash; i++ {
		dst = append(dst, &r[i])
	}
	if err := sc.Scan(dst...); err != nil {
		return 0, r, err
	}
	r[rSeq] = strconv.FormatInt(seq, 10)
	return seq, r, nil
}

// Entries returns up to limit entries with sequence numbers above after,
// in order.
func (l *Log) Entries(ctx context.Context, after int64, limit int) ([]Entry, error) {
	return l.List(ctx, Filter{After: after}, limit)
}

// Filter selects entries for List and Count. The zero Filter selects
// every entry; each field set narrows the selection.
type Filter struct {
	// After selects the entries with sequence numbers above it.
	After int64
	// Batch selects one batch's entries.
	Batch string
	// Ref selects the entries of one document reference; with Batch, of
	// one document of a batch.
	Ref string
	// Result selects successes or failures.
	Result Result
	// Document selects the entries of one registered document: its
	// signature and its revocation.
	Document string
}

// where returns f as a WHERE clause (empty if f selects everything) and
// its arguments.
func (f Filter) where() (string, []any, error) {
	if f.Result != "" && f.Result != Success && f.Result != Failure {
		return "", nil, fmt.Errorf("%w: result filter %q (want success or failure)", ErrInvalid, f.Result)
	}
	if err := checkText("batch filter", f.Batch, MaxBatchLen); err != nil {
		return "", nil, err
	}
	if err := checkText("ref filter", f.Ref, MaxRefLen); err != nil {
		return "", nil, err
	}
	if err := checkText("document filter", f.Document, MaxDocumentLen); err != nil {
		return "", nil, err
	}
	var conds []string
	var args []any
	// Only when asked: the batch index does not hold seq, and on a count
	// the condition would send each match to the table.
	if f.After > 0 {
		conds, args = append(conds, "seq > ?"), append(args, f.After)
	}
	if f.Batch != "" {
		// batch <> '' repeats the batch index's own condition: without
		// it the planner cannot tell that the index covers a parameter.
		conds, args = append(conds, "batch = ?", "batch <> ''"), append(args, f.Batch)
	}
	if f.Result != "" {
		conds, args = append(conds, "result = ?"), append(args, string(f.Result))
	}
	if f.Ref != "" {
		conds, args = append(conds, "ref = ?"), append(args, f.Ref)
	}
	if f.Document != "" {
		conds, args = append(conds, "document_id = ?", "document_id <> ''"), append(args, f.Document)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// List returns up to limit entries that f selects (100 if limit <= 0),
// in sequence order.
func (l *Log) List(ctx context.Context, f Filter, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = 100
	}
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	rows, err := l.st.DB().QueryContext(ctx, l.st.Rebind("SELECT "+columns+" FROM audit_log"+where+" ORDER BY seq LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		_, r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e, err := r.entry()
		if err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// Count returns how many entries f selects. With Batch set (and After
// not) it reads the batch index alone: Count(Filter{Batch: b, Result:
// Success}) is how many of a batch's documents were signed (plus their
// renewals, ActionRenew, when the service renews what it keeps), and
// with Ref too, how many times one of them was. Without Batch it reads the whole
// log. Entries are counted as stored; Verify is what checks them.
func (l *Log) Count(ctx context.Context, f Filter) (int64, error) {
	where, args, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int64
	if err := l.st.DB().QueryRowContext(ctx, l.st.Rebind("SELECT COUNT(*) FROM audit_log"+where), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count audit entries: %w", err)
	}
	return n, nil
}

// BrokenError names the first entry at which the chain fails.
type BrokenError struct {
	Seq    int64
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrBroken) hold.
func (e *BrokenError) Is(target error) bool { return target == ErrBroken }

// Report is what a successful Verify saw.
type Report struct {
	// Entries is how many entries verified.
	Entries int64
	// Head is the hash of the last entry (all zeros for an empty log).
	// Recorded elsewhere, it lets a later Verify detect a rewrite of the
	// whole tail.
	Head string
}

// Verify walks the log in sequence order and recomputes the chain. It
// returns a *BrokenError (errors.Is ErrBroken) naming the first entry
// that was edited, removed or moved, and other errors for failures to
// read. Entries appended while it runs are left for the next Verify.
func (l *Log) Verify(ctx context.Context) (Report, error) {
	// The head is read first: entries only ever come after it, so every
	// entry it counts must be found below.
	var headSeq int64
	var headHash string
	err := l.st.DB().QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&headSeq, &headHash)
	if err != nil {
		return Report{}, fmt.Errorf("read audit head: %w", err)
	}
	rows, err := l.st.DB().QueryContext(ctx, l.st.Rebind("SELECT "+columns+" FROM audit_log WHERE seq <= ? ORDER BY seq"), headSeq)
	if err != nil {
		return Report{}, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	want, prev := int64(1), genesis
	for rows.Next() {
		seq, r, err := scanRecord(rows)
		if err != nil {
			return Report{}, fmt.Errorf("read audit entry after %d: %w", want-1, err)
		}
		switch {
		case seq != want:
			return Report{}, &BrokenError{Seq: want, Reason: fmt.Sprintf("entry is missing (the next one present is %d)", seq)}
		case r[rPrevHash] != prev:
			return Report{}, &BrokenError{Seq: seq, Reason: "entry does not follow the one before it (previous hash differs)"}
		case r.hash() != r[rHash]:
			return Report{}, &BrokenError{Seq: seq, Reason: "entry content does not match its hash"}
		}
		prev = r[rHash]
		want++
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("read audit log: %w", err)
	}
	last := want - 1
	if last != headSeq {
		return Report{}, &BrokenError{Seq: want, Reason: fmt.Sprintf("entry is missing (the log's head records %d entries)", headSeq)}
	}
	if prev != headHash {
		// Every entry verifies but the head disagrees: entries after the
		// last were removed and the head partly rewound, or the head
		// itself was altered.
		return Report{}, &BrokenError{Seq: last + 1, Reason: fmt.Sprintf("the log's head does not match entry %d: later entries were removed, or the head was altered", last)}
	}
	return Report{Entries: last, Head: prev}, nil
}
