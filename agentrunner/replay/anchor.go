package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"golang.org/x/sys/unix"

	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
)

// anchorOf reads CLOCK_MONOTONIC and the run clock back to back and returns
// the monotonic time of the run clock's zero. Go's monotonic clock is
// CLOCK_MONOTONIC on Linux, so the two agree to the microsecond between the
// reads.
func anchorOf(c loadgen.Clock) bundle.ClockAnchor {
	var ts unix.Timespec
	since := c.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return bundle.ClockAnchor{Wall: c.Start()}
	}
	return bundle.ClockAnchor{Wall: c.Start(), MonotonicNs: ts.Nano() - since}
}
