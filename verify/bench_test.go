package verify_test

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"esign/signer"
	"esign/verify"
)

// BenchmarkVerifyLTA verifies a B-LTA transcript offline, in parallel,
// and reports verifications per second, the median latency and the CPU
// time per verification (which other load on the machine does not skew).
func BenchmarkVerifyLTA(b *testing.B) {
	f := newFixture(b)
	data := sign(b, f.env.Signer, corpus(b, "transcript-chromium.pdf"), f.env.Creds["dev-official"], signer.Options{Level: signer.LevelLTA})
	cfg := f.offline()
	rep := run(b, data, cfg)
	if rep.Document.Indication != verify.TotalPassed || rep.Signatures[0].Level != verify.LevelLTA {
		b.Fatalf("fixture does not verify: %s", dump(rep))
	}
	// per-call: every verification starts from nothing. shared-cache: a
	// long-running verifier keeps certificate paths in a verify.Cache.
	b.Run("per-call", func(b *testing.B) { benchVerify(b, data, cfg) })
	cached := cfg
	cached.Cache = verify.NewCache(0)
	b.Run("shared-cache", func(b *testing.B) { benchVerify(b, data, cached) })
}

func benchVerify(b *testing.B, data []byte, cfg verify.Config) {
	var mu sync.Mutex
	var lat []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			rep, err := verify.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), cfg)
			mine = append(mine, time.Since(t0))
			if err != nil || rep.Document.Indication != verify.TotalPassed {
				b.Errorf("verify: %v", err)
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "verifications/s")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "median-ms")
	}
	if cpu > 0 {
		// CPU time per verification: the throughput two idle cores would
		// give is 2/cpu-ms-per-op thousand per second.
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
}
