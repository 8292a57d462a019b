// Package blob keeps uploaded documents where every replica of the service
// can read them.
//
// A Store maps keys such as "batch-123/doc-00001.pdf" to immutable byte
// strings. Two implementations share one contract:
//
//   - Dir keeps each blob in a file under a root directory
//     ($ESIGN_DATA_DIR/blobs for the service), for replicas on one machine
//     or sharing it over NFS. Writes go to a temporary file that is synced
//     and renamed into place, so a crash never leaves part of a blob under
//     its key.
//   - DB keeps blobs in a table of the service's own database (SQLite or
//     PostgreSQL, through package store), for replicas on different
//     machines with no shared file system.
//
// Keys are 1–256 bytes: segments of ASCII letters, digits, '.', '_' and '-'
// separated by '/', with no empty, "." or ".." segment and no segment longer
// than 255 bytes (a file name's limit). A key is therefore always a clean,
// relative path that stays under Dir's root; ValidKey checks it.
package blob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

var (
	// ErrNotFound reports a key that holds no blob.
	ErrNotFound = errors.New("blob: not found")
	// ErrInvalidKey reports a key or prefix outside the key syntax.
	ErrInvalidKey = errors.New("blob: invalid key")
	// ErrTooLarge reports a blob longer than the store's MaxSize.
	ErrTooLarge = errors.New("blob: too large")
	// ErrConflict reports, on Dir, a key that is also the directory of other
	// keys ("a" beside "a/b"): one file-system name cannot be both. DB has
	// no such limit, so callers that want either store must not mix them.
	ErrConflict = errors.New("blob: key is both a blob and a prefix of other keys")
)

const (
	// MaxKeyLen is the longest key, in bytes.
	MaxKeyLen = 256
	// maxSegmentLen is NAME_MAX on common file systems: a longer segment
	// could not be a file name under Dir.
	maxSegmentLen = 255
	// DefaultMaxSize is the size cap of a store whose MaxSize is zero:
	// above the 50 MB that the largest documents reach.
	DefaultMaxSize = 64 << 20
)

// Store keeps blobs under keys. Implementations are safe for concurrent use
// by many goroutines and processes sharing the same root or database.
type Store interface {
	// Put stores the bytes of r under key and returns their length and
	// SHA-256. It is atomic and durable: once Put returns nil the blob
	// survives a crash (kill -9, power loss) and readers never see part of
	// it. Putting an existing key replaces it atomically. r is read until
	// io.EOF; ctx is checked between reads (a Read that blocks is not
	// interrupted). If Put fails, key holds its previous blob (or none),
	// or, when the failure came after the new blob was in place (a failed
	// directory sync on Dir), the new one whole; never part of either.
	Put(ctx context.Context, key string, r io.Reader) (Info, error)
	// Open returns the blob for random access. ErrNotFound if missing. The
	// Object keeps reading the blob as it was when opened, even if the key
	// is then replaced or deleted.
	Open(ctx context.Context, key string) (Object, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// DeletePrefix removes every key that starts with prefix, which must be
	// a valid key followed by '/' (a whole path segment, e.g. "batch-123/"),
	// so "batch-1/" leaves "batch-10/x" alone. It is not atomic: after an
	// error or a crash some of the keys may remain, and calling it again
	// finishes the job.
	DeletePrefix(ctx context.Context, prefix string) error
}

// Info describes a stored blob.
type Info struct {
	Size   int64
	SHA256 [32]byte
}

// Object is an open blob. Close releases it; ReadAt is safe for concurrent
// use.
type Object interface {
	io.ReaderAt
	io.Closer
	// Size is the blob's length in bytes.
	Size() int64
}

// ValidKey reports whether key follows the key syntax (see the package
// comment), wrapping ErrInvalidKey if not.
func ValidKey(key string) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length %d (want 1-%d bytes)", ErrInvalidKey, len(key), MaxKeyLen)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := validSegment(seg); err != nil {
			return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, err)
		}
	}
	return nil
}

func validSegment(seg string) error {
	switch {
	case seg == "":
		return errors.New("empty segment")
	case seg == "." || seg == "..":
		return fmt.Errorf("segment %q", seg)
	case len(seg) > maxSegmentLen:
		return fmt.Errorf("segment longer than %d bytes", maxSegmentLen)
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("byte %q (want letters, digits, '.', '_' or '-')", c)
		}
	}
	return nil
}

// validPrefix checks a DeletePrefix argument and returns it without its
// trailing '/'.
func validPrefix(prefix string) (string, error) {
	dir, ok := strings.CutSuffix(prefix, "/")
	if !ok {
		return "", fmt.Errorf("%w: prefix %q does not end with '/'", ErrInvalidKey, prefix)
	}
	if err := ValidKey(dir); err != nil {
		return "", fmt.Errorf("prefix: %w", err)
	}
	return dir, nil
}

// copyBlob copies r to w until io.EOF, hashing what passes and failing
// with ErrTooLarge past max bytes, so a runaway upload costs at most max
// plus one buffer. ctx is checked before each read.
func copyBlob(ctx context.Context, w io.Writer, r io.Reader, max int64) (Info, error) {
	var (
		h    hash.Hash = sha256.New()
		size int64
		buf  = make([]byte, 64<<10)
	)
	for {
		if err := ctx.Err(); err != nil {
			return Info{}, err
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			size += int64(n)
			if size > max {
				return Info{}, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
			}
			h.Write(buf[:n])
			if _, err := w.Write(buf[:n]); err != nil {
				return Info{}, fmt.Errorf("write: %w", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return Info{}, fmt.Errorf("read: %w", rerr)
		}
	}
	info := Info{Size: size}
	h.Sum(info.SHA256[:0])
	return info, nil
}

func maxSize(n int64) int64 {
	if n <= 0 {
		return DefaultMaxSize
	}
	return n
}
