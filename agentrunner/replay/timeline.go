package replay

import (
	"sync"

	"github.com/agentwatt/agentwatt/metrics"
)

// timeline holds the probe boundaries on the run clock, so that each
// request record is labelled with the probe and phase its send time falls
// in. Probe p starts when the window of probe p−1 ends (the first at the
// run's start): requests sent after the last window belong to a probe that
// probes.json does not list, in its settle phase.
type timeline struct {
	mu    sync.RWMutex
	marks []probeMarks
}

// probeMarks are one probe's boundaries; -1 until reached.
type probeMarks struct {
	start, warmup, window, end int64
}

func newTimeline() *timeline {
	return &timeline{marks: []probeMarks{{start: 0, warmup: -1, window: -1, end: -1}}}
}

// current is the index of the probe in progress.
func (tl *timeline) current() int {
	tl.mu.RLock()
	defer tl.mu.RUnlock()
	return len(tl.marks) - 1
}

// start is when probe p started.
func (tl *timeline) start(p int) int64 {
	tl.mu.RLock()
	defer tl.mu.RUnlock()
	return tl.marks[p].start
}

func (tl *timeline) setWarmup(t int64) {
	tl.mu.Lock()
	tl.marks[len(tl.marks)-1].warmup = t
	tl.mu.Unlock()
}

func (tl *timeline) setWindow(t int64) {
	tl.mu.Lock()
	tl.marks[len(tl.marks)-1].window = t
	tl.mu.Unlock()
}

// endWindow closes the current probe's window at t and starts the next
// probe there.
func (tl *timeline) endWindow(t int64) {
	tl.mu.Lock()
	tl.marks[len(tl.marks)-1].end = t
	tl.marks = append(tl.marks, probeMarks{start: t, warmup: -1, window: -1, end: -1})
	tl.mu.Unlock()
}

// skip ends the current probe without a window (its warm-up never
// finished) and starts the next one at t.
func (tl *timeline) skip(t int64) { tl.endWindow(t) }

// label returns the probe and phase of a request sent at tSend.
func (tl *timeline) label(tSend int64) (int, string) {
	tl.mu.RLock()
	defer tl.mu.RUnlock()
	for p := len(tl.marks) - 1; p >= 0; p-- {
		m := tl.marks[p]
		if tSend < m.start && p > 0 {
			continue
		}
		switch {
		case m.window >= 0 && tSend >= m.window && (m.end < 0 || tSend < m.end):
			return p, metrics.PhaseWindow
		case m.warmup >= 0 && tSend >= m.warmup:
			return p, metrics.PhaseWarmup
		default:
			return p, metrics.PhaseSettle
		}
	}
	return 0, metrics.PhaseSettle
}

// inWindow reports whether tSend is inside the current probe's open or
// closed window.
func (tl *timeline) inWindow(tSend int64) bool {
	tl.mu.RLock()
	defer tl.mu.RUnlock()
	m := tl.marks[len(tl.marks)-1]
	return m.window >= 0 && tSend >= m.window && (m.end < 0 || tSend < m.end)
}

// windowStart is when the current probe's window opened; -1 before.
func (tl *timeline) windowStart() int64 {
	tl.mu.RLock()
	defer tl.mu.RUnlock()
	return tl.marks[len(tl.marks)-1].window
}
