//go:build !unix

package power

import "time"

// processCPU is unknown on this platform.
func processCPU() (time.Duration, bool) { return 0, false }
