package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

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
	// WindowElapsed is the open window's time so far; WindowMin and
	// MinRequests are the profile's least window duration and request
	// count, WindowMax its longest window.
	WindowElapsed time.Duration
	WindowMin     time.Duration
	WindowMax     time.Duration
	MinRequests   int64
	// Search describes the search state, e.g. "t20: 8 ≤ N_max < 16".
	Search string
	// Tiers is every searched tier's state and its pass share in the open
	// window, in the rules' order.
	Tiers []TierProgress
	// ProbesDone counts evaluated probes; Elapsed is the run's time so far;
	// ETA the time left: the probes the search may still run times the
	// measured mean probe duration, counting down between probes (0 when
	// unknown). ETAReason says why the ETA last went up ("" when it did
	// not).
	ProbesDone int
	Elapsed    time.Duration
	ETA        time.Duration
	ETAReason  string
}

// Tier states in TierProgress.
const (
	tierWaiting    = "waiting"
	tierSearching  = "searching"
	tierConfirming = "confirming"
	tierJudging    = "judging" // a fixed run's N
	tierDone       = "done"
)

// TierProgress is one tier's search state.
type TierProgress struct {
	Tier string
	// State is waiting, searching, confirming, judging (a fixed run) or
	// done.
	State string
	// Lo and Hi bracket N_max (Lo ≤ N_max < Hi; Hi 0: no N failed yet).
	Lo, Hi int
	// MaxAgents and Confirmed are the result once State is done.
	MaxAgents int
	Confirmed bool
	// PassShare is the share of the open window's requests meeting the tier.
	PassShare float64
}

// Bracket renders the tier's knowledge of N_max: "t20: 8 ≤ N_max < 12",
// "t20: N_max ≥ 8", "t20: N_max = 10 (confirmed)".
func (t TierProgress) Bracket() string {
	switch {
	case t.State == tierDone && t.Confirmed:
		return fmt.Sprintf("%s: N_max = %d (confirmed)", t.Tier, t.MaxAgents)
	case t.State == tierDone:
		return fmt.Sprintf("%s: N_max = %d (unconfirmed)", t.Tier, t.MaxAgents)
	case t.Lo == 0 && t.Hi == 0:
		return fmt.Sprintf("%s: N_max unknown", t.Tier)
	}
	return fmt.Sprintf("%s: %s", t.Tier, bracketText(t.Lo, t.Hi))
}

// String renders the tier as one line: bracket, state and pass share.
func (t TierProgress) String() string {
	s := fmt.Sprintf("%-32s %-10s", t.Bracket(), t.State)
	if t.State != tierDone && t.State != tierWaiting {
		s += fmt.Sprintf(" pass %5.1f%%", 100*t.PassShare)
	}
	return strings.TrimRight(s, " ")
}

// String renders the snapshot as one status line.
func (p Progress) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "probe %d %-9s N=%d in-flight=%d", p.Probe, p.Phase, p.Agents, p.InFlight)
	if p.Phase == "window" || p.Phase == "drain" {
		fmt.Fprintf(&b, " requests=%d", p.Requests)
		tiers := p.Tiers
		if len(tiers) == 0 && p.Tier != "" {
			tiers = []TierProgress{{Tier: p.Tier, PassShare: p.PassShare}}
		}
		for _, t := range tiers {
			if p.Requests > 0 && t.State != tierDone && t.State != tierWaiting {
				fmt.Fprintf(&b, " %s-pass=%.1f%%", t.Tier, 100*t.PassShare)
			}
		}
	}
	if p.Search != "" {
		fmt.Fprintf(&b, " | %s", p.Search)
	}
	fmt.Fprintf(&b, " | %d probes, %s", p.ProbesDone, p.Elapsed.Round(time.Second))
	if p.ETA > 0 {
		fmt.Fprintf(&b, ", ETA %s", p.ETA.Round(time.Second))
		if p.ETAReason != "" {
			fmt.Fprintf(&b, " (up: %s)", p.ETAReason)
		}
	}
	return b.String()
}

// tierState is a searched tier's place in the search.
type tierState struct {
	state     string
	maxAgents int
	confirmed bool
}

// now is the run clock, or the test's.
func (r *Runner) now() int64 {
	if r.nowFn != nil {
		return r.nowFn()
	}
	return r.clock.Now()
}

