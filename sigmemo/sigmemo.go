// Package sigmemo remembers certificate and CRL signatures already found
// valid. A signing service checks the same few chains (the signer's, the
// TSA's, the CA's CRL) for every document; with RSA keys the public-key
// operations came to a third of the CPU of a B-LTA signature. Only
// successes are remembered, keyed by the exact signed bytes and the exact
// public key, so an answer from the cache is the answer the check would
// give again.
package sigmemo

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
)

// maxEntries bounds a cache; when full it starts again empty, which costs
// only the checks it then repeats.
const maxEntries = 4096

// Cache holds signatures found valid. The zero value is ready to use; a
// nil *Cache checks every time.
type Cache struct {
	mu sync.Mutex
	ok map[[sha256.Size]byte]struct{}
}

// CertificateFrom is child.CheckSignatureFrom(parent), remembered. The
// whole parent certificate goes into the key, not only its public key:
// CheckSignatureFrom also asks that the parent may sign certificates,
// which its extensions say.
func (c *Cache) CertificateFrom(child, parent *x509.Certificate) error {
	return c.check(Key('C', child.Raw, parent.Raw), func() error { return child.CheckSignatureFrom(parent) })
}

// CRLFrom is crl.CheckSignatureFrom(issuer), remembered.
func (c *Cache) CRLFrom(crl *x509.RevocationList, issuer *x509.Certificate) error {
	return c.check(Key('R', crl.Raw, issuer.Raw), func() error { return crl.CheckSignatureFrom(issuer) })
}

func (c *Cache) check(k [sha256.Size]byte, verify func() error) error {
	if c == nil {
		return verify()
	}
	c.mu.Lock()
	_, ok := c.ok[k]
	c.mu.Unlock()
	if ok {
		return nil
	}
	if err := verify(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.ok == nil || len(c.ok) >= maxEntries {
		c.ok = make(map[[sha256.Size]byte]struct{})
	}
	c.ok[k] = struct{}{}
	c.mu.Unlock()
	return nil
}

// Key hashes kind and parts into one key, each part with its length so
// that no two lists of parts run together: the key of a memo of checks
// whose answer the parts fix.
func Key(kind byte, parts ...[]byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte{kind})
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write(p)
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
