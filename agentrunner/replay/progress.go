package replay

import (
	"fmt"
	"strings"
	"time"
)

// progressInterval is how often Config.Progress is called while probes run.
const progressInterval = 250 * time.Millisecond

// Progress is a snapshot of a run for live display.
type Progress struct {
	Probe int    // index of the probe in progress
	Phase string // calibrate, settle, warmup, window or drain
	// Agents is N (root agent sessions); InFlight counts streams in flight,
	// sub-agents included.
	Agents   int
	InFlight int
	// Requests completed so far among those sent in the open window, and
	// the share of them meeting Tier (the first searched tier).
	Requests  int64
	Tier      string
	PassShare float64
	// Search describes the search state, e.g. "t20: 8 ≤ N_max < 16".
	Search string
	// ProbesDone counts evaluated probes; Elapsed is the run's time so far;
	// ETA is a rough estimate of the time left (0 when unknown).
	ProbesDone int
	Elapsed    time.Duration
	ETA        time.Duration
}

// String renders the snapshot as one status line.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "probe %d %-9s N=%d in-flight=%d", p.Probe, p.Phase, p.Agents, p.InFlight)
	if p.Phase == "window" || p.Phase == "drain" {
		fmt.Fprintf(&b, " requests=%d", p.Requests)
		if p.Requests > 0 && p.Tier != "" {
			fmt.Fprintf(&b, " %s-pass=%.1f%%", p.Tier, 100*p.PassShare)
		}
	}
	if p.Search != "" {
		fmt.Fprintf(&b, " | %s", p.Search)
	}
	fmt.Fprintf(&b, " | %d probes, %s", p.ProbesDone, p.Elapsed.Round(time.Second))
	if p.ETA > 0 {
		fmt.Fprintf(&b, ", ETA ~%s", p.ETA.Round(time.Second))
	}
	return b.String()
}

// report calls Config.Progress with the current state.
func (r *Runner) report(probe int, phase string) {
	if r.cfg.Progress == nil {
		return
	}
	p := Progress{
		Probe: probe, Phase: phase, Agents: r.pool.size(), InFlight: r.flights.count(),
		Requests: r.live.done.Load(), Elapsed: time.Duration(r.clock.Now()),
	}
	if len(r.tiers) > 0 {
		p.Tier = r.tiers[0].Name
		if p.Requests > 0 {
			p.PassShare = float64(r.live.met[0].Load()) / float64(p.Requests)
		}
	}
	r.mu.Lock()
	p.ProbesDone = len(r.probes)
	p.Search = r.searchState
	p.ETA = r.etaLocked()
	r.mu.Unlock()
	r.cfg.Progress(p)
}

// etaLocked estimates the time left: the probes the search still expects
// times the mean probe duration so far (or, before the first, the
// profile's least probe duration). r.mu is held.
func (r *Runner) etaLocked() time.Duration {
	if r.searchLeft <= 0 {
		return 0
	}
	var per time.Duration
	if n := len(r.probes); n > 0 {
		last := r.probes[n-1]
		per = time.Duration(last.DoneNs-r.probes[0].StartNs) / time.Duration(n)
	} else {
		prof := r.cfg.Profile
		per = 2*prof.Settle.Duration + prof.Window.Duration
	}
	return per * time.Duration(r.searchLeft)
}
