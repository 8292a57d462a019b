package service

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"sync"

	"esign/hsm"
	"esign/signer"
	"esign/store"
)

// Keys resolves stored credentials to HSM keys and chains. Key handles and
// parsed chains are kept, so a signature costs no lookup on the token.
type Keys struct {
	km     *hsm.KeyManager
	mu     sync.Mutex
	keys   map[string]crypto.Signer       // by key label
	chains map[string][]*x509.Certificate // by chain PEM
}

// NewKeys makes a resolver over km.
func NewKeys(km *hsm.KeyManager) *Keys {
	return &Keys{km: km, keys: map[string]crypto.Signer{}, chains: map[string][]*x509.Certificate{}}
}

// Resolve implements api.Keys.
func (k *Keys) Resolve(ctx context.Context, c *store.Credential) (signer.Credential, error) {
	k.mu.Lock()
	key, haveKey := k.keys[c.KeyLabel]
	chain, haveChain := k.chains[string(c.ChainPEM)]
	k.mu.Unlock()
	var err error
	if !haveKey {
		if key, err = k.km.Signer(ctx, hsm.KeyRef{Label: c.KeyLabel}); err != nil {
			return signer.Credential{}, fmt.Errorf("key %q of credential %q: %w", c.KeyLabel, c.Name, err)
		}
	}
	if !haveChain {
		if len(c.ChainPEM) > 0 {
			if chain, err = c.Chain(); err != nil {
				return signer.Credential{}, fmt.Errorf("chain of credential %q: %w", c.Name, err)
			}
		} else {
			cert, err := k.km.Certificate(ctx, hsm.KeyRef{Label: c.KeyLabel})
			if err != nil {
				return signer.Credential{}, fmt.Errorf("certificate of credential %q on the token: %w", c.Name, err)
			}
			chain = []*x509.Certificate{cert}
		}
	}
	if !publicKeyEqual(chain[0].PublicKey, key.Public()) {
		return signer.Credential{}, fmt.Errorf("%w: the certificate of credential %q does not belong to key %q", signer.ErrCertificate, c.Name, c.KeyLabel)
	}
	k.mu.Lock()
	k.keys[c.KeyLabel] = key
	if len(c.ChainPEM) > 0 {
		k.chains[string(c.ChainPEM)] = chain
	}
	k.mu.Unlock()
	return signer.Credential{Signer: key, Chain: chain}, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
