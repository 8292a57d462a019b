// Package revocation answers and gathers certificate revocation status:
// an OCSP responder (RFC 6960) and a CRL publisher (RFC 5280) for the
// development CA, and a Fetcher that collects OCSP responses and CRLs for a
// certificate chain, as PAdES B-LT needs.
package revocation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Status is what a CA knows about one certificate. The zero value means
// "not revoked".
type Status struct {
	Revoked   bool
	RevokedAt time.Time
	Reason    int // an RFC 5280 CRLReason; 0 (unspecified) when none was given
}

// StatusSource tells the status of certificates of one issuer by serial.
type StatusSource interface {
	// Status returns the status of the certificate with this serial, or an
	// error wrapping ErrUnknownCertificate when the source cannot vouch for
	// the serial at all.
	Status(ctx context.Context, serial *big.Int) (Status, error)
}

// Lister enumerates the revoked certificates of one issuer, which a CRL
// needs.
type Lister interface {
	Revoked(ctx context.Context) ([]Revocation, error)
}

// Revocation is one revoked certificate.
type Revocation struct {
	Serial    *big.Int
	RevokedAt time.Time
	Reason    int
}

// ErrUnknownCertificate is returned by a StatusSource for serials it knows
// nothing of; the OCSP responder answers "unknown" for them.
var ErrUnknownCertificate = errors.New("revocation: unknown certificate")

// maxStatusFileSize bounds the JSON file FileSource reads.
const maxStatusFileSize = 16 << 20

// FileSource keeps revocations of one or more issuers in a JSON file:
//
//	{"revoked": [{"issuer": "<hex SHA-256 of the issuer's SubjectPublicKeyInfo>",
//	              "serial": "<hex>", "revokedAt": "<RFC 3339>", "reason": 1,
//	              "comment": "dev-official"}]}
//
// A missing file means nothing is revoked. The file is re-read whenever it
// changes on disk, so another process may edit it; Revoke rewrites it
// atomically. A FileSource is safe for concurrent use and must not be copied.
type FileSource struct {
	Path string

	mu      sync.Mutex
	info    fs.FileInfo // of the file the cache was read from; nil: nothing cached
	entries map[string]fileEntry
}

type statusFile struct {
	Revoked []fileEntry `json:"revoked"`
}

type fileEntry struct {
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	RevokedAt time.Time `json:"revokedAt"`
	Reason    int       `json:"reason"`
	Comment   string    `json:"comment,omitempty"`
}

