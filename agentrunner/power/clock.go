package power

import "time"

// Clock is a run's monotonic clock: nanoseconds since the run's start, the
// clock of every request record. The start must carry a monotonic reading
// (a time.Now() value, not one parsed or rounded).
type Clock struct {
	start time.Time
	// hostMonoAtStart is CLOCK_MONOTONIC at start, in ns; hostMonoOK says
	// whether it could be read.
	hostMonoAtStart int64
	hostMonoOK      bool
}

// NewClock makes the clock of a run that started at runStart.
func NewClock(runStart time.Time) Clock {
	c := Clock{start: runStart}
	// Go's monotonic clock is CLOCK_MONOTONIC on Linux: read both at once
	// to place the run's start on the host's clock.
	if m, ok := hostMonotonic(); ok {
		c.hostMonoAtStart = m - time.Since(runStart).Nanoseconds()
		c.hostMonoOK = true
	}
	return c
}

// Start is the run's start.
func (c Clock) Start() time.Time { return c.start }

// Now is nanoseconds since the run's start.
func (c Clock) Now() int64 { return time.Since(c.start).Nanoseconds() }

// UnixNano is the wall-clock time (Unix ns) of the run-clock time t.
func (c Clock) UnixNano(t int64) int64 { return c.start.UnixNano() + t }

// FromHostMonotonic converts a CLOCK_MONOTONIC reading (ns), as another
// process on this host reports it, to the run's clock. It reports false
// where the host's monotonic clock cannot be read.
func (c Clock) FromHostMonotonic(ns int64) (int64, bool) {
	if !c.hostMonoOK {
		return 0, false
	}
	return ns - c.hostMonoAtStart, true
}
