package replay

import (
	"fmt"
	"strings"
	"time"
)

// etaEstimator estimates a run's time left from two things it can stand
// behind: the probes the search may still run (its own bound, per tier,
// from each tier's bracket; see Runner.searchBound) and the measured
// durations of the probes so far (before the first, a prior: the
// profile's least probe duration).
//
// Between two probe completions the bound and the mean are fixed, so the
// estimate only counts down: mean × probes left − the current probe's
// elapsed time, the latter capped at the mean (a probe running long holds
// the estimate rather than driving it below what the other probes need).
// It changes otherwise only when a unit begins or ends; an increase then
// carries a reason (the bound grew, probes took longer than estimated), so
// the display never jumps up without saying why.
//
// Times are run-clock nanoseconds, so tests drive it with a fake clock.
type etaEstimator struct {
	prior time.Duration // a probe's duration before any is measured

	measured int           // probes measured
	total    time.Duration // their summed durations

	left     int   // probes left, the current one included
	curStart int64 // run clock of the current unit's start; -1: none
	probe    bool  // the current unit is a probe (not calibration)

	// What the display last showed (eta), and the mean and bound behind
	// it; changed says begin or done ran since.
	shown     time.Duration
	shownMean time.Duration
	shownLeft int
	changed   bool
	reason    string        // why the estimate last rose; "" when it did not
	riseFrom  time.Duration // the estimate shown before it rose
}

func newETAEstimator(prior time.Duration) *etaEstimator {
	return &etaEstimator{prior: prior, curStart: -1, shown: -1}
}

// mean is the measured mean probe duration, or the prior.
func (e *etaEstimator) mean() time.Duration {
	if e.measured == 0 {
		return e.prior
	}
	return e.total / time.Duration(e.measured)
}

// begin starts a unit of work at now with left probes to go (this one
// included); probe says whether the unit is a probe whose duration counts
// toward the mean (calibration is not).
func (e *etaEstimator) begin(now int64, left int, probe bool, why string) {
	e.curStart, e.probe = now, probe
	e.left = max(left, 0)
	e.settle(now, why)
}

// done ends the current probe at now: its duration (from its begin) joins
// the mean, and one probe fewer is left.
func (e *etaEstimator) done(now int64) {
	if e.curStart >= 0 && e.probe && now > e.curStart {
		e.measured++
		e.total += time.Duration(now - e.curStart)
	}
	e.curStart = -1
	e.left = max(e.left-1, 0)
	e.settle(now, "")
}

// settle notes a change of the estimate and why it rose above what was
// last shown; why describes the search's state.
func (e *etaEstimator) settle(now int64, why string) {
	e.changed = true
	if e.shown < 0 || e.raw(now) <= e.shown {
		e.reason = ""
		return
	}
	var parts []string
	if m, was := e.mean().Round(time.Second), e.shownMean.Round(time.Second); m > was && was > 0 {
		parts = append(parts, fmt.Sprintf("probes take %s, not %s", m, was))
	}
	if e.left > e.shownLeft {
		if why == "" {
			why = "the search"
		}
		parts = append(parts, fmt.Sprintf("%s: up to %d probes left, was %d", why, e.left, e.shownLeft))
	}
	if len(parts) == 0 {
		parts = append(parts, "the last step took longer than estimated")
	}
	e.reason, e.riseFrom = strings.Join(parts, "; "), e.shown
}

// raw is the estimate at now.
func (e *etaEstimator) raw(now int64) time.Duration {
	m := e.mean()
	eta := m * time.Duration(e.left)
	if e.curStart >= 0 && e.left > 0 {
		eta -= min(time.Duration(now-e.curStart), m)
	}
	return max(eta, 0)
}

// eta is the estimate at now and, when it last rose, why. Between one
// begin or done and the next it never rises.
func (e *etaEstimator) eta(now int64) (time.Duration, string) {
	eta := e.raw(now)
	if !e.changed && e.shown >= 0 && eta > e.shown {
		eta = e.shown // a clock read out of order; never count up
	}
	if !e.changed && eta <= e.riseFrom {
		e.reason = "" // counted back down below where it rose from
	}
	e.changed = false
	e.shown, e.shownMean, e.shownLeft = eta, e.mean(), e.left
	return eta, e.reason
}
