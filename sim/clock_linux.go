//go:build linux

package sim

import "golang.org/x/sys/unix"

// MonoClock names the clock behind t_mono_ns.
const MonoClock = "CLOCK_MONOTONIC"

// monoNow reads CLOCK_MONOTONIC, shared by all processes on the host.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
