// Package batch signs whole batches of documents — a graduation round of
// transcripts — durably, on a River job queue in the service's database.
//
// A batch holds one credential and one set of /sign options. Each
// document put into it is stored in the blob store and gets a row and a
// queue job, committed together; any replica sharing the database may
// work the job. A worker signs the document, then commits in one
// transaction the signed bytes, the document's new state and its audit
// entry, on the condition that the document is still pending. A worker
// killed after the HSM call but before that commit leaves nothing behind
// but the HSM operation: the job is worked again, and exactly one result
// is ever stored, returned and audited.
//
// The engine keeps no state of its own that another replica would need:
// documents are in the blob store, everything else in the database.
package batch

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"runtime"
	"time"

	"esign/activation"
	"esign/audit"
	"esign/blob"
	"esign/registry"
	"esign/signer"
	"esign/signopts"
	"esign/store"
)

var (
	// ErrNotFound reports a batch or document that does not exist, or
	// belongs to another client (who is not told which).
	ErrNotFound = errors.New("batch: not found")
	// ErrConflict reports a document reference already used for other
	// bytes.
	ErrConflict = errors.New("batch: the reference already holds another document")
	// ErrClosed reports a document put into a closed or cancelled batch.
	ErrClosed = errors.New("batch: the batch takes no more documents")
	// ErrInvalid reports a malformed batch or document request.
	ErrInvalid = errors.New("batch: invalid request")
	// ErrActivationExpired reports a document whose batch's activation
	// has run out (Config.ActivationTTL) before it could be signed. It is
	// an activation.ErrActivationFailed, as /sign without activation is.
	ErrActivationExpired = fmt.Errorf("%w: the batch's activation has expired; create a new batch for the rest", activation.ErrActivationFailed)
	// ErrActivationUnsupported reports a batch whose credential needs
	// the signer's activation data at every signature (a remote SCAL 2
	// credential): a batch keeps none, so none of its documents could be
	// signed. It is refused when created.
	ErrActivationUnsupported = errors.New("batch: the credential needs the signer's PIN or code at every signature, which a batch does not keep; sign each document with POST /api/v1/sign and its activation, or use a remote credential of SCAL 1 (without activation) in a batch")
)

// NotSignedError reports a document whose signed file is asked for but
// that is not signed: still pending, cancelled, or failed (with its
// error).
type NotSignedError struct {
	State   string
	Status  int    // of a failed document: the HTTP status of its error
	Code    string // of a failed document
	Message string
}

func (e *NotSignedError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("batch: the document failed: %s: %s", e.Code, e.Message)
	}
	return "batch: the document is " + e.State + ", not signed"
}

// Keys resolves a stored credential to its HSM key and chain.
type Keys interface {
	Resolve(ctx context.Context, c *store.Credential) (signer.Credential, error)
}

// EachSignatureActivation is implemented by Keys whose credentials may
// need the signer's activation data at every signature, as a remote CSC
// credential of SCAL 2 does (cscclient.Keys). Create refuses a batch of
// such a credential with ErrActivationUnsupported.
type EachSignatureActivation interface {
	ActivatesEachSignature(ctx context.Context, c *store.Credential) (bool, error)
}

// Config configures an Engine. Store, Blobs, Audit, Signer, Keys and
// Classify are required; the rest have defaults.
type Config struct {
	Store  *store.Store
	Blobs  blob.Store
	Audit  *audit.Log
	Signer *signer.Signer
	Keys   Keys
	// Activator checks activation data when a batch is created.
	Activator *activation.Activator
	// Appearance draws visible signatures; nil refuses placements.
	Appearance signopts.AppearanceFunc
	// Registry records the documents signed with qr or register, in the
	// transaction that stores them; nil refuses such documents.
	Registry *registry.Registry
	// PublicVerifyURL is the public verifier's base address: a registered
	// document's QR code and verify_url lead to {PublicVerifyURL}/d/{id}.
	PublicVerifyURL string
	// Classify maps a signing error to the HTTP status and code /sign
	// would answer (api.StatusOf): 4xx fails the document with that code,
	// anything else is retried.
	Classify func(error) (int, string)
	// Workers is how many documents this replica signs at once; 0 takes
	// documents in but signs none (an upload-only replica). Default
	// (negative) 2 × CPUs.
	Workers int
	// ActivationTTL is how long a batch's activation lasts. Default 8h.
	ActivationTTL time.Duration
	// MaxAttempts bounds the tries of a document whose signing fails
	// for a reason that may pass (TSA, OCSP responder, HSM, database);
	// the last failure then fails it. Default 300: with retries spaced up
	// to a minute apart, about five hours of outage.
	MaxAttempts int
	// MaxUpload caps one document. Default 50 MB.
	MaxUpload int64
	// ReplicaDeadAfter is how long a replica may go without a heartbeat
	// before its running documents are handed to others. Default 15s.
	ReplicaDeadAfter time.Duration
	// Periodic is work the queue runs on a schedule (renewal of the kept
	// documents, package renewjob). Only replicas with Workers run it.
	Periodic []Periodic
	Logger   *slog.Logger // default: discard
	Now      func() time.Time
}

