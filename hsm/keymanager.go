package hsm

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ThalesIgnite/crypto11"
	"github.com/miekg/pkcs11"
)

// idLength is the size of the random CKA_ID given to new keys.
const idLength = 16

// maxObjectLabel bounds key and certificate labels. PKCS#11 sets no limit;
// some HSMs store 32 or 64 bytes, and 128 is generous for operators.
const maxObjectLabel = 128

// KeyManager manages the keys and certificates of one token. It is safe for
// concurrent use. Close it when done.
type KeyManager struct {
	cfg Config

	// conn is the current connection; replaced (never modified) by reconnect.
	conn atomic.Pointer[connection]

	// mu serialises reconnect and Close; closed is written under it.
	mu     sync.Mutex
	closed atomic.Bool

	// createMu serialises CreateKey and ImportCertificate, so that two calls
	// in this process cannot both find a label free and both take it.
	createMu sync.Mutex

	reconnects atomic.Uint64
}

// connection is one crypto11 context and its generation number, which tells
// a signer bound to an older connection that it must look its key up again.
type connection struct {
	c11   *crypto11.Context
	gen   uint64
	epoch uint64 // of the module when c11 was made; see epochs
}

// close closes the crypto11 context, unless the library was finalised
// since it was made: then its sessions are gone and their handles may
// belong to newer sessions, so it is left unclosed. That keeps crypto11's
// count of the library's users above zero, so crypto11 does not finalise
// it when the last KeyManager closes; the process's exit does.
func (c *connection) close(path string) error {
	if c.epoch != epoch(path) {
		return nil
	}
	return c.c11.Close()
}

// KeyInfo describes a key pair on the token, as List returns it.
type KeyInfo struct {
	Label     string
	ID        string    // CKA_ID in lower-case hex
	Algorithm Algorithm // e.g. "RSA-3072", "ECDSA-P256"

	// HasCertificate reports a certificate stored with the key's CKA_ID.
	HasCertificate bool
	Subject        string    // certificate subject (RFC 2253 form); empty without certificate
	NotAfter       time.Time // certificate expiry; zero without certificate
}

// Open connects to the token cfg selects and logs in. The PIN is taken from
// cfg.PIN or, if that is empty, read from cfg.PINSource.
//
// PKCS#11 keeps one login per token for the whole process: while another
// KeyManager of this process is logged in to the same token, the token
// answers CKR_USER_ALREADY_LOGGED_IN and does not check the PIN again.
func Open(ctx context.Context, cfg Config) (*KeyManager, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg, err := cfg.resolved()
	if err != nil {
		return nil, err
	}
	cfg.ModulePath = canonicalModulePath(cfg.ModulePath)
	c11, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	m := &KeyManager{cfg: cfg}
	m.conn.Store(&connection{c11: c11, gen: 1, epoch: epoch(cfg.ModulePath)})
	return m, nil
}

// Close releases the sessions, waiting for operations in progress (the token
// logs the process out when its last session closes). Signers of m fail with
// ErrClosed afterwards. Closing twice is harmless.
func (m *KeyManager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return nil
	}
	m.closed.Store(true)
	if err := m.conn.Load().close(m.cfg.ModulePath); err != nil {
		return fmt.Errorf("hsm: close %s: %w", m.cfg.tokenDescription(), err)
	}
	return nil
}

// Reconnects returns how many times the KeyManager has re-opened its
// connection to the token after losing sessions or the login. A service can
// export it as a metric: a rising count points at an unstable HSM link.
func (m *KeyManager) Reconnects() uint64 { return m.reconnects.Load() }