// estimator returns the run's ETA estimator, made on first use. r.mu is held.
func (r *Runner) estimatorLocked() *etaEstimator {
	if r.eta == nil {
		prof := r.cfg.Profile
		r.eta = newETAEstimator(2*prof.Settle.Duration + prof.Window.Duration)
	}
	if r.tierStates == nil {
		r.tierStates = make([]tierState, len(r.tiers))
		for i := range r.tierStates {
			r.tierStates[i].state = tierWaiting
		}
	}
	return r.eta
}

// beginCalibration starts the ETA with the calibration: one unit of the
// prior's length, then every tier's bound.
func (r *Runner) beginCalibration() {
	r.mu.Lock()
	r.searching = true
	r.mu.Unlock()
	left := 1 + r.pendingBound(-1)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.searchState = "calibrating"
	r.estimatorLocked().begin(r.now(), left, false, "")
}

// setSearchState records the search's state before a probe: tier ti (-1:
// none) is in state, and the search bounds its probes left at left; the
// tiers still waiting add their own bounds.
func (r *Runner) setSearchState(ti int, state, text string, left int) {
	left += r.pendingBound(ti)
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.estimatorLocked()
	if ti >= 0 {
		r.tierStates[ti].state = state
	}
	r.searchState = text
	e.begin(r.now(), left, true, text)
}

// judgeAll marks every tier as judged by a fixed run.
func (r *Runner) judgeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.estimatorLocked()
	for i := range r.tierStates {
		r.tierStates[i].state = tierJudging
	}
}

// endTier records a tier's outcome.
func (r *Runner) endTier(ti int, o TierOutcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.estimatorLocked()
	r.tierStates[ti] = tierState{state: tierDone, maxAgents: o.MaxAgents, confirmed: o.Confirmed}
}

// pendingBound is the probes the tiers still waiting (other than skip) may
// need, each from its bracket as the probes so far give it.
func (r *Runner) pendingBound(skip int) int {
	r.mu.Lock()
	r.estimatorLocked()
	if !r.searching {
		r.mu.Unlock()
		return 0
	}
	var waiting []int
	for i, s := range r.tierStates {
		if i != skip && s.state == tierWaiting {
			waiting = append(waiting, i)
		}
	}
	n0 := r.n0
	r.mu.Unlock()
	left := 0
	for _, i := range waiting {
		lo, hi := r.bracket(i)
		if lo == 0 && hi == 0 {
			lo = n0[r.tiers[i].Name]
		}
		left += r.probesLeft(lo, hi)
	}
	return left
}

// probeDone tells the ETA that a probe ended.
func (r *Runner) probeDone(rec *bundle.ProbeRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.estimatorLocked().done(r.now())
}

// report calls Config.Progress with the current state.
func (r *Runner) report(probe int, phase string) {
	if r.cfg.Progress == nil {
		return
	}
	r.cfg.Progress(r.progress(probe, phase))
}

// progress is the current state.
func (r *Runner) progress(probe int, phase string) Progress {
	prof := r.cfg.Profile
	p := Progress{
		Probe: probe, Phase: phase, Agents: r.pool.size(), InFlight: r.flights.count(),
		Requests: r.live.done.Load(), Elapsed: time.Duration(r.now()),
		WindowMin: prof.Window.Duration, WindowMax: prof.MaxWindow.Duration, MinRequests: int64(prof.MinRequests),
	}
	if r.tl != nil && (phase == "window") {
		if ws := r.tl.windowStart(); ws >= 0 {
			p.WindowElapsed = time.Duration(r.now() - ws)
		}
	}
	brackets := make([][2]int, len(r.tiers))
	for i := range r.tiers {
		brackets[i][0], brackets[i][1] = r.bracket(i)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.estimatorLocked()
	for i, t := range r.tiers {
		s := r.tierStates[i]
		tp := TierProgress{Tier: t.Name, State: s.state, Lo: brackets[i][0], Hi: brackets[i][1], MaxAgents: s.maxAgents, Confirmed: s.confirmed}
		if p.Requests > 0 && i < len(r.live.met) {
			tp.PassShare = float64(r.live.met[i].Load()) / float64(p.Requests)
		}
		if i == 0 {
			p.Tier, p.PassShare = tp.Tier, tp.PassShare
		}
		p.Tiers = append(p.Tiers, tp)
	}
	p.ProbesDone = len(r.probes)
	p.Search = r.searchState
	p.ETA, p.ETAReason = e.eta(r.now())
	return p
}
