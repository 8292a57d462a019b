package csc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"esign/store"
)

// A SAD (signature activation data) is a random value the client holds;
// the database keeps its SHA-256 with what it allows: the client and
// credential it was issued to, how many signatures, which hashes (SCAL
// 2), until when. Using it is one transaction that checks all of that
// and counts the signatures under a row lock, so replicas sharing the
// database share every SAD, and no SAD signs more than it allows however
// many replicas it is sent to at once. A stolen database yields no
// usable SAD; there is no signing key of our own to lose either, as a
// MAC'd token would need.

// grant is what authorize allows.
type grant struct {
	client, credential string
	num                int
	hashes             []string // "ALGO:HEX"; nil: none pinned
	docOnly            bool
	expires            time.Time
}

// sadPrefix marks our SADs (and keeps a stray API key out of the table).
const sadPrefix = "sad_"

// newSecret returns prefix and 32 random bytes, URL-safe base64.
func newSecret(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("csc: random: %w", err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// issueSAD stores g and returns the SAD that stands for it. Expired SADs
// and tokens are swept in the same transaction.
func (s *Server) issueSAD(ctx context.Context, g grant) (string, error) {
	sad, err := newSecret(sadPrefix)
	if err != nil {
		return "", err
	}
	now := s.now().UnixMilli()
	err = s.cfg.Store.WithTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM csc_sads WHERE expires_at < ?", now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO csc_sads (sad_hash, client, credential, num_signatures, used, hashes, doc_only, expires_at)
			VALUES (?, ?, ?, ?, 0, ?, ?, ?)`, hashSecret(sad), g.client, g.credential, g.num, strings.Join(g.hashes, ","),
			boolInt(g.docOnly), g.expires.UnixMilli())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("csc: store SAD: %w", err)
	}
	return sad, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// SAD refusals. None says more than needed: a SAD of another client
// reads like one that does not exist.
var (
	errSADInvalid  = badRequest("Invalid parameter SAD")
	errSADExpired  = badRequest("SAD expired")
	errSADOverused = badRequest("the SAD does not allow this many more signatures (numSignatures)")
	errSADHash     = badRequest("a hash is not one the SAD was authorised for")
	errSADDocOnly  = badRequest("the SAD pins no hashes: under SCAL 2 signatures/signHash needs a SAD authorised for its hashes")
)

// useSAD spends len(hashes) signatures of sad for client and credential,
// or none and an error. hashes are "ALGO:HEX"; forDoc is signDoc's use,
// whose hashes the server computes, so pinned hashes cannot match it.
func (s *Server) useSAD(ctx context.Context, sad, client, credential string, hashes []string, forDoc bool) error {
	if !strings.HasPrefix(sad, sadPrefix) || len(sad) > 128 {
		return errSADInvalid
	}
	now := s.now().UnixMilli()
	return s.cfg.Store.WithTx(ctx, func(tx *store.Tx) error {
		var gotClient, gotCred, pinned string
		var num, used, docOnly int
		var expires int64
		err := tx.QueryRowContext(ctx, `SELECT client, credential, num_signatures, used, hashes, doc_only, expires_at
			FROM csc_sads WHERE sad_hash = ?`+s.cfg.Store.ForUpdate(), hashSecret(sad)).
			Scan(&gotClient, &gotCred, &num, &used, &pinned, &docOnly, &expires)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return errSADInvalid
		case err != nil:
			return fmt.Errorf("csc: read SAD: %w", err)
		case gotClient != client || gotCred != credential:
			return errSADInvalid
		case expires <= now:
			return errSADExpired
		case used+len(hashes) > num:
			return errSADOverused
		case docOnly != 0 && !forDoc:
			return errSADDocOnly
		}
		left := pinned
		if pinned != "" {
			if forDoc {
				return errSADHash
			}
			allowed := strings.Split(pinned, ",")
			for _, h := range hashes {
				i := slices.Index(allowed, h)
				if i < 0 {
					return errSADHash
				}
				// Each pinned hash signs once.
				allowed = slices.Delete(allowed, i, i+1)
			}
			left = strings.Join(allowed, ",")
		}
		_, err = tx.ExecContext(ctx, "UPDATE csc_sads SET used = used + ?, hashes = ? WHERE sad_hash = ?",
			len(hashes), left, hashSecret(sad))
		return err
	})
}

// tokenPrefix marks auth/login's access tokens.
const tokenPrefix = "cst_"

// issueToken stores an access token for cl, valid until it expires, is
// revoked, or cl's API key is rotated.
func (s *Server) issueToken(ctx context.Context, cl *store.Client) (string, error) {
	tok, err := newSecret(tokenPrefix)
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.cfg.Store.WithTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM csc_tokens WHERE expires_at < ?", now.UnixMilli()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO csc_tokens (token_hash, client, key_rotated_at, expires_at) VALUES (?, ?, ?, ?)",
			hashSecret(tok), cl.Name, keyStamp(cl), now.Add(s.cfg.TokenLifetime).UnixMilli())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("csc: store access token: %w", err)
	}
	return tok, nil
}

// keyStamp identifies the client's current API key: the time it was
// last set, which every rotation changes.
func keyStamp(cl *store.Client) string { return store.FormatTime(cl.KeyRotatedAt) }

// tokenClient returns the client an unexpired access token was issued
// to, if its API key is still the one the token was issued under.
func (s *Server) tokenClient(ctx context.Context, tok string) (*store.Client, error) {
	if len(tok) > 128 {
		return nil, store.ErrUnauthenticated
	}
	var name, stamp string
	var expires int64
	err := s.cfg.Store.QueryRow(ctx, "SELECT client, key_rotated_at, expires_at FROM csc_tokens WHERE token_hash = ?", hashSecret(tok)).
		Scan(&name, &stamp, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, store.ErrUnauthenticated
	case err != nil:
		return nil, fmt.Errorf("csc: read access token: %w", err)
	case expires <= s.now().UnixMilli():
		return nil, store.ErrUnauthenticated
	}
	cl, err := s.cfg.Store.Client(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, store.ErrUnauthenticated
	case err != nil:
		return nil, err
	case cl.Disabled, stamp == "", keyStamp(cl) != stamp:
		// Disabled, or its key rotated since: the token went with the
		// old key.
		return nil, store.ErrUnauthenticated
	}
	return cl, nil
}
