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
// credentials whose chain is stored are kept, checked once, so a signature
// costs no lookup on the token and no parsing.
type Keys struct {
	km    *hsm.KeyManager
	mu    sync.Mutex
	keys  map[string]crypto.Signer                // by key label
	creds map[string]map[string]signer.Credential // by key label, then chain PEM
}

// NewKeys makes a resolver over km.
func NewKeys(km *hsm.KeyManager) *Keys {
	return &Keys{km: km, keys: map[string]crypto.Signer{}, creds: map[string]map[string]signer.Credential{}}
}

// Resolve implements api.Keys.
func (k *Keys) Resolve(ctx context.Context, c *store.Credential) (signer.Credential, error) {
	k.mu.Lock()
	cred, haveCred := k.creds[c.KeyLabel][string(c.ChainPEM)]
	key, haveKey := k.keys[c.KeyLabel]
	k.mu.Unlock()
	if haveCred {
		return cred, nil
	}
	var err error
	if !haveKey {
		if key, err = k.km.Signer(ctx, hsm.KeyRef{Label: c.KeyLabel}); err != nil {
			return signer.Credential{}, fmt.Errorf("key %q of credential %q: %w", c.KeyLabel, c.Name, err)
		}
	}
	var chain []*x509.Certificate
	if len(c.ChainPEM) > 0 {
		if chain, err = c.Chain(); err != nil {
			return signer.Credential{}, fmt.Errorf("chain of credential %q: %w", c.Name, err)
		}
	} else {
		// The certificate on the token may be replaced at any time
		// (esign keys), so it is read for every signature.
		cert, err := k.km.Certificate(ctx, hsm.KeyRef{Label: c.KeyLabel})
		if err != nil {
			return signer.Credential{}, fmt.Errorf("certificate of credential %q on the token: %w", c.Name, err)
		}
		chain = []*x509.Certificate{cert}
	}
	if !publicKeyEqual(chain[0].PublicKey, key.Public()) {
		return signer.Credential{}, fmt.Errorf("%w: the certificate of credential %q does not belong to key %q", signer.ErrCertificate, c.Name, c.KeyLabel)
	}
	cred = signer.Credential{Signer: key, Chain: chain}
	k.mu.Lock()
	k.keys[c.KeyLabel] = key
	if len(c.ChainPEM) > 0 {
		if k.creds[c.KeyLabel] == nil {
			k.creds[c.KeyLabel] = map[string]signer.Credential{}
		}
		k.creds[c.KeyLabel][string(c.ChainPEM)] = cred
	}
	k.mu.Unlock()
	return cred, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
