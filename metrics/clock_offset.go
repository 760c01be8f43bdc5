package metrics

import (
	"errors"
	"fmt"
)

// ErrNoClockRound: no usable round of a clock exchange (none at all, or
// every one with a timestamp out of order).
var ErrNoClockRound = errors.New("no usable clock exchange round")

// ClockRound is one NTP-style exchange between a group's leader and one of
// its members: T1 the leader sends the request and T4 it receives the
// reply, on the leader's clock; T2 the member receives the request and T3
// it sends the reply, on the member's clock. Nanoseconds.
type ClockRound struct {
	T1 int64 `json:"t1_ns"`
	T2 int64 `json:"t2_ns"`
	T3 int64 `json:"t3_ns"`
	T4 int64 `json:"t4_ns"`
}

// ClockOffset is a member's clock against the leader's, as measured by one
// round: member time = leader time + OffsetNs. DelayNs is the round trip
// net of the member's own time between T2 and T3; the true offset lies
// within ±UncertaintyNs (half the delay) of OffsetNs whatever the split of
// the delay between the two directions.
type ClockOffset struct {
	OffsetNs      int64 `json:"offset_ns"`
	UncertaintyNs int64 `json:"uncertainty_ns"`
	DelayNs       int64 `json:"delay_ns"`
}

// Offset is the round's offset: ((T2 − T1) + (T3 − T4)) / 2, delay
// (T4 − T1) − (T3 − T2), uncertainty delay / 2 (rounded up). A round whose
// leader or member timestamps go backwards, or whose delay is negative,
// is an error: it measured nothing.
func (r ClockRound) Offset() (ClockOffset, error) {
	if r.T4 < r.T1 || r.T3 < r.T2 {
		return ClockOffset{}, fmt.Errorf("clock round %+v: timestamps out of order", r)
	}
	delay := (r.T4 - r.T1) - (r.T3 - r.T2)
	if delay < 0 {
		return ClockOffset{}, fmt.Errorf("clock round %+v: negative delay %d ns", r, delay)
	}
	// Halve each difference before adding them so that clocks far apart
	// (Unix nanoseconds against a run's monotonic clock) cannot overflow.
	a, b := r.T2-r.T1, r.T3-r.T4
	off := a/2 + b/2 + (a%2+b%2)/2
	return ClockOffset{OffsetNs: off, UncertaintyNs: (delay + 1) / 2, DelayNs: delay}, nil
}

// BestClockOffset is the offset of the round with the smallest delay (the
// first of equals): the one whose request and reply waited least in
// queues, so its uncertainty is the smallest. Rounds that measured nothing
// are skipped; none left is ErrNoClockRound.
func BestClockOffset(rounds []ClockRound) (ClockOffset, error) {
	best, found := ClockOffset{}, false
	for _, r := range rounds {
		o, err := r.Offset()
		if err != nil {
			continue
		}
		if !found || o.DelayNs < best.DelayNs {
			best, found = o, true
		}
	}
	if !found {
		return ClockOffset{}, fmt.Errorf("%d rounds: %w", len(rounds), ErrNoClockRound)
	}
	return best, nil
}

// ClockPoint is a measured offset at a time on the leader's clock
// (AtNs: the middle of the round, (T1 + T4) / 2).
type ClockPoint struct {
	AtNs     int64
	OffsetNs int64
}

// OffsetAt is the member's offset at leader time t from measured points
// sorted by AtNs: linear between the two points around t (a clock that
// drifts steadily is followed), the nearest point's outside them. ok is
// false without points.
func OffsetAt(points []ClockPoint, t int64) (offset int64, ok bool) {
	if len(points) == 0 {
		return 0, false
	}
	if t <= points[0].AtNs {
		return points[0].OffsetNs, true
	}
	for i := 1; i < len(points); i++ {
		a, b := points[i-1], points[i]
		if t > b.AtNs {
			continue
		}
		if b.AtNs == a.AtNs {
			return b.OffsetNs, true
		}
		frac := float64(t-a.AtNs) / float64(b.AtNs-a.AtNs)
		return a.OffsetNs + int64(frac*float64(b.OffsetNs-a.OffsetNs)), true
	}
	return points[len(points)-1].OffsetNs, true
}

// AlignSamples maps power samples stamped on a member's clock onto the
// leader's: each sample's time t becomes t − offset, with the offset at
// the sample's approximate leader time (t − the first point's offset),
// interpolated by OffsetAt. The samples are copied; without points they
// are returned unchanged.
func AlignSamples(samples []PowerSample, points []ClockPoint) []PowerSample {
	if len(points) == 0 {
		return samples
	}
	out := make([]PowerSample, len(samples))
	for i, s := range samples {
		approx := s.TMonoNs - points[0].OffsetNs
		off, _ := OffsetAt(points, approx)
		s.TMonoNs -= off
		out[i] = s
	}
	return out
}
