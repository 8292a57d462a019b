package hsm_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"testing"

	"esign/hsm"
	"esign/hsm/hsmtest"
)

// BenchmarkSignRSA2048 measures RSA-2048 PKCS#1 v1.5 signatures per second
// from parallel goroutines, through the KeyManager's signer and through a
// plain crypto11 key on the same token, for comparison: the signer must add
// nothing measurable. Compare the two ns/op figures.
func BenchmarkSignRSA2048(b *testing.B) {
	ctx := context.Background()
	m, cfg := hsmtest.NewToken(b, "bench")
	s, err := m.CreateKey(ctx, "bench", hsm.RSA2048)
	if err != nil {
		b.Fatal(err)
	}
	direct, err := openCrypto11(b, cfg).FindKeyPair(nil, []byte("bench"))
	if err != nil || direct == nil {
		b.Fatalf("crypto11 FindKeyPair: %v", err)
	}
	digest := sha256Sum("benchmark")

	for _, bc := range []struct {
		name string
		s    crypto.Signer
	}{
		{"KeyManager", s},
		{"crypto11", direct},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bc.s.Sign(rand.Reader, digest, crypto.SHA256); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sig/s")
		})
	}
}
