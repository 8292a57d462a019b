// Package benchrate measures, for benchmarks, how many times per second an
// operation runs on a number of workers, with the Go runtime set up as
// esignd runs it. The signing benchmarks use it for the raw HSM rate they
// compare against.
package benchrate

import (
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"esign/internal/runtimetune"
)

// Rate runs op on workers goroutines for about d and returns the
// operations per second. An error from op fails tb and stops that worker.
func Rate(tb testing.TB, workers int, d time.Duration, op func() error) float64 {
	tb.Helper()
	defer runtimetune.Apply(os.Getenv)()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := op(); err != nil {
					tb.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}
