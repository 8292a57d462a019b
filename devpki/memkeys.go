package devpki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"
)

// MemoryKeyStore is a KeyStore of software keys in process memory, for
// tests and tools that run without an HSM. Keys vanish with the process.
// The zero value is ready to use; it is safe for concurrent use and must
// not be copied.
type MemoryKeyStore struct {
	mu   sync.Mutex
	keys map[string]crypto.Signer
}

// Key implements KeyStore.
func (m *MemoryKeyStore) Key(ctx context.Context, label, alg string) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[label]; ok {
		if got := algorithmOf(k); got != alg {
			return nil, fmt.Errorf("devpki: key %q is %s, not %s", label, got, alg)
		}
		return k, nil
	}
	k, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	if m.keys == nil {
		m.keys = map[string]crypto.Signer{}
	}
	m.keys[label] = k
	return k, nil
}

func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "RSA-2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "RSA-3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "ECDSA-P256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECDSA-P384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("devpki: unknown key algorithm %q", alg)
}

func algorithmOf(k crypto.Signer) string {
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", pub.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA-" + map[string]string{"P-256": "P256", "P-384": "P384"}[pub.Curve.Params().Name]
	}
	return fmt.Sprintf("%T", k)
}
