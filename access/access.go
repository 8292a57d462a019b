// Package access decides who may sign what: API clients authenticate with
// a bearer key, which is stored only as a SHA-256 hash, and each client may
// use a listed set of signer credentials.
package access

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

var (
	// ErrUnauthenticated reports a missing or unknown API key.
	ErrUnauthenticated = errors.New("access: missing or invalid API key")
	// ErrForbidden reports a credential the client may not use.
	ErrForbidden = errors.New("access: credential not assigned to this client")
)

// Client is an integrating system, such as one agency's e-Saraban.
type Client struct {
	Name string `json:"name"`
	// KeyHash is the hex SHA-256 of the client's API key.
	KeyHash string `json:"key_hash"`
	// Credentials the client may sign with; "*" means all.
	Credentials []string `json:"credentials"`
	Disabled    bool     `json:"disabled,omitempty"`
}

// MayUse reports whether the client may sign with credential name.
func (c *Client) MayUse(name string) bool {
	return slices.Contains(c.Credentials, "*") || slices.Contains(c.Credentials, name)
}

// Store holds the clients. It is read-only after Load, so it is safe for
// concurrent use.
type Store struct {
	clients []Client
}

// Load reads clients from a JSON file.
func Load(path string) (*Store, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read clients: %w", err)
	}
	var clients []Client
	if err := json.Unmarshal(b, &clients); err != nil {
		return nil, fmt.Errorf("parse clients %s: %w", path, err)
	}
	for _, c := range clients {
		if h, err := hex.DecodeString(c.KeyHash); err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("clients %s: client %q: key_hash is not a hex SHA-256", path, c.Name)
		}
	}
	return &Store{clients: clients}, nil
}

// NewStore makes a store from clients, for tests and embedding.
func NewStore(clients []Client) *Store { return &Store{clients: clients} }

// Authenticate finds the client whose key this is. Every stored hash is
// compared in constant time, so timing tells nothing about which matched.
func (s *Store) Authenticate(key string) (*Client, error) {
	if key == "" {
		return nil, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(key))
	var found *Client
	for i := range s.clients {
		h, _ := hex.DecodeString(s.clients[i].KeyHash)
		if subtle.ConstantTimeCompare(h, sum[:]) == 1 {
			found = &s.clients[i]
		}
	}
	if found == nil || found.Disabled {
		return nil, ErrUnauthenticated
	}
	return found, nil
}

// HashKey returns the stored form of an API key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NewKey returns a fresh random API key.
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate API key: %w", err)
	}
	return "esk_" + hex.EncodeToString(b), nil
}
