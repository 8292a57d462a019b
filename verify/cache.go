package verify

import (
	"crypto/x509"
	"sync"
)

// DefaultCacheEntries is the size NewCache uses for a non-positive limit.
const DefaultCacheEntries = 10000

// Bounds on the signed revisions whose structure a Cache keeps: each costs
// memory in proportion to the document's objects.
const (
	maxCachedRevisions     = 256
	maxCachedRevisionBytes = 64 << 20
)

// Cache keeps, across Verify calls, what holds for every document: the
// certificate paths found from a certificate to a trust anchor and the
// signatures checked between certificates and on CRLs. Documents from one
// CA share these, and checking them is most of the cost of a
// verification. Nothing a document alone decides (its signatures, tokens,
// OCSP responses, changes) is kept, but for one thing a signed revision
// alone decides: where it reaches each of its objects from, which the
// change analysis needs and which costs as much to learn as the rest of a
// verification. It is kept by the SHA-256 of the revision's bytes, so a
// document verified again is not walked again.
//
// A Cache is safe for concurrent use. Paths are kept per Config.Roots
// pool, which must not change while the Cache is in use with it. When full,
// the Cache forgets everything and starts again.
type Cache struct {
	mu     sync.Mutex
	max    int
	sigs   map[[32]byte]error
	chains map[chainKey][]*x509.Certificate
	roles  map[[32]byte]*roleMap
	// roleBytes is the memory the kept role maps take, roughly.
	roleBytes int64
}

type chainKey struct {
	roots *x509.CertPool
	leaf  [32]byte
}

// NewCache returns a Cache holding up to entries paths and signature
// checks; DefaultCacheEntries when entries <= 0.
func NewCache(entries int) *Cache {
	if entries <= 0 {
		entries = DefaultCacheEntries
	}
	return &Cache{max: entries, sigs: map[[32]byte]error{}, chains: map[chainKey][]*x509.Certificate{}, roles: map[[32]byte]*roleMap{}}
}

func (c *Cache) full() bool { return len(c.sigs)+len(c.chains) >= c.max }

func (c *Cache) reset() {
	c.sigs = map[[32]byte]error{}
	c.chains = map[chainKey][]*x509.Certificate{}
}

func (c *Cache) sig(key [32]byte) (error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, ok := c.sigs[key]
	return err, ok
}

func (c *Cache) putSig(key [32]byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full() {
		c.reset()
	}
	c.sigs[key] = err
}

func (c *Cache) chain(k chainKey) []*x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chains[k]
}

func (c *Cache) putChain(k chainKey, chain []*x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.full() {
		c.reset()
	}
	c.chains[k] = chain
}

// roleMap returns the structure of the signed revision with key, built
// by an earlier call; roleMaps are not changed once built.
func (c *Cache) roleMap(key [32]byte) *roleMap {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.roles[key]
}

func (c *Cache) putRoleMap(key [32]byte, rm *roleMap) {
	size := rm.size()
	if size > maxCachedRevisionBytes/4 {
		return // one huge document must not push out every other
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.roles) >= maxCachedRevisions || c.roleBytes+size > maxCachedRevisionBytes {
		c.roles, c.roleBytes = map[[32]byte]*roleMap{}, 0
	}
	c.roles[key] = rm
	c.roleBytes += size
}
