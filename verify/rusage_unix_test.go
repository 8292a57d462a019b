//go:build unix

package verify_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used, to
// report cost per verification independently of other load on the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
