package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Client is an integrating system, such as one agency's e-Saraban.
type Client struct {
	Name string
	// Credentials are the signer credentials the client may use, sorted.
	Credentials  []string
	Disabled     bool
	CreatedAt    time.Time
	KeyRotatedAt time.Time
}

// MayUse reports whether credential is assigned to the client. Authorize
// is the check to use when serving a request: it also sees credentials
// disabled since the client was loaded.
func (c *Client) MayUse(credential string) bool {
	return slices.Contains(c.Credentials, credential)
}

// maxKeyLen bounds what Authenticate will hash; real keys are 68 bytes.
const maxKeyLen = 256

// NewKey returns a fresh API key: "esk_" and 64 hex digits (256 random
// bits).
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate API key: %w", err)
	}
	return "esk_" + hex.EncodeToString(b), nil
}

// HashKey returns the stored form of an API key: hex SHA-256. A slow
// hash is not needed: keys carry 256 random bits, so they cannot be
// guessed from the hash.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// CheckKey reports whether key has the form NewKey makes.
func CheckKey(key string) error {
	h, ok := strings.CutPrefix(key, "esk_")
	if b, err := hex.DecodeString(h); !ok || err != nil || len(b) != 32 {
		return fmt.Errorf("%w: API key is not esk_ followed by 64 hex digits", ErrInvalid)
	}
	return nil
}

// Authenticate finds the enabled client whose API key this is, or
// returns ErrUnauthenticated. The lookup is by the key's hash, and the
// stored hash is compared again in constant time, so nothing about a
// stored hash leaks through timing. A result is cached until a change to
// clients, credentials or assignments (authCache).
func (s *Store) Authenticate(ctx context.Context, key string) (*Client, error) {
	if key == "" || len(key) > maxKeyLen {
		return nil, ErrUnauthenticated
	}
	want := HashKey(key)
	version, err := s.authVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if c, ok := s.auth.clients.get(want, version); ok {
		c.Credentials = slices.Clone(c.Credentials)
		return &c, nil
	}
	c, err := s.authenticate(ctx, want)
	if err != nil {
		return nil, err
	}
	s.auth.clients.put(want, version, *c)
	return c, nil
}

// authenticate looks the client up by the hash of its key.
func (s *Store) authenticate(ctx context.Context, want string) (*Client, error) {
	var got string
	var c Client
	var disabled int
	var created, rotated string
	err := s.queryRow(ctx, "SELECT key_hash, name, disabled, created_at, key_rotated_at FROM clients WHERE key_hash = ?", want).
		Scan(&got, &c.Name, &disabled, &created, &rotated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 || disabled != 0 {
		return nil, ErrUnauthenticated
	}
	if c.CreatedAt, err = ParseTime(created); err != nil {
		return nil, err
	}
	if c.KeyRotatedAt, err = ParseTime(rotated); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, "SELECT credential FROM client_credentials WHERE client = ? ORDER BY credential", c.Name)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cr string
		if err := rows.Scan(&cr); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		c.Credentials = append(c.Credentials, cr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return &c, nil
}

// Authorize returns the credential if client may sign with it now: the
// client is enabled, the credential exists, is enabled and is assigned to
// the client. Otherwise it returns an error wrapping ErrForbidden that
// does not say which condition failed. A result is cached until a
// change to clients, credentials or assignments (authCache); its
// Failures and LockedUntil are as they were when it was read, so
// activation reads its own (ActivationState).
func (s *Store) Authorize(ctx context.Context, client *Client, credential string) (*Credential, error) {
	if client == nil {
		return nil, ErrUnauthenticated
	}
	version, err := s.authVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	g := grant{client.Name, credential}
	if c, ok := s.auth.grants.get(g, version); ok {
		return &c, nil
	}
	c, err := s.authorize(ctx, client, credential)
	if err != nil {
		return nil, err
	}
	s.auth.grants.put(g, version, *c)
	return c, nil
}

// authorize reads the credential if the client may use it.
func (s *Store) authorize(ctx context.Context, client *Client, credential string) (*Credential, error) {
	c, err := scanCredential(s.queryRow(ctx, "SELECT "+credentialColumnsOf("cr")+` FROM credentials cr
		JOIN client_credentials cc ON cc.credential = cr.name
		JOIN clients cl ON cl.name = cc.client
		WHERE cc.client = ? AND cc.credential = ? AND cl.disabled = 0 AND cr.disabled = 0`,
		client.Name, credential))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrForbidden, credential)
	}
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	return c, nil
}

// CreateClient adds an enabled client that may use credentials, and
// returns its API key. The key is not stored and cannot be shown again.
func (s *Store) CreateClient(ctx context.Context, name string, credentials []string) (string, error) {
	key, err := NewKey()
	if err != nil {
		return "", err
	}
	if err := s.createClient(ctx, name, key, credentials); err != nil {
		return "", err
	}
	return key, nil
}

// CreateClientWithKey adds a client whose API key is given, for
// development seeding that keeps keys in files across database resets.
func (s *Store) CreateClientWithKey(ctx context.Context, name, key string, credentials []string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	return s.createClient(ctx, name, key, credentials)
}

func (s *Store) createClient(ctx context.Context, name, key string, credentials []string) error {
	if err := validName("client", name); err != nil {
		return err
	}
	now := FormatTime(s.now())
	err := s.WithTx(ctx, func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO clients (name, key_hash, disabled, created_at, key_rotated_at) VALUES (?, ?, 0, ?, ?)",
			name, HashKey(key), now, now)
		if isUniqueViolation(err) {
			return ErrExists
		}
		if err != nil {
			return err
		}
		return assign(ctx, tx, name, credentials)
	})
	if err != nil {
		return fmt.Errorf("create client %q: %w", name, err)
	}
	return nil
}

