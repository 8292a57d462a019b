package csc_test

import (
	"crypto"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"esign/csc"
	"esign/store"
)

// BenchmarkSignHash compares signatures/signHash, with 1, 10 and 100
// hashes a call (one authorize each, on SQLite), to the raw rate of the
// same SoftHSM2 key (dev-official, RSA-2048) in the same run: the
// target is 70% of raw at 100. Each sub-benchmark reports sigs/s.
func BenchmarkSignHash(b *testing.B) {
	f := newFixture(b, store.SQLite)
	key := f.keys["dev-official"].Signer
	rate := func(b *testing.B, sigs int, d time.Duration) float64 {
		r := float64(sigs) / d.Seconds()
		b.ReportMetric(r, "sigs/s")
		return r
	}
	var raw float64
	b.Run("raw", func(b *testing.B) {
		h := digest(crypto.SHA256)
		start := time.Now()
		for b.Loop() {
			if _, err := key.Sign(rand.Reader, h, crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
		raw = rate(b, b.N, time.Since(start))
	})
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			hashes := make([]string, n)
			for i := range hashes {
				hashes[i] = b64(digest(crypto.SHA256))
			}
			start := time.Now()
			for b.Loop() {
				sad := f.authorize(b, f.key, "dev-official", n, nil, "", "")
				status, out := f.call(b, f.key, "v2/signatures/signHash", map[string]any{"credentialID": "dev-official", "SAD": sad,
					"hashes": hashes, "hashAlgorithmOID": csc.OIDSHA256, "signAlgo": csc.OIDRSA})
				if status != 200 {
					b.Fatalf("%d %v", status, out)
				}
			}
			r := rate(b, b.N*n, time.Since(start))
			if raw > 0 {
				b.ReportMetric(100*r/raw, "%raw")
			}
		})
	}
}
