package signer_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"esign/internal/benchrate"
	"esign/internal/runtimetune"
	"esign/internal/testenv"
	"esign/signer"
)

// BenchmarkSignVsRawHSM measures the raw SoftHSM RSA-2048 signing rate
// and the rate of whole B-B signatures on the 115 KB transcript, with one
// worker per CPU (2 on the reference machine) and the Go runtime set up as
// esignd runs it (runtimetune). The signing run measures the raw rate
// itself, for a second before and a second after, so that its
// "ratio-of-raw" (the target is >= 0.70) compares like with like
// even under -count or a drifting machine.
func BenchmarkSignVsRawHSM(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	env := testenv.New(b)
	cred := env.Creds["dev-official"]
	in, err := os.ReadFile("../testdata/corpus/transcript-chromium.pdf")
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("raw"))
	rawSign := func() error {
		_, err := cred.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		return err
	}
	b.Run("raw-rsa2048", func(b *testing.B) {
		runWorkers(b, workers, rawSign)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sig/s")
	})
	b.Run("sign-B-B-transcript", func(b *testing.B) {
		ctx := context.Background()
		b.SetBytes(int64(len(in)))
		// The first, one-document run only sizes the next.
		calibrating := b.N == 1
		var before float64
		if !calibrating {
			before = benchrate.Rate(b, workers, time.Second, rawSign)
		}
		runWorkers(b, workers, func() error {
			res, err := env.Signer.Sign(ctx, signer.Bytes(in), int64(len(in)), cred, signer.Options{Level: signer.LevelB})
			if err == nil && len(res.Appended) == 0 {
				err = errors.New("empty update")
			}
			return err
		})
		docs := float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(docs, "docs/s")
		if !calibrating {
			raw := (before + benchrate.Rate(b, workers, time.Second, rawSign)) / 2
			b.ReportMetric(raw, "raw-sig/s")
			b.ReportMetric(docs/raw, "ratio-of-raw")
		}
	})
}

// runWorkers runs op b.N times in all, on workers goroutines, with the
// runtime set up as in esignd. (The testing package resets GOMAXPROCS
// before each sub-benchmark, so it is set here.)
func runWorkers(b *testing.B, workers int, op func() error) {
	defer runtimetune.Apply(os.Getenv)()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(workers), "workers")
}

// BenchmarkSignLarge signs a 100 MB scanned-style PDF at B-B and reports
// the peak resident memory above the idle level ("peak-MB-over-idle"); the
// issue's target is <= 100 MB. The file is streamed, never loaded whole.
func BenchmarkSignLarge(b *testing.B) {
	env := testenv.New(b)
	path := filepath.Join(b.TempDir(), "large.pdf")
	if out, err := exec.Command("python3", "../testdata/corpus/make-large.py", path, "--pages", "50", "--mb", "100").CombinedOutput(); err != nil {
		b.Fatalf("make-large.py: %v\n%s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.SetBytes(st.Size())
	var worst float64
	for b.Loop() {
		runtime.GC()
		debug.FreeOSMemory()
		idle := procStatusKB(b, "VmRSS")
		resetPeakRSS(b)
		res, err := env.Signer.Sign(context.Background(), f, st.Size(), env.Creds["dev-official"], signer.Options{Level: signer.LevelB})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := res.Write(discard{}, f); err != nil {
			b.Fatal(err)
		}
		peak := procStatusKB(b, "VmHWM")
		worst = max(worst, float64(peak-idle)/1024)
	}
	b.ReportMetric(worst, "peak-MB-over-idle")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// resetPeakRSS resets VmHWM (Linux clear_refs 5), so the next reading is
// the peak of what follows.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS: %v", err)
	}
	time.Sleep(time.Millisecond)
}

func procStatusKB(b *testing.B, key string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("no %s in /proc/self/status", key)
	return 0
}
