// Package runtimetune sets up the Go runtime for a process that signs
// through a PKCS#11 module: esignd, and the benchmarks that measure it.
package runtimetune

import (
	"runtime"
	"runtime/debug"
)

// GCPercent is the garbage collector's target for a signing process.
// Each signature allocates tens of kilobytes (the update it writes, the
// CMS, the upload in the server) and frees them at once, around a small
// live heap; collecting a quarter as often costs a few megabytes and buys
// about 10% more signatures per second (measured with the benchmarks of
// signer and esignd).
const GCPercent = 400

// Procs returns the GOMAXPROCS for a signing process on cpus CPUs: two per
// CPU.
//
// A goroutine inside a PKCS#11 call keeps its P in the syscall state. When
// no P is idle, the runtime's monitor takes that P back within about 20 µs
// and hands it to another thread, and the goroutine, back from the module,
// must find a P again: thread wake-ups and context switches around every
// signature, and idle CPUs while they happen. With a spare P per CPU the
// monitor leaves a P in a module call alone (for up to 10 ms), and the
// goroutine resumes on it at once. Measured on 2 CPUs, B-B documents with
// 2 workers: 3.9 context switches per document and 87% CPU use with
// GOMAXPROCS=2, 1.6 and 94% with 4.
func Procs(cpus int) int {
	return 2 * max(cpus, 1)
}

// Apply sets GOMAXPROCS to Procs of the current value and the GC percent
// to GCPercent, except where the GOMAXPROCS or GOGC environment variables
// (read through getenv) already chose. It returns a function that puts
// back what it changed.
func Apply(getenv func(string) string) (restore func()) {
	var undo []func()
	if getenv("GOMAXPROCS") == "" {
		prev := runtime.GOMAXPROCS(Procs(runtime.GOMAXPROCS(0)))
		undo = append(undo, func() { runtime.GOMAXPROCS(prev) })
	}
	if getenv("GOGC") == "" {
		prev := debug.SetGCPercent(GCPercent)
		undo = append(undo, func() { debug.SetGCPercent(prev) })
	}
	return func() {
		for _, f := range undo {
			f()
		}
	}
}