// assign adds credentials to client, which must exist.
func assign(ctx context.Context, tx *Tx, client string, credentials []string) error {
	for _, cr := range credentials {
		if err := mustExist(ctx, tx, "credentials", cr); err != nil {
			return fmt.Errorf("%w: credential %q", err, cr)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO client_credentials (client, credential) VALUES (?, ?) ON CONFLICT DO NOTHING", client, cr); err != nil {
			return err
		}
	}
	return nil
}

// mustExist returns ErrNotFound unless a row of table has this name.
// Callers' messages name the row already.
func mustExist(ctx context.Context, tx *Tx, table, name string) error {
	var n int
	// table is one of ours, never input.
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+" WHERE name = ?", name).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// RotateClientKey gives the client a new API key, which it returns; the
// old key stops working at once.
func (s *Store) RotateClientKey(ctx context.Context, name string) (string, error) {
	key, err := NewKey()
	if err != nil {
		return "", err
	}
	if err := s.SetClientKey(ctx, name, key); err != nil {
		return "", err
	}
	return key, nil
}

// SetClientKey replaces the client's API key with key, for development
// seeding; operators use RotateClientKey.
func (s *Store) SetClientKey(ctx context.Context, name, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	err := s.WithTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE clients SET key_hash = ?, key_rotated_at = ? WHERE name = ?", HashKey(key), FormatTime(s.now()), name)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: that key belongs to another client", ErrExists)
		}
		return affected(res, err)
	})
	if err != nil {
		return fmt.Errorf("set key of client %q: %w", name, err)
	}
	return nil
}

// affected turns "no row changed" into ErrNotFound. Callers' messages
// name the row already.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetClientDisabled disables or re-enables a client. A disabled client's
// key is refused as unknown.
func (s *Store) SetClientDisabled(ctx context.Context, name string, disabled bool) error {
	err := s.WithTx(ctx, func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE clients SET disabled = ? WHERE name = ?", boolInt(disabled), name)
		return affected(res, err)
	})
	if err != nil {
		return fmt.Errorf("update client %q: %w", name, err)
	}
	return nil
}

// AssignCredentials lets the client use further credentials.
func (s *Store) AssignCredentials(ctx context.Context, client string, credentials ...string) error {
	err := s.WithTx(ctx, func(tx *Tx) error {
		if err := mustExist(ctx, tx, "clients", client); err != nil {
			return err
		}
		return assign(ctx, tx, client, credentials)
	})
	if err != nil {
		return fmt.Errorf("assign to client %q: %w", client, err)
	}
	return nil
}

// UnassignCredentials withdraws credentials from the client. Withdrawing
// one it did not have is not an error.
func (s *Store) UnassignCredentials(ctx context.Context, client string, credentials ...string) error {
	err := s.WithTx(ctx, func(tx *Tx) error {
		if err := mustExist(ctx, tx, "clients", client); err != nil {
			return err
		}
		for _, cr := range credentials {
			if _, err := tx.ExecContext(ctx, "DELETE FROM client_credentials WHERE client = ? AND credential = ?", client, cr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("unassign from client %q: %w", client, err)
	}
	return nil
}

// SetClientCredentials makes credentials exactly the set the client may
// use.
func (s *Store) SetClientCredentials(ctx context.Context, client string, credentials []string) error {
	err := s.WithTx(ctx, func(tx *Tx) error {
		if err := mustExist(ctx, tx, "clients", client); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM client_credentials WHERE client = ?", client); err != nil {
			return err
		}
		return assign(ctx, tx, client, credentials)
	})
	if err != nil {
		return fmt.Errorf("set credentials of client %q: %w", client, err)
	}
	return nil
}

// Client returns one client.
func (s *Store) Client(ctx context.Context, name string) (*Client, error) {
	cs, err := s.clients(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: client %q", ErrNotFound, name)
	}
	return &cs[0], nil
}

// ListClients returns every client, by name.
func (s *Store) ListClients(ctx context.Context) ([]Client, error) {
	return s.clients(ctx, "")
}

// clients reads the client called name, or all when name is "".
func (s *Store) clients(ctx context.Context, name string) ([]Client, error) {
	q := "SELECT name, disabled, created_at, key_rotated_at FROM clients"
	var args []any
	if name != "" {
		q += " WHERE name = ?"
		args = append(args, name)
	}
	rows, err := s.query(ctx, q+" ORDER BY name", args...)
	if err != nil {
		return nil, fmt.Errorf("read clients: %w", err)
	}
	var out []Client
	index := map[string]int{}
	for rows.Next() {
		var c Client
		var disabled int
		var created, rotated string
		if err := rows.Scan(&c.Name, &disabled, &created, &rotated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read clients: %w", err)
		}
		c.Disabled = disabled != 0
		if c.CreatedAt, err = ParseTime(created); err == nil {
			c.KeyRotatedAt, err = ParseTime(rotated)
		}
		if err != nil {
			rows.Close()
			return nil, err
		}
		index[c.Name] = len(out)
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read clients: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	q = "SELECT client, credential FROM client_credentials"
	if name != "" {
		q += " WHERE client = ?"
	}
	rows, err = s.query(ctx, q+" ORDER BY client, credential", args...)
	if err != nil {
		return nil, fmt.Errorf("read assignments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cl, cr string
		if err := rows.Scan(&cl, &cr); err != nil {
			return nil, fmt.Errorf("read assignments: %w", err)
		}
		if i, ok := index[cl]; ok {
			out[i].Credentials = append(out[i].Credentials, cr)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read assignments: %w", err)
	}
	return out, nil
}
