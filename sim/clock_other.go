//go:build !linux

package sim

import "time"

// MonoClock names the clock behind t_mono_ns.
const MonoClock = "process-monotonic"

var processStart = time.Now()

// monoNow is ns since the process started (Go's monotonic clock); it is not
// comparable across processes on this platform.
func monoNow() int64 { return int64(time.Since(processStart)) }
