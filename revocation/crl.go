package revocation

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// CRLHandler publishes the DER CRL of one issuer over HTTP (GET or HEAD).
// The CRL is cached and signed again when it is older than Refresh or when
// the revoked set from Source changed. Its CRLNumber always grows, also
// across restarts, as it is at least the Unix time of thisUpdate. A
// CRLHandler must not be copied after first use.
type CRLHandler struct {
	// Issuer signs the CRL with Signer; it needs keyUsage cRLSign.
	Issuer *x509.Certificate
	Signer crypto.Signer
	// Source lists the revoked certificates.
	Source Lister
	// Refresh is the age after which the CRL is signed again. Default: 1 hour.
	Refresh time.Duration
	// Validity is the span from thisUpdate to nextUpdate. Default: 24 hours.
	Validity time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time

	mu         sync.Mutex
	der        []byte
	thisUpdate time.Time
	digest     [sha256.Size]byte // of the revoked set the cached CRL lists
	number     *big.Int
}

// ServeHTTP implements http.Handler.
func (c *CRLHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	der, err := c.CRL(r.Context())
	if err != nil {
		http.Error(w, "CRL unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Content-Length", strconv.Itoa(len(der)))
	// Revocations must show up at once, so caches have to ask again.
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodGet {
		w.Write(der)
	}
}

// CRL returns the current DER CRL, signing a new one when needed.
func (c *CRLHandler) CRL(ctx context.Context) ([]byte, error) {
	revoked, err := c.Source.Revoked(ctx)
	if err != nil {
		return nil, fmt.Errorf("revocation: list revoked certificates: %w", err)
	}
	h := sha256.New()
	for _, e := range revoked {
		fmt.Fprintf(h, "%x %d %d\n", e.Serial, e.RevokedAt.Unix(), e.Reason)
	}
	var digest [sha256.Size]byte
	h.Sum(digest[:0])

	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	now = now.UTC().Truncate(time.Second)
	refresh, validity := c.Refresh, c.Validity
	if refresh <= 0 {
		refresh = time.Hour
	}
	if validity <= 0 {
		validity = 24 * time.Hour
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.der != nil && digest == c.digest && now.Before(c.thisUpdate.Add(refresh)) && !now.Before(c.thisUpdate) {
		return c.der, nil
	}

	number := big.NewInt(now.Unix())
	if c.number != nil && number.Cmp(c.number) <= 0 {
		number = new(big.Int).Add(c.number, big.NewInt(1))
	}
	tmpl := &x509.RevocationList{
		Number:     number,
		ThisUpdate: now,
		NextUpdate: now.Add(validity),
	}
	for _, e := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber:   e.Serial,
			RevocationTime: e.RevokedAt.UTC(),
			ReasonCode:     e.Reason,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.Issuer, c.Signer)
	if err != nil {
		return nil, fmt.Errorf("revocation: sign CRL: %w", err)
	}
	c.der, c.thisUpdate, c.digest, c.number = der, now, digest, number
	return der, nil
}
