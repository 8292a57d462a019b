// Package devstack sets up the embedded development environment under one
// data directory: a SoftHSM2 token, the development PKI whose keys live in
// it, the API clients the acceptance checks use, and the services (TSA,
// OCSP, CRL) the development certificates point at.
//
// Nothing here is used in production; production names a real HSM, real
// CAs and a real TSA through configuration.
package devstack

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"esign/devpki"
	"esign/hsm"
	"esign/internal/atomicfile"
	"esign/signer"
)

// TokenLabel is the development token's label.
const TokenLabel = "esign-dev"

// SignerNames are the development signer credentials.
var SignerNames = []string{"dev-official", "dev-registrar", "dev-director"}

// Stack is the opened development environment.
type Stack struct {
	DataDir     string
	Keys        *hsm.KeyManager
	PKI         *devpki.PKI
	Credentials map[string]signer.Credential
}

// SoftHSMConfig writes the SoftHSM2 configuration that keeps the token
// under dataDir and returns its path. The caller exports it as
// SOFTHSM2_CONF before anything loads the PKCS#11 module, because SoftHSM
// reads it once per process.
func SoftHSMConfig(dataDir string) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	tokens := filepath.Join(abs, "softhsm", "tokens")
	// SoftHSM's parser ends a configuration value at a '=' or a '#'
	// (seen with SoftHSM 2.6), so such a path would leave the module
	// unable to start, with only CKR_GENERAL_ERROR to show for it.
	if strings.ContainsAny(tokens, "=#\r\n") {
		return "", fmt.Errorf("data directory %q: SoftHSM cannot use a path containing '=', '#' or a line break", abs)
	}
	if err := os.MkdirAll(tokens, 0o700); err != nil {
		return "", fmt.Errorf("make token directory: %w", err)
	}
	conf := filepath.Join(abs, "softhsm", "softhsm2.conf")
	want := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if cur, err := os.ReadFile(conf); err == nil && string(cur) == want {
		return conf, nil
	}
	if err := atomicfile.Write(conf, []byte(want), 0o600); err != nil {
		return "", err
	}
	return conf, nil
}

// secret returns the secret stored in dataDir/secrets/name, making a
// random one on first use. Secrets live in files, never in arguments.
func secret(dataDir, name string) (string, error) {
	dir := filepath.Join(dataDir, "secrets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := hex.EncodeToString(b)
	if err := atomicfile.Write(path, []byte(s+"\n"), 0o600); err != nil {
		return "", err
	}
	return s, nil
}

// PINFile is where the development token's user PIN is kept.
func PINFile(dataDir string) string { return filepath.Join(dataDir, "secrets", "user-pin") }

// OpenToken opens the development token, initialising it on first use.
func OpenToken(ctx context.Context, dataDir, modulePath string) (*hsm.KeyManager, error) {
	userPIN, err := secret(dataDir, "user-pin")
	if err != nil {
		return nil, fmt.Errorf("user PIN: %w", err)
	}
	cfg := hsm.Config{ModulePath: modulePath, TokenLabel: TokenLabel, PIN: userPIN}
	km, err := hsm.Open(ctx, cfg)
	if err == nil {
		return km, nil
	}
	if !errors.Is(err, hsm.ErrNotFound) {
		return nil, fmt.Errorf("open development token: %w", err)
	}
	soPIN, err := secret(dataDir, "so-pin")
	if err != nil {
		return nil, fmt.Errorf("SO PIN: %w", err)
	}
	if err := hsm.InitToken(ctx, modulePath, TokenLabel, soPIN, userPIN); err != nil {
		return nil, fmt.Errorf("initialise development token: %w", err)
	}
	km, err = hsm.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open development token: %w", err)
	}
	return km, nil
}

// KeyStore adapts a token to devpki.KeyStore: keys are found by label,
// or made inside the token on first use.
type KeyStore struct{ KM *hsm.KeyManager }

// Key implements devpki.KeyStore.
func (k KeyStore) Key(ctx context.Context, label, alg string) (crypto.Signer, error) {
	s, err := k.KM.Signer(ctx, hsm.KeyRef{Label: label})
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, hsm.ErrNotFound) {
		return nil, err
	}
	return k.KM.CreateKey(ctx, label, hsm.Algorithm(alg))
}

// Open brings up the development environment in dataDir. baseURL is where
// the running service answers, which the certificates' AIA and CRL
// distribution point URLs name.
func Open(ctx context.Context, dataDir, modulePath, baseURL string) (*Stack, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("make data directory: %w", err)
	}
	km, err := OpenToken(ctx, dataDir, modulePath)
	if err != nil {
		return nil, err
	}
	st := &Stack{DataDir: dataDir, Keys: km, Credentials: map[string]signer.Credential{}}
	st.PKI, err = devpki.Ensure(ctx, KeyStore{km}, filepath.Join(dataDir, "pki"), devpki.Options{BaseURL: baseURL})
	if err != nil {
		km.Close()
		return nil, fmt.Errorf("development PKI: %w", err)
	}
	for _, name := range SignerNames {
		c, ok := st.PKI.Credentials[name]
		if !ok {
			km.Close()
			return nil, fmt.Errorf("development PKI has no credential %q", name)
		}
		st.Credentials[name] = signer.Credential{Signer: c.Signer, Chain: c.Chain}
		// Keep the certificate on the token beside its key, as an
		// operator would with `esign keys import-cert`.
		if _, err := km.Certificate(ctx, hsm.KeyRef{Label: name}); errors.Is(err, hsm.ErrNotFound) {
			if err := km.ImportCertificate(ctx, hsm.KeyRef{Label: name}, c.Chain[0]); err != nil && !errors.Is(err, hsm.ErrAlreadyExists) {
				km.Close()
				return nil, fmt.Errorf("store certificate of %s: %w", name, err)
			}
		}
	}
	return st, nil
}

// Close releases the token.
func (s *Stack) Close() error { return s.Keys.Close() }
