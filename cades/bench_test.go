package cades

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"testing"
)

// BenchmarkSign compares Sign+Marshal with the bare key operation it wraps, to show the CMS
// overhead (the signer side must keep >=70% of the raw HSM rate).
func BenchmarkSign(b *testing.B) {
	digest := sha256.Sum256([]byte("PDF byte range"))
	for _, bc := range []struct {
		name string
		key  crypto.Signer
	}{
		{"RSA-2048", newRSAKey(b, 2048)},
		{"ECDSA-P256", newECKey(b, elliptic.P256())},
	} {
		pki := newTestPKI(b, bc.key, 3)
		b.Run(bc.name+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
		// CMS-only: the key operation is replaced by a precomputed value, isolating what this
		// package adds on top of the HSM call.
		sig, err := bc.key.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			b.Fatal(err)
		}
		fixed := fixedSigner{bc.key, sig}
		b.Run(bc.name+"/CMS-only", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sd, err := Sign(context.Background(), digest[:], fixed, pki.chain, SignOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := sd.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/Sign+Marshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sd, err := Sign(context.Background(), digest[:], bc.key, pki.chain, SignOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := sd.Marshal(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// The function the brief names as the baseline.
	rk := newRSAKey(b, 2048).(*rsa.PrivateKey)
	b.Run("RSA-2048/rsa.SignPKCS1v15", func(b *testing.B) {
		for b.Loop() {
			if _, err := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fixedSigner returns one precomputed signature; only for measuring encoding cost.
type fixedSigner struct {
	crypto.Signer
	sig []byte
}

func (f fixedSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return f.sig, nil }