func (c *Config) defaults() error {
	if c.Store == nil || c.Blobs == nil || c.Audit == nil || c.Signer == nil || c.Keys == nil || c.Classify == nil {
		return errors.New("batch: Store, Blobs, Audit, Signer, Keys and Classify are required")
	}
	if c.Workers < 0 {
		c.Workers = 2 * runtime.NumCPU()
	}
	if c.ActivationTTL <= 0 {
		c.ActivationTTL = 8 * time.Hour
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 300
	}
	if c.MaxUpload <= 0 {
		c.MaxUpload = 50 << 20
	}
	if c.ReplicaDeadAfter <= 0 {
		c.ReplicaDeadAfter = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

//go:embed migrations
var migrationFiles embed.FS

// Engine runs batches. It is safe for concurrent use.
type Engine struct {
	cfg     Config
	st      *store.Store
	queue   *queue
	metrics *engineMetrics
	// inProgress holds one place per document from its first read to its
	// commit, so that the jobs in hand do not each take a database
	// connection; signing holds one per signature. More documents are in
	// progress than signed at once: while some wait for their group
	// commit, others sign. On SQLite a group commit costs about the
	// same for 7 documents as for 25, so more in progress means larger
	// groups (BenchmarkBatch B-B P-256: 1,540 documents a second with 4
	// per signing slot, 2,122 with 16); on PostgreSQL each may hold a
	// connection, and 4 per slot keeps replicas within its limit.
	inProgress chan struct{}
	signing    chan struct{}
}

// Open adds the batch tables and the job queue's to the database and
// makes the engine; Start begins working the queue.
func Open(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	if err := cfg.Store.Migrate(ctx, "batch", sub); err != nil {
		return nil, err
	}
	perSlot := 4
	if cfg.Store.Backend() == store.SQLite {
		perSlot = 16
	}
	e := &Engine{cfg: cfg, st: cfg.Store, inProgress: make(chan struct{}, perSlot*max(cfg.Workers, 1)), signing: make(chan struct{}, max(cfg.Workers, 1))}
	e.metrics = newEngineMetrics()
	if e.queue, err = openQueue(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// Start begins working the queue and the replica's heartbeat; they stop
// when ctx ends or at Stop.
func (e *Engine) Start(ctx context.Context) error { return e.queue.start(ctx) }

// Stop finishes the documents being signed, for up to ctx's deadline,
// then stops.
func (e *Engine) Stop(ctx context.Context) error { return e.queue.stop(ctx) }

// Close releases the queue's database pool. Call Stop first.
func (e *Engine) Close() error { return e.queue.close() }

// Workers is how many documents this replica signs at once.
func (e *Engine) Workers() int { return e.cfg.Workers }

// ReplicaID names this replica in the queue (River's client ID).
func (e *Engine) ReplicaID() string { return e.queue.id }

// refPattern is what a document reference may be: a student ID or a file
// name, safe in a URL path, a ZIP entry and a blob key.
var refPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ValidRef reports whether ref may name a document.
func ValidRef(ref string) error {
	if !refPattern.MatchString(ref) || ref == "." || ref == ".." {
		return fmt.Errorf("%w: document reference %q (want 1 to 128 of A-Z a-z 0-9 . _ -)", ErrInvalid, ref)
	}
	return nil
}

// newID makes a batch ID: 128 random bits in hex, so IDs are not guessed.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// nullString reads a nullable text column as "".
func nullString(ns sql.NullString) string { return ns.String }
