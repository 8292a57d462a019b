// Package registry is the issuer's record of the documents it issued: an
// ID that a QR code or a link can carry, who issued each and when, the
// SHA-256 of the revision its signature covers, and its status, valid or
// revoked with a time and reason.
//
// The signing service writes it; the public verifier opens the same
// database read-only and only looks documents up, by ID or by the digest
// of a signature's covered revision.
package registry

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"

	"esign/store"
)

var (
	// ErrNotFound reports an ID the registry does not hold, or holds for
	// another client.
	ErrNotFound = errors.New("registry: no such document")
	// ErrInvalid reports a field that cannot be recorded as given.
	ErrInvalid = errors.New("registry: invalid document")
	// ErrRevoked reports a revocation of a document revoked already.
	ErrRevoked = errors.New("registry: the document is revoked already")
)

// Status is a document's standing with its issuer.
type Status string

const (
	Valid   Status = "valid"
	Revoked Status = "revoked"
)

// Limits on the issuer's text, in bytes.
const (
	MaxLabel  = 256
	MaxIssuer = 512
	MaxReason = 1024
)

// Document is one issued document.
type Document struct {
	ID         string
	Client     string // the API client that issued it
	Credential string // the credential that signed it
	// Issuer is who the public sees as the issuer: the signing
	// certificate's organisation or common name, such as the university.
	Issuer   string
	IssuedAt time.Time
	// RevisionSHA256 is the SHA-256 of the revision the signature covers,
	// which stays the same when DSS and timestamp revisions follow.
	RevisionSHA256 []byte
	Label          string // the issuer's own reference, such as a student ID
	Batch, Ref     string // the batch and document reference; empty outside a batch
	Status         Status
	RevokedAt      time.Time // zero unless revoked
	Reason         string    // why it was revoked
}

//go:embed migrations
var migrationFiles embed.FS

func migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // embedded at build time
	}
	return sub
}

// Registry is the registry in a store's database. It is safe for
// concurrent use.
type Registry struct {
	st  *store.Store
	now func() time.Time
}

// Options configures a Registry. The zero value is ready to use.
type Options struct {
	// Now is the clock for issue and revocation times. Default time.Now.
	Now func() time.Time
}

// Open makes the registry's table in st's database if it is missing.
func Open(ctx context.Context, st *store.Store, opts Options) (*Registry, error) {
	if err := st.Migrate(ctx, "registry", migrations()); err != nil {
		return nil, err
	}
	return newRegistry(st, opts), nil
}

// OpenReadOnly opens the registry of a database that the signing service
// made, for lookups only: st is opened read-only (see store.Options), and
// no method that writes is meant to be called.
func OpenReadOnly(ctx context.Context, st *store.Store) (*Registry, error) {
	if err := st.CheckSchema(ctx, "registry", migrations()); err != nil {
		return nil, err
	}
	return newRegistry(st, Options{}), nil
}

func newRegistry(st *store.Store, opts Options) *Registry {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Registry{st: st, now: now}
}

// idBytes is the ID's randomness: 144 bits, 24 URL-safe characters.
const idBytes = 18

// NewID returns a fresh random document ID, URL-safe base64 without
// padding. It never starts with "-", which a command line would take for
// a flag (esign admin document revoke ID); drawing again costs 1/32 of
// the first character's choices, not the ID's strength.
func NewID() (string, error) {
	var b [idBytes]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("registry: document ID: %w", err)
		}
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id, nil
		}
	}
}

// ValidID reports whether s has the shape of an ID NewID makes, so that
// a lookup of anything else is answered without the database.
func ValidID(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(idBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
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

// CheckLabel reports whether label can be recorded; call it while
// parsing a request, to answer 400 before signing.
func CheckLabel(label string) error { return checkText("label", label, MaxLabel) }

// CheckReason reports whether a revocation reason can be recorded.
func CheckReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("%w: a revocation needs a reason", ErrInvalid)
	}
	return checkText("reason", reason, MaxReason)
}

func (d *Document) validate() error {
	if !ValidID(d.ID) {
		return fmt.Errorf("%w: ID %q", ErrInvalid, d.ID)
	}
	if d.Client == "" || d.Credential == "" {
		return fmt.Errorf("%w: issuer unnamed", ErrInvalid)
	}
	if len(d.RevisionSHA256) != 32 {
		return fmt.Errorf("%w: revision digest of %d bytes", ErrInvalid, len(d.RevisionSHA256))
	}
	if err := checkText("issuer", d.Issuer, MaxIssuer); err != nil {
		return err
	}
	return CheckLabel(d.Label)
}