// reconnect replaces the connection of generation failed by a new one. When
// several operations fail at once only the first reconnects; the others find
// a newer generation and use it.
func (m *KeyManager) reconnect(failed uint64) (*connection, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return nil, ErrClosed
	}
	cur := m.conn.Load()
	if cur.gen != failed {
		return cur, nil
	}
	c11, err := connect(m.cfg)
	if err != nil && tokenLost(err) {
		// The module may keep a token it lost for good (SoftHSM 2.6 does,
		// once the token's files vanish, even after they return): only a
		// fresh C_Initialize looks at the token again.
		if rerr := reinitialize(m.cfg.ModulePath); rerr != nil {
			err = fmt.Errorf("%w (and %w)", err, rerr)
		} else {
			c11, err = connect(m.cfg)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("hsm: reconnect: %w", err)
	}
	next := &connection{c11: c11, gen: cur.gen + 1, epoch: epoch(m.cfg.ModulePath)}
	m.conn.Store(next)
	m.reconnects.Add(1)
	// Open the new context before closing the old one, so crypto11's count
	// never drops to zero and the library is not finalised in between. Close
	// waits for operations still using the old sessions; their failures come
	// back here and find the new generation.
	_ = cur.close(m.cfg.ModulePath)
	return next, nil
}

// current returns the connection in use, or ErrClosed.
func (m *KeyManager) current() (*connection, error) {
	if m.closed.Load() {
		return nil, ErrClosed
	}
	return m.conn.Load(), nil
}

// do runs op on the current connection and, if the connection turns out to be
// broken or replaced, once more on a fresh one.
func (m *KeyManager) do(ctx context.Context, op func(*connection) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := m.current()
	if err != nil {
		return err
	}
	err = op(c)
	if err == nil || !m.retryable(err, c.gen) {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return err
	}
	c, rerr := m.reconnect(c.gen)
	if rerr != nil {
		return fmt.Errorf("%w (and %w)", err, rerr)
	}
	return op(c)
}

// retryable reports whether an operation that failed with err on the
// connection of generation gen is worth one retry: the connection is broken,
// or it was replaced (and closed) while the operation ran. After Close the
// retry reports ErrClosed.
func (m *KeyManager) retryable(err error, gen uint64) bool {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrAlreadyExists) {
		return false
	}
	return needsReconnect(err) || m.conn.Load().gen != gen || m.closed.Load()
}

