package service

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"

	"esign/api"
	"esign/config"
	"esign/hsm"
	"esign/signer"
)

// credentialSpec is one entry of the ESIGN_CREDENTIALS file.
type credentialSpec struct {
	// Name is what API callers send as "signer".
	Name string `json:"name"`
	// KeyLabel is the key's CKA_LABEL on the token.
	KeyLabel string `json:"key_label"`
	// Chain is a PEM file with the signer certificate first and its CA
	// certificates after it. Empty: the certificate stored on the token
	// beside the key, alone.
	Chain string `json:"chain,omitempty"`
}

// openProduction opens the configured HSM and the credentials file.
func (s *Service) openProduction(ctx context.Context, cfg config.Config) error {
	if cfg.Credentials == "" {
		return errNoCredentials
	}
	km, err := hsm.Open(ctx, hsm.Config{
		ModulePath: cfg.PKCS11Module, TokenLabel: cfg.PKCS11Token, TokenSerial: cfg.PKCS11TokenSerial,
		PINSource: cfg.PKCS11PINSource,
	})
	if err != nil {
		return fmt.Errorf("open HSM: %w", err)
	}
	s.keys = km
	b, err := os.ReadFile(cfg.Credentials)
	if err != nil {
		return fmt.Errorf("read credentials: %w", err)
	}
	var specs []credentialSpec
	if err := json.Unmarshal(b, &specs); err != nil {
		return fmt.Errorf("parse credentials %s: %w", cfg.Credentials, err)
	}
	creds := api.CredentialMap{}
	for _, sp := range specs {
		cred, err := loadCredential(ctx, km, sp)
		if err != nil {
			return fmt.Errorf("credential %q: %w", sp.Name, err)
		}
		creds[sp.Name] = cred
	}
	s.Credentials = creds
	return nil
}

func loadCredential(ctx context.Context, km *hsm.KeyManager, sp credentialSpec) (signer.Credential, error) {
	ref := hsm.KeyRef{Label: sp.KeyLabel}
	key, err := km.Signer(ctx, ref)
	if err != nil {
		return signer.Credential{}, err
	}
	var chain []*x509.Certificate
	if sp.Chain != "" {
		b, err := os.ReadFile(sp.Chain)
		if err != nil {
			return signer.Credential{}, fmt.Errorf("read chain: %w", err)
		}
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return signer.Credential{}, fmt.Errorf("chain %s: %w", sp.Chain, err)
			}
			chain = append(chain, c)
		}
	} else {
		c, err := km.Certificate(ctx, ref)
		if err != nil {
			return signer.Credential{}, fmt.Errorf("certificate on token: %w", err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return signer.Credential{}, fmt.Errorf("no certificate")
	}
	if !publicKeyEqual(chain[0].PublicKey, key.Public()) {
		return signer.Credential{}, fmt.Errorf("the first certificate does not belong to key %q", sp.KeyLabel)
	}
	return signer.Credential{Signer: key, Chain: chain}, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