// Execer runs a statement: a *store.Tx, so that a document is recorded in
// the same transaction as what goes with it.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Record adds d as valid, issued now unless d.IssuedAt is set. With tx
// nil it commits on its own.
func (r *Registry) Record(ctx context.Context, tx Execer, d Document) (Document, error) {
	if d.IssuedAt.IsZero() {
		d.IssuedAt = r.now()
	}
	d.IssuedAt = d.IssuedAt.UTC().Truncate(time.Microsecond)
	d.Status, d.RevokedAt, d.Reason = Valid, time.Time{}, ""
	if err := d.validate(); err != nil {
		return d, err
	}
	insert := func(ctx context.Context, ex Execer) error {
		_, err := ex.ExecContext(ctx, `INSERT INTO registry_documents
			(id, client, credential, issuer, issued_at, revision_sha256, label, batch_id, ref, status)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.Client, d.Credential, d.Issuer, store.FormatTime(d.IssuedAt), hex.EncodeToString(d.RevisionSHA256),
			d.Label, d.Batch, d.Ref, string(Valid))
		if err != nil {
			return fmt.Errorf("registry: record %s: %w", d.ID, err)
		}
		return nil
	}
	if tx != nil {
		return d, insert(ctx, tx)
	}
	return d, r.st.WithTx(ctx, func(tx *store.Tx) error { return insert(ctx, tx) })
}

const columns = "id, client, credential, issuer, issued_at, revision_sha256, label, batch_id, ref, status, revoked_at, reason"

type scanner interface{ Scan(...any) error }

func scan(sc scanner) (*Document, error) {
	var d Document
	var issued, digest, status, revoked string
	err := sc.Scan(&d.ID, &d.Client, &d.Credential, &d.Issuer, &issued, &digest, &d.Label, &d.Batch, &d.Ref, &status, &revoked, &d.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("registry: read document: %w", err)
	}
	d.Status = Status(status)
	if d.IssuedAt, err = store.ParseTime(issued); err != nil {
		return nil, fmt.Errorf("registry: document %s: %w", d.ID, err)
	}
	if revoked != "" {
		if d.RevokedAt, err = store.ParseTime(revoked); err != nil {
			return nil, fmt.Errorf("registry: document %s: %w", d.ID, err)
		}
	}
	if d.RevisionSHA256, err = hex.DecodeString(digest); err != nil {
		return nil, fmt.Errorf("registry: document %s: digest: %w", d.ID, err)
	}
	return &d, nil
}

// Get returns the document with id, or ErrNotFound.
func (r *Registry) Get(ctx context.Context, id string) (*Document, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	return scan(r.st.QueryRow(ctx, "SELECT "+columns+" FROM registry_documents WHERE id = ?", id))
}

// ByRevision returns the document whose signed revision has the SHA-256
// digest sum, or ErrNotFound. Were two recorded with the same revision
// (the same file signed twice to the byte is not possible, as each
// signature differs), the first issued is returned.
func (r *Registry) ByRevision(ctx context.Context, sum []byte) (*Document, error) {
	if len(sum) != 32 {
		return nil, ErrNotFound
	}
	return scan(r.st.QueryRow(ctx, "SELECT "+columns+
		" FROM registry_documents WHERE revision_sha256 = ? ORDER BY issued_at, id LIMIT 1", hex.EncodeToString(sum)))
}

// Revoke marks the document id, issued by client, revoked now for
// reason, in tx when not nil. A document of another client is
// ErrNotFound, as an unknown one is; a revoked one is ErrRevoked.
func (r *Registry) Revoke(ctx context.Context, tx *store.Tx, id, client, reason string) (*Document, error) {
	if err := CheckReason(reason); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	var out *Document
	revoke := func(tx *store.Tx) error {
		d, err := scan(tx.QueryRowContext(ctx, "SELECT "+columns+" FROM registry_documents WHERE id = ?"+r.st.ForUpdate(), id))
		if err != nil {
			return err
		}
		if client != "" && d.Client != client {
			return ErrNotFound
		}
		if d.Status == Revoked {
			out = d
			return ErrRevoked
		}
		d.Status, d.RevokedAt, d.Reason = Revoked, r.now().UTC().Truncate(time.Microsecond), reason
		_, err = tx.ExecContext(ctx, "UPDATE registry_documents SET status = ?, revoked_at = ?, reason = ? WHERE id = ?",
			string(Revoked), store.FormatTime(d.RevokedAt), reason, id)
		if err != nil {
			return fmt.Errorf("registry: revoke %s: %w", id, err)
		}
		out = d
		return nil
	}
	if tx != nil {
		err := revoke(tx)
		return out, err
	}
	err := r.st.WithTx(ctx, revoke)
	return out, err
}
