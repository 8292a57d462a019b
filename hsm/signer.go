package hsm

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/ThalesIgnite/crypto11"
)

// signer is the crypto.Signer the KeyManager hands out. It keeps the crypto11
// key of the current connection, so a signature costs crypto11's work plus
// one atomic load and one error check; lookups happen only after a failure.
type signer struct {
	m     *KeyManager
	id    []byte // CKA_ID, to find the key again after reconnecting
	pub   crypto.PublicKey
	isRSA bool

	bound atomic.Pointer[binding]
	// rebindMu makes concurrent failures of one signer look the key up once.
	rebindMu sync.Mutex
}

// binding is a crypto11 key valid on the connection of generation gen.
type binding struct {
	key crypto11.Signer
	gen uint64
}

func newSigner(m *KeyManager, c *connection, k crypto11.Signer, id []byte) *signer {
	s := &signer{m: m, id: append([]byte(nil), id...), pub: k.Public()}
	_, s.isRSA = s.pub.(*rsa.PublicKey)
	s.bound.Store(&binding{key: k, gen: c.gen})
	return s
}

// Public returns the public key, read when the signer was made.
func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign signs digest in the token. RSA keys sign PKCS#1 v1.5 when opts is a
// crypto.Hash and PSS when opts is *rsa.PSSOptions; PSS uses a salt as long
// as the hash (rsa.PSSSaltLengthAuto is taken to mean that, since PKCS#11
// needs an explicit length). ECDSA keys return an ASN.1 DER signature, like
// crypto/ecdsa. rand is ignored: the token has its own generator.
func (s *signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	opts, err := s.checkRequest(digest, opts)
	if err != nil {
		return nil, err
	}
	b := s.bound.Load()
	sig, err := b.key.Sign(rand, digest, opts)
	if err == nil {
		return sig, nil
	}
	return s.signAgain(b, err, rand, digest, opts)
}

// signAgain handles a failed signature: if the connection broke (or was
// replaced under us), reconnect once and sign once more.
func (s *signer) signAgain(b *binding, err error, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if !s.m.retryable(err, b.gen) {
		return nil, fmt.Errorf("hsm: sign: %w", err)
	}
	nb, rerr := s.rebind(b)
	if rerr != nil {
		return nil, fmt.Errorf("hsm: sign: %w (and %w)", err, rerr)
	}
	sig, err := nb.key.Sign(rand, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("hsm: sign after reconnecting: %w", err)
	}
	return sig, nil
}

// rebind moves the signer to the current connection, reconnecting first if
// b's connection is still the current one.
func (s *signer) rebind(b *binding) (*binding, error) {
	c, err := s.m.reconnect(b.gen)
	if err != nil {
		return nil, err
	}
	s.rebindMu.Lock()
	defer s.rebindMu.Unlock()
	if cur := s.bound.Load(); cur.gen >= c.gen {
		return cur, nil
	}
	keys, err := c.c11.FindKeyPairs(s.id, nil)
	if err != nil {
		return nil, fmt.Errorf("find key id %x again: %w", s.id, err)
	}
	if len(keys) != 1 || !publicKeysEqual(keys[0].Public(), s.pub) {
		return nil, fmt.Errorf("key id %x is no longer on the token (found %d keys with that ID): %w", s.id, len(keys), ErrNotFound)
	}
	nb := &binding{key: keys[0], gen: c.gen}
	s.bound.Store(nb)
	return nb, nil
}

// checkRequest rejects requests crypto11 would mishandle silently (a digest
// of the wrong length, a hash without a PKCS#1 prefix) and maps PSS's
// automatic salt length to the hash length.
func (s *signer) checkRequest(digest []byte, opts crypto.SignerOpts) (crypto.SignerOpts, error) {
	if len(digest) == 0 {
		return nil, errors.New("hsm: sign: empty digest")
	}
	if !s.isRSA {
		return opts, nil
	}
	if opts == nil {
		return nil, errors.New("hsm: sign: RSA needs opts: a crypto.Hash or *rsa.PSSOptions")
	}
	pss, isPSS := opts.(*rsa.PSSOptions)
	h := opts.HashFunc()
	switch h {
	case crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512:
		if len(digest) != h.Size() {
			return nil, fmt.Errorf("hsm: sign: digest is %d bytes, %v needs %d", len(digest), h, h.Size())
		}
	case 0:
		if isPSS {
			return nil, errors.New("hsm: sign: PSS needs a hash function")
		}
		// PKCS#1 v1.5 without a DigestInfo prefix: digest is signed as is,
		// as crypto/rsa does for hash 0.
	default:
		return nil, fmt.Errorf("hsm: sign: hash %v is not supported", h)
	}
	if isPSS && pss.SaltLength == rsa.PSSSaltLengthAuto {
		return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: pss.Hash}, nil
	}
	return opts, nil
}
