package bundle

import "github.com/agentwatt/agentwatt/metrics"

// RepeatSpread is the spread of one tier's figures over its windows at
// N_max: the confirmation window and the tier's repeat probes
// (PurposeRepeat) that measured a valid, conclusive window. The runner
// claims it in summary.json and the verifier recomputes it, both with
// RepeatSpreadOf.
type RepeatSpread struct {
	// Probes are the windows counted, the confirmation window first.
	Probes []int `json:"probes"`
	// MetShare is the spread of the tier's met share (pass share).
	MetShare metrics.Spread `json:"met_share"`
	// AgentsPerMW is the spread of N_max × 10⁶ / each window's average
	// power; nil unless the power samples cover every counted window.
	AgentsPerMW *metrics.Spread `json:"agents_per_mw,omitempty"`
}

// RepeatWindow is one window at N_max as RepeatSpreadOf reads it.
type RepeatWindow struct {
	Probe    int
	MetShare float64 // the tier's met share in the window
	// AvgPowerW is the window's average power; 0 when the power samples do
	// not cover it.
	AvgPowerW float64
}

// RepeatSpreadOf is the spread of a tier measured at maxAgents in windows
// (the confirmation window first); nil without a window.
func RepeatSpreadOf(maxAgents int, windows []RepeatWindow) *RepeatSpread {
	if len(windows) == 0 {
		return nil
	}
	rs := &RepeatSpread{Probes: make([]int, 0, len(windows))}
	shares := make([]float64, 0, len(windows))
	var mw []float64
	for _, w := range windows {
		rs.Probes = append(rs.Probes, w.Probe)
		shares = append(shares, w.MetShare)
		if w.AvgPowerW > 0 && maxAgents > 0 {
			mw = append(mw, metrics.AgentsPerMW(maxAgents, w.AvgPowerW))
		}
	}
	rs.MetShare, _ = metrics.SpreadOf(shares)
	if len(mw) == len(windows) {
		if s, ok := metrics.SpreadOf(mw); ok {
			rs.AgentsPerMW = &s
		}
	}
	return rs
}

// RepeatSpreadOfProbes is RepeatSpreadOf over the summaries of a tier's
// windows at maxAgents: the confirmation probe, then those of the repeat
// probes that measured a valid, conclusive window — the windows the
// verifier counts. Probes are found by Index; nil without a repeat.
func RepeatSpreadOfProbes(tier string, maxAgents, confirm int, repeats []int, probes []ProbeSummary) *RepeatSpread {
	if len(repeats) == 0 {
		return nil
	}
	byIndex := make(map[int]*ProbeSummary, len(probes))
	for i := range probes {
		byIndex[probes[i].Index] = &probes[i]
	}
	var ws []RepeatWindow
	for _, i := range append([]int{confirm}, repeats...) {
		p := byIndex[i]
		if p == nil || !p.Valid || !p.Conclusive {
			continue
		}
		w := RepeatWindow{Probe: i, MetShare: p.Tiers[tier].MetShare}
		if p.Energy != nil {
			w.AvgPowerW = p.Energy.AvgPowerW
		}
		ws = append(ws, w)
	}
	return RepeatSpreadOf(maxAgents, ws)
}
