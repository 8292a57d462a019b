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

// CertificateFrom is child.CheckSignatureFrom(parent), remembered.
func (c *Cache) CertificateFrom(child, parent *x509.Certificate) error {
	return c.check(key('C', child.Raw, parent.Raw), func() error { return child.CheckSignatureFrom(parent) })
}

// CRLFrom is crl.CheckSignatureFrom(issuer), remembered.
func (c *Cache) CRLFrom(crl *x509.RevocationList, issuer *x509.Certificate) error {
	return c.check(key('R', crl.Raw, issuer.Raw), func() error { return crl.CheckSignatureFrom(issuer) })
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

// key names one check: its kind, the signed object and the signer, each
// with its length so that no two pairs of inputs run together. The whole
// parent certificate is hashed, not only its key: CheckSignatureFrom also
// asks that the parent may sign certificates, which its extensions say.
func key(kind byte, signed, signer []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [9]byte
	n[0] = kind
	binary.BigEndian.PutUint64(n[1:], uint64(len(signed)))
	h.Write(n[:])
	h.Write(signed)
	binary.BigEndian.PutUint64(n[1:], uint64(len(signer)))
	h.Write(n[1:])
	h.Write(signer)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
