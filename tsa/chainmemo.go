package tsa

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"

	"esign/sigmemo"
)

// chainMemo remembers TSA certificate chains found valid under a set of
// roots, with the span of time in which the chain found holds. Every token
// of a TSA brings the same certificates, and building and checking their
// chain costs public-key operations on each one (with RSA, as much as a
// tenth of a B-LTA signature's CPU). A token whose time falls outside the
// span, or that brings other certificates, is checked in full.
type chainMemo struct {
	mu    sync.Mutex
	roots *x509.CertPool // the pool the spans hold for
	spans map[[sha256.Size]byte]validSpan
}

type validSpan struct{ from, until time.Time }

// maxChainMemo bounds the chains remembered; past it the memo starts
// again empty.
const maxChainMemo = 256

// verify is tok.VerifyChain(roots, nil), remembered.
func (m *chainMemo) verify(tok *Token, roots *x509.CertPool) error {
	k := chainKey(tok)
	m.mu.Lock()
	if m.roots != roots {
		m.roots, m.spans = roots, nil
	}
	s, ok := m.spans[k]
	m.mu.Unlock()
	if ok && !tok.Time.Before(s.from) && !tok.Time.After(s.until) {
		return nil
	}
	chains, err := tok.VerifyChain(roots, nil)
	if err != nil {
		return err
	}
	// The first chain holds while every certificate on it does.
	s = validSpan{from: chains[0][0].NotBefore, until: chains[0][0].NotAfter}
	for _, c := range chains[0][1:] {
		if c.NotBefore.After(s.from) {
			s.from = c.NotBefore
		}
		if c.NotAfter.Before(s.until) {
			s.until = c.NotAfter
		}
	}
	m.mu.Lock()
	if m.roots == roots {
		if m.spans == nil || len(m.spans) >= maxChainMemo {
			m.spans = make(map[[sha256.Size]byte]validSpan)
		}
		m.spans[k] = s
	}
	m.mu.Unlock()
	return nil
}

// chainKey names the certificates a token brings: its signer's and the
// others it carries, in order.
func chainKey(tok *Token) [sha256.Size]byte {
	raws := [][]byte{tok.Certificate.Raw}
	for _, c := range tok.Certificates {
		raws = append(raws, c.Raw)
	}
	return sigmemo.Key('T', raws...)
}
