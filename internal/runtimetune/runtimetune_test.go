package runtimetune

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	tests := []struct {
		name              string
		env               map[string]string
		wantProcs, wantGC int
	}{
		{"defaults", nil, Procs(procs), GCPercent},
		{"GOMAXPROCS set", map[string]string{"GOMAXPROCS": "1"}, procs, GCPercent},
		{"GOGC set", map[string]string{"GOGC": "50"}, Procs(procs), gc},
		{"both set", map[string]string{"GOMAXPROCS": "1", "GOGC": "50"}, procs, gc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			restore := Apply(func(k string) string { return tc.env[k] })
			gotProcs := runtime.GOMAXPROCS(0)
			gotGC := debug.SetGCPercent(-1)
			debug.SetGCPercent(gotGC)
			restore()
			if gotProcs != tc.wantProcs || gotGC != tc.wantGC {
				t.Errorf("GOMAXPROCS %d, GC %d%%; want %d, %d%%", gotProcs, gotGC, tc.wantProcs, tc.wantGC)
			}
			afterGC := debug.SetGCPercent(-1)
			debug.SetGCPercent(afterGC)
			if p := runtime.GOMAXPROCS(0); p != procs || afterGC != gc {
				t.Errorf("after restore: GOMAXPROCS %d, GC %d%%; want %d, %d%%", p, afterGC, procs, gc)
			}
		})
	}
}

func TestProcs(t *testing.T) {
	for cpus, want := range map[int]int{0: 2, 1: 2, 2: 4, 16: 32} {
		if got := Procs(cpus); got != want {
			t.Errorf("Procs(%d) = %d, want %d", cpus, got, want)
		}
	}
}