// IssuerID names an issuer in the status file: the hex SHA-256 of its
// SubjectPublicKeyInfo, which stays the same when a CA certificate is
// re-issued with the same key.
func IssuerID(issuer *x509.Certificate) string {
	sum := sha256.Sum256(issuer.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

func entryKey(issuer string, serial *big.Int) string {
	return issuer + "/" + serial.Text(16)
}

// ForIssuer returns the StatusSource and Lister for the certificates issuer
// signed.
func (s *FileSource) ForIssuer(issuer *x509.Certificate) *IssuerStatus {
	return &IssuerStatus{file: s, issuer: IssuerID(issuer)}
}

// Revoke records that the certificate with serial, signed by issuer, was
// revoked at the given time for reason (an RFC 5280 CRLReason). Revoking an
// already revoked certificate replaces its time and reason.
func (s *FileSource) Revoke(ctx context.Context, issuer *x509.Certificate, serial *big.Int, at time.Time, reason int, comment string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if serial == nil || serial.Sign() < 0 {
		return errors.New("revocation: revoke: bad serial number")
	}
	if reason < 0 || reason > 10 || reason == 7 {
		return fmt.Errorf("revocation: revoke: %d is not a CRLReason", reason)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entries, err := s.loadLocked()
	if err != nil {
		return err
	}
	id := IssuerID(issuer)
	updated := make(map[string]fileEntry, len(entries)+1)
	for k, e := range entries {
		updated[k] = e
	}
	updated[entryKey(id, serial)] = fileEntry{Issuer: id, Serial: serial.Text(16), RevokedAt: at.UTC(), Reason: reason, Comment: comment}

	var out statusFile
	for _, e := range updated {
		out.Revoked = append(out.Revoked, e)
	}
	// A stable order keeps the file diffable.
	slices.SortFunc(out.Revoked, func(a, b fileEntry) int {
		return strings.Compare(a.Issuer+"/"+a.Serial, b.Issuer+"/"+b.Serial)
	})
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("revocation: encode %s: %w", s.Path, err)
	}
	if err := writeFileAtomic(s.Path, append(data, '\n')); err != nil {
		return err
	}
	s.info = nil // force a re-read, which also picks up the new file identity
	return nil
}

// writeFileAtomic replaces path so readers see the old or the new content,
// never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".status-*.json")
	if err != nil {
		return fmt.Errorf("revocation: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("revocation: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("revocation: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("revocation: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("revocation: write %s: %w", path, err)
	}
	return nil
}

// load returns the current entries, re-reading the file if it changed.
func (s *FileSource) load() (map[string]fileEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked()
}

func (s *FileSource) loadLocked() (map[string]fileEntry, error) {
	if s.Path == "" {
		return nil, errors.New("revocation: FileSource has no Path")
	}
	fi, err := os.Stat(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		s.info, s.entries = nil, nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	// Atomic replacement changes the file identity, in-place edits change
	// the size or time: either way the cache is stale.
	if s.info != nil && os.SameFile(s.info, fi) && fi.ModTime().Equal(s.info.ModTime()) && fi.Size() == s.info.Size() {
		return s.entries, nil
	}
	if fi.Size() > maxStatusFileSize {
		return nil, fmt.Errorf("revocation: %s is larger than %d bytes", s.Path, maxStatusFileSize)
	}
	data, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	entries, err := parseStatusFile(data)
	if err != nil {
		return nil, fmt.Errorf("revocation: %s: %w", s.Path, err)
	}
	s.info, s.entries = fi, entries
	return entries, nil
}

func parseStatusFile(data []byte) (map[string]fileEntry, error) {
	var f statusFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	entries := make(map[string]fileEntry, len(f.Revoked))
	for i, e := range f.Revoked {
		serial, ok := new(big.Int).SetString(e.Serial, 16)
		if !ok || serial.Sign() < 0 {
			return nil, fmt.Errorf("entry %d: bad serial %q", i, e.Serial)
		}
		if b, err := hex.DecodeString(e.Issuer); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("entry %d: bad issuer %q", i, e.Issuer)
		}
		if e.RevokedAt.IsZero() {
			return nil, fmt.Errorf("entry %d: no revokedAt", i)
		}
		entries[entryKey(strings.ToLower(e.Issuer), serial)] = e
	}
	return entries, nil
}

// IssuerStatus is the part of a FileSource about one issuer. It implements
// StatusSource and Lister.
type IssuerStatus struct {
	file   *FileSource
	issuer string
}

// Status implements StatusSource: serials absent from the file are good.
func (v *IssuerStatus) Status(ctx context.Context, serial *big.Int) (Status, error) {
	if err := ctx.Err(); err != nil {
		return Status{}, err
	}
	entries, err := v.file.load()
	if err != nil {
		return Status{}, err
	}
	e, ok := entries[entryKey(v.issuer, serial)]
	if !ok {
		return Status{}, nil
	}
	return Status{Revoked: true, RevokedAt: e.RevokedAt, Reason: e.Reason}, nil
}

// Revoked implements Lister.
func (v *IssuerStatus) Revoked(ctx context.Context) ([]Revocation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := v.file.load()
	if err != nil {
		return nil, err
	}
	var out []Revocation
	for _, e := range entries {
		if strings.ToLower(e.Issuer) != v.issuer {
			continue
		}
		serial, _ := new(big.Int).SetString(e.Serial, 16) // validated when loaded
		out = append(out, Revocation{Serial: serial, RevokedAt: e.RevokedAt, Reason: e.Reason})
	}
	slices.SortFunc(out, func(a, b Revocation) int { return a.Serial.Cmp(b.Serial) })
	return out, nil
}