// CreateKey generates a key pair inside the token under label, with a fresh
// random CKA_ID. The private key is a token object that is sensitive, never
// extractable and usable only for signing. It returns ErrAlreadyExists if a
// key or certificate already has the label.
func (m *KeyManager) CreateKey(ctx context.Context, label string, alg Algorithm) (crypto.Signer, error) {
	if err := checkObjectLabel(label); err != nil {
		return nil, err
	}
	bits, curve, err := alg.keySpec()
	if err != nil {
		return nil, err
	}
	id := make([]byte, idLength)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("hsm: random CKA_ID: %w", err)
	}

	m.createMu.Lock()
	defer m.createMu.Unlock()
	var s *signer
	err = m.do(ctx, func(c *connection) error {
		if err := labelFree(c.c11, label); err != nil {
			return err
		}
		pub, priv, err := keyTemplates(id, label)
		if err != nil {
			return err
		}
		var k crypto11.Signer
		if curve != nil {
			k, err = c.c11.GenerateECDSAKeyPairWithAttributes(pub, priv, curve)
		} else {
			k, err = c.c11.GenerateRSAKeyPairWithAttributes(pub, priv, bits)
		}
		if err != nil {
			return fmt.Errorf("hsm: generate %s key %q: %w", alg, label, err)
		}
		s = newSigner(m, c, k, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// keyTemplates returns the attributes of a new signing key pair.
func keyTemplates(id []byte, label string) (pub, priv crypto11.AttributeSet, err error) {
	pub, err = crypto11.NewAttributeSetWithIDAndLabel(id, []byte(label))
	if err != nil {
		return nil, nil, err
	}
	priv = pub.Copy()
	pub.AddIfNotPresent([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
	})
	priv.AddIfNotPresent([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		// A signing key decrypts nothing: a key that can also decrypt
		// is an oracle for forging PKCS#1 v1.5 signatures.
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	})
	return pub, priv, nil
}

func checkObjectLabel(label string) error {
	switch {
	case label == "":
		return errors.New("hsm: empty label")
	case len(label) > maxObjectLabel:
		return fmt.Errorf("hsm: label is %d bytes, at most %d allowed", len(label), maxObjectLabel)
	case !utf8.ValidString(label):
		return errors.New("hsm: label is not valid UTF-8")
	}
	return nil
}

// labelFree returns ErrAlreadyExists if a key pair or certificate has label.
func labelFree(c11 *crypto11.Context, label string) error {
	keys, err := c11.FindKeyPairs(nil, []byte(label))
	if err != nil {
		return fmt.Errorf("hsm: look up label %q: %w", label, err)
	}
	if len(keys) > 0 {
		return fmt.Errorf("hsm: key %q: %w", label, ErrAlreadyExists)
	}
	cert, err := c11.FindCertificate(nil, []byte(label), nil)
	if err != nil {
		return fmt.Errorf("hsm: look up label %q: %w", label, err)
	}
	if cert != nil {
		return fmt.Errorf("hsm: certificate %q: %w", label, ErrAlreadyExists)
	}
	return nil
}

// findKey returns the one key pair matching ref and its CKA_ID.
func findKey(c11 *crypto11.Context, ref KeyRef) (crypto11.Signer, []byte, error) {
	if ref.empty() {
		return nil, nil, errors.New("hsm: key reference has neither label nor ID")
	}
	var label []byte
	if ref.Label != "" {
		label = []byte(ref.Label)
	}
	var id []byte
	if len(ref.ID) > 0 {
		id = ref.ID
	}
	keys, err := c11.FindKeyPairs(id, label)
	if err != nil {
		return nil, nil, fmt.Errorf("hsm: find key %s: %w", ref, err)
	}
	switch len(keys) {
	case 0:
		return nil, nil, fmt.Errorf("hsm: key %s: %w", ref, ErrNotFound)
	case 1:
	default:
		return nil, nil, fmt.Errorf("hsm: key reference %s is ambiguous: %d keys match, select by ID", ref, len(keys))
	}
	if id == nil {
		a, err := c11.GetAttribute(keys[0], crypto11.CkaId)
		if err != nil {
			return nil, nil, fmt.Errorf("hsm: read CKA_ID of key %s: %w", ref, err)
		}
		id = a.Value
	}
	return keys[0], id, nil
}

// Signer returns a crypto.Signer for the key ref names. ErrNotFound if there
// is none; an error if the reference matches several keys.
func (m *KeyManager) Signer(ctx context.Context, ref KeyRef) (crypto.Signer, error) {
	var s *signer
	err := m.do(ctx, func(c *connection) error {
		k, id, err := findKey(c.c11, ref)
		if err != nil {
			return err
		}
		s = newSigner(m, c, k, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// PublicKey returns the public key of the key pair ref names.
func (m *KeyManager) PublicKey(ctx context.Context, ref KeyRef) (crypto.PublicKey, error) {
	var pub crypto.PublicKey
	err := m.do(ctx, func(c *connection) error {
		k, _, err := findKey(c.c11, ref)
		if err != nil {
			return err
		}
		pub = k.Public()
		return nil
	})
	return pub, err
}

// ImportCertificate stores cert on the token. If ref names a key pair, the
// certificate must certify that key's public key and is stored with the
// key's label and CKA_ID, so that Certificate and List find it. Otherwise
// (an intermediate or root of the chain) ref.Label is required and the
// certificate is stored on its own under that label and ref.ID, or a random
// CKA_ID if ref.ID is empty. ErrAlreadyExists if a certificate with that
// label or key is already stored.
func (m *KeyManager) ImportCertificate(ctx context.Context, ref KeyRef, cert *x509.Certificate) error {
	if cert == nil || len(cert.Raw) == 0 {
		return errors.New("hsm: ImportCertificate: no certificate")
	}
	if ref.empty() {
		return errors.New("hsm: ImportCertificate: reference has neither label nor ID")
	}
	if ref.Label != "" {
		if err := checkObjectLabel(ref.Label); err != nil {
			return err
		}
	}
	m.createMu.Lock()
	defer m.createMu.Unlock()
	return m.do(ctx, func(c *connection) error {
		label, id := ref.Label, ref.ID
		k, keyID, err := findKey(c.c11, ref)
		switch {
		case err == nil:
			if !publicKeysEqual(k.Public(), cert.PublicKey) {
				return fmt.Errorf("hsm: certificate %q does not certify key %s", cert.Subject.String(), ref)
			}
			id = keyID
			if label == "" {
				a, err := c.c11.GetAttribute(k, crypto11.CkaLabel)
				if err != nil {
					return fmt.Errorf("hsm: read CKA_LABEL of key %s: %w", ref, err)
				}
				label = string(a.Value)
			}
			existing, err := c.c11.FindCertificate(id, nil, nil)
			if err != nil {
				return fmt.Errorf("hsm: look up certificate of key %s: %w", ref, err)
			}
			if existing != nil {
				return fmt.Errorf("hsm: certificate for key %s: %w", ref, ErrAlreadyExists)
			}
		case errors.Is(err, ErrNotFound):
			if label == "" {
				return fmt.Errorf("hsm: no key with %s; a certificate stored on its own needs a label", ref)
			}
			if len(id) == 0 {
				id = make([]byte, idLength)
				if _, err := rand.Read(id); err != nil {
					return fmt.Errorf("hsm: random CKA_ID: %w", err)
				}
			}
		default:
			return err
		}
		if label != "" {
			existing, err := c.c11.FindCertificate(nil, []byte(label), nil)
			if err != nil {
				return fmt.Errorf("hsm: look up certificate %q: %w", label, err)
			}
			if existing != nil {
				return fmt.Errorf("hsm: certificate %q: %w", label, ErrAlreadyExists)
			}
		}
		if err := c.c11.ImportCertificateWithLabel(id, []byte(label), cert); err != nil {
			return fmt.Errorf("hsm: store certificate %q: %w", label, err)
		}
		return nil
	})
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// Certificate returns the certificate stored under ref's label and/or ID.
// ErrNotFound if there is none.
func (m *KeyManager) Certificate(ctx context.Context, ref KeyRef) (*x509.Certificate, error) {
	if ref.empty() {
		return nil, errors.New("hsm: certificate reference has neither label nor ID")
	}
	var cert *x509.Certificate
	err := m.do(ctx, func(c *connection) error {
		var label, id []byte
		if ref.Label != "" {
			label = []byte(ref.Label)
		}
		if len(ref.ID) > 0 {
			id = ref.ID
		}
		var err error
		cert, err = c.c11.FindCertificate(id, label, nil)
		if err != nil {
			return fmt.Errorf("hsm: find certificate %s: %w", ref, err)
		}
		if cert == nil {
			return fmt.Errorf("hsm: certificate %s: %w", ref, ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cert, nil
}

// List describes every key pair on the token, sorted by label and ID.
func (m *KeyManager) List(ctx context.Context) ([]KeyInfo, error) {
	var out []KeyInfo
	err := m.do(ctx, func(c *connection) error {
		out = out[:0]
		keys, err := c.c11.FindAllKeyPairs()
		if err != nil {
			return fmt.Errorf("hsm: list keys: %w", err)
		}
		for _, k := range keys {
			attrs, err := c.c11.GetAttributes(k, []crypto11.AttributeType{crypto11.CkaLabel, crypto11.CkaId})
			if err != nil {
				return fmt.Errorf("hsm: list keys: read attributes: %w", err)
			}
			var label, id []byte
			if a := attrs[crypto11.CkaLabel]; a != nil {
				label = a.Value
			}
			if a := attrs[crypto11.CkaId]; a != nil {
				id = a.Value
			}
			info := KeyInfo{
				Label:     string(label),
				ID:        hex.EncodeToString(id),
				Algorithm: algorithmOf(k.Public()),
			}
			cert, err := c.c11.FindCertificate(id, nil, nil)
			if err != nil {
				return fmt.Errorf("hsm: list keys: certificate of %q: %w", label, err)
			}
			if cert != nil {
				info.HasCertificate = true
				info.Subject = cert.Subject.String()
				info.NotAfter = cert.NotAfter
			}
			out = append(out, info)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Label != out[j].Label {
			return out[i].Label < out[j].Label
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
