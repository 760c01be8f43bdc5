package loadgen

import "time"

// Clock reads the run's monotonic clock: nanoseconds since the run started.
// Every timestamp of a request record comes from one Clock, so that records
// of a run compare exactly; the start's wall-clock time anchors them.
type Clock struct {
	start time.Time
}

// NewClock starts a run clock at start, which must carry a monotonic reading
// (a time.Now() value, not one parsed or rounded).
func NewClock(start time.Time) Clock { return Clock{start: start} }

// Start is the run's start, the anchor of every timestamp.
func (c Clock) Start() time.Time { return c.start }

// Now is the time since the run started, in nanoseconds.
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }
