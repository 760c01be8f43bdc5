//go:build linux

package power

import "golang.org/x/sys/unix"

// hostMonotonic reads CLOCK_MONOTONIC, the clock Go's runtime uses for
// time.Since and the one the sim engine reports as t_mono_ns.
func hostMonotonic() (int64, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}
