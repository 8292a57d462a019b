package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrNoSecretKey reports that the key file sealing TOTP secrets is
// missing while sealed secrets exist.
var ErrNoSecretKey = errors.New("store: TOTP secret key file is missing")

// secretBox seals TOTP secrets with AES-256-GCM. The server must compute
// codes from the secret, so it cannot be hashed; sealing it under a key
// kept outside the database means a stolen database or backup alone does
// not yield the secrets.
//
// The key file holds 64 hex digits and a newline. It is made on first
// seal with O_EXCL-like semantics (written beside, then hard-linked into
// place), so two processes making it at once agree on one key.
//
// Sealed form: "v1:" + base64(12-byte nonce || ciphertext || tag), with
// the credential's name as additional data.
type secretBox struct {
	path string
	mu   sync.Mutex
	aead cipher.AEAD
}

const sealedPrefix = "v1:"

func (b *secretBox) load(create bool) (cipher.AEAD, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.aead != nil {
		return b.aead, nil
	}
	raw, err := os.ReadFile(b.path)
	if errors.Is(err, os.ErrNotExist) && create {
		raw, err = b.create()
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoSecretKey, b.path)
	}
	if err != nil {
		return nil, fmt.Errorf("read TOTP secret key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: TOTP secret key file %s must hold 64 hex digits", ErrInvalid, b.path)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if b.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return b.aead, nil
}

// create makes the key file, or reads the one another process made first.
func (b *secretBox) create() ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(b.path), 0o700); err != nil {
		return nil, fmt.Errorf("make secrets directory: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	content := []byte(hex.EncodeToString(key) + "\n")
	tmp, err := os.CreateTemp(filepath.Dir(b.path), ".totp-key.tmp*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link fails if the file exists, unlike rename: the first key wins.
	if err := os.Link(tmp.Name(), b.path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return os.ReadFile(b.path)
		}
		return nil, fmt.Errorf("write TOTP secret key: %w", err)
	}
	return content, nil
}

func (b *secretBox) seal(plain, aad []byte) (string, error) {
	aead, err := b.load(true)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, aad)), nil
}

func (b *secretBox) open(sealed string, aad []byte) ([]byte, error) {
	aead, err := b.load(false)
	if err != nil {
		return nil, err
	}
	s, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: sealed secret has an unknown format", ErrInvalid)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: sealed secret is malformed", ErrInvalid)
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: sealed secret does not open with the key in %s (wrong key file, or the row was altered)", ErrInvalid, b.path)
	}
	return plain, nil
}
