package verifier

import (
	"fmt"
	"math"
	"slices"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
)

// evaluated is one probe, recomputed.
type evaluated struct {
	rec    bundle.ProbeRecord
	res    metrics.ProbeResult
	energy *bundle.WindowEnergy // nil without power samples bracketing the window
	tokens float64              // output tokens in the window
}

func (e *evaluated) tier(name string) (metrics.TierResult, bool) {
	for _, t := range e.res.Tiers {
		if t.Tier == name {
			return t, true
		}
	}
	return metrics.TierResult{}, false
}

// passes is the runner's verdict rule: valid, conclusive and the tier passed.
func (e *evaluated) passes(tier string) bool {
	t, ok := e.tier(tier)
	return ok && e.res.Valid && e.res.Conclusive && t.Passed
}

// tierOutcome is the capacity search's result recomputed from the probes:
// N_max is the largest N that passed 1 + confirmations windows, the
// confirmation window the last of them.
type tierOutcome struct {
	name      string
	maxAgents int
	confirmed bool
	confirm   *evaluated
	resolved  bool // a failed, inconclusive or unserved probe above N_max within the search precision
	fixed     bool // fixed-N probes only: no search to resolve
	// repeats is the spread over the confirmation window and the repeat
	// probes at N_max; nil without a repeat probe there.
	repeats *bundle.RepeatSpread
	// repeatProbes counts the repeat probes at N_max, measured or not;
	// repeatWindows are those the spread counts (valid, conclusive).
	repeatProbes  int
	repeatWindows []*evaluated
}

// repeat reports a repeat probe (benchmark.repeats): a window at a
// confirmed N_max for the spread, which no search reads.
func (e *evaluated) repeat() bool { return e.rec.Purpose == bundle.PurposeRepeat }

func searchOutcome(name string, ev []evaluated, sr spec.SearchRules) tierOutcome {
	out := tierOutcome{name: name, fixed: len(ev) > 0}
	want := 1 + sr.Confirmations
	passing := map[int][]int{} // N → indices into ev
	for i := range ev {
		if ev[i].repeat() {
			continue
		}
		if ev[i].rec.Purpose != bundle.PurposeFixed {
			out.fixed = false
		}
		if ev[i].passes(name) {
			passing[ev[i].rec.Agents] = append(passing[ev[i].rec.Agents], i)
		}
	}
	for n, idx := range passing {
		if len(idx) >= want && n > out.maxAgents {
			out.maxAgents, out.confirmed = n, true
			out.confirm = &ev[idx[len(idx)-1]]
		}
	}
	if out.maxAgents == 0 {
		return out
	}
	// A probe without a window is one whose warm-up never completed: the
	// engine could not serve that N, which bounds N_max as a failure does.
	for i := range ev {
		n := ev[i].rec.Agents
		if n > out.maxAgents && !ev[i].repeat() && !ev[i].passes(name) &&
			metrics.SearchResolved(out.maxAgents, n, sr.Precision, sr.MinStep) {
			out.resolved = true
		}
	}
	out.repeats, out.repeatWindows = repeatSpread(name, out, ev)
	for i := range ev {
		if ev[i].repeat() && out.maxAgents > 0 && ev[i].rec.Agents == out.maxAgents {
			out.repeatProbes++
		}
	}
	return out
}

// countRepeats checks that every confirmed tier was measured as often as
// benchmark.repeats asks (repeats − 1 repeat probes at N_max) — the job
// record's spec online, the signed manifest's offline: a runner cannot
// skip the repeats a spread would show. repeats 0 (an older bundle
// verified offline): not checked; nor is a fixed-N run (the demo's),
// which has no search to repeat the end of.
func countRepeats(outs map[string]tierOutcome, repeats int) []string {
	var fails []string
	for _, name := range sortedKeys(outs) {
		o := outs[name]
		if repeats <= 1 || !o.confirmed || o.fixed {
			continue
		}
		if o.repeatProbes < repeats-1 {
			fails = append(fails, fmt.Sprintf("tiers.%s: %d repeat probes at N_max=%d, benchmark.repeats %d asks for %d",
				name, o.repeatProbes, o.maxAgents, repeats, repeats-1))
		}
	}
	return fails
}

// repeatSpread is the tier's spread over its windows at N_max: the
// confirmation window, then every repeat probe there (any tier's: a probe
// serves every tier) that measured a valid, conclusive window; nil when no
// repeat probe ran at N_max. counted are the repeat windows in it.
func repeatSpread(name string, o tierOutcome, ev []evaluated) (spread *bundle.RepeatSpread, counted []*evaluated) {
	if o.confirm == nil {
		return nil, nil
	}
	ws, repeats := []bundle.RepeatWindow{window(name, o.confirm)}, 0
	for i := range ev {
		e := &ev[i]
		if !e.repeat() || e.rec.Agents != o.maxAgents {
			continue
		}
		repeats++
		if e.rec.HasWindow() && e.res.Valid && e.res.Conclusive {
			ws = append(ws, window(name, e))
			counted = append(counted, e)
		}
	}
	if repeats == 0 {
		return nil, nil
	}
	return bundle.RepeatSpreadOf(o.maxAgents, ws), counted
}

func window(tier string, e *evaluated) bundle.RepeatWindow {
	t, _ := e.tier(tier)
	w := bundle.RepeatWindow{Probe: e.rec.Probe, MetShare: t.MetShare}
	if e.energy != nil {
		w.AvgPowerW = e.energy.AvgPowerW
	}
	return w
}

// comparer collects differences between the runner's claims and the
// recomputed values.
type comparer struct {
	tol   float64
	fails capped
}

// num compares a claimed number with the recomputed one: a relative
// difference above the tolerance is a failure, both values in the reason.
func (c *comparer) num(field string, claimed, recomputed float64) {
	if math.IsNaN(claimed) || math.IsInf(claimed, 0) {
		c.fails.addf("%s: claimed %v, recomputed %.6g", field, claimed, recomputed)
		return
	}
	if recomputed == 0 {
		if math.Abs(claimed) > 1e-9 {
			c.fails.addf("%s: claimed %.6g, recomputed 0", field, claimed)
		}
		return
	}
	if d := metrics.RelativeDifference(claimed, recomputed); d > c.tol {
		c.fails.addf("%s: claimed %.6g, recomputed %.6g (%.2f%% apart, tolerance %.2f%%)",
			field, claimed, recomputed, 100*d, 100*c.tol)
	}
}

func (c *comparer) int(field string, claimed, recomputed int) {
	if claimed != recomputed {
		c.fails.addf("%s: claimed %d, recomputed %d", field, claimed, recomputed)
	}
}

func (c *comparer) bool(field string, claimed, recomputed bool) {
	if claimed != recomputed {
		c.fails.addf("%s: claimed %v, recomputed %v", field, claimed, recomputed)
	}
}

// compareProbes checks summary.json's probes against the recomputation.
func compareProbes(sum *bundle.Summary, ev []evaluated, tol float64) []string {
	c := &comparer{tol: tol}
	byIndex := map[int]*evaluated{}
	for i := range ev {
		byIndex[ev[i].rec.Probe] = &ev[i]
	}
	claimed := map[int]bool{}
	for i, p := range sum.Probes {
		f := fmt.Sprintf("summary.json probes[%d] (probe %d)", i, p.Index)
		claimed[p.Index] = true
		e := byIndex[p.Index]
		if e == nil {
			c.fails.addf("%s: not in probes.json", f)
			continue
		}
		c.int(f+".agents", p.Agents, e.rec.Agents)
		if !e.rec.HasWindow() {
			if p.Valid && p.Conclusive {
				c.fails.addf("%s: claims a conclusive window, probes.json has none", f)
			}
			continue
		}
		if p.WindowStartNs != e.rec.WindowStartNs || p.WindowEndNs != e.rec.WindowEndNs {
			c.fails.addf("%s: window [%d, %d), probes.json [%d, %d)", f, p.WindowStartNs, p.WindowEndNs, e.rec.WindowStartNs, e.rec.WindowEndNs)
		}
		r := &e.res
		c.int(f+".requests", p.Requests, r.Requests)
		c.int(f+".errors", p.Errors, r.Errors)
		c.int(f+".truncated", p.Truncated, r.Truncated)
		c.num(f+".ttft_p50_s", p.TTFTP50S, r.TTFTP50S)
		c.num(f+".ttft_p90_s", p.TTFTP90S, r.TTFTP90S)
		c.num(f+".decode_tps_p10", p.DecodeTPSP10, r.DecodeTPSP10)
		c.num(f+".decode_tps_p50", p.DecodeTPSP50, r.DecodeTPSP50)
		c.num(f+".cached_token_share", p.CachedTokenShare, r.CachedTokenShare)
		if p.TheoreticalCacheShare != nil && r.TheoreticalCacheShare != nil { // absent in older bundles
			c.num(f+".theoretical_cache_share", *p.TheoreticalCacheShare, *r.TheoreticalCacheShare)
		}
		c.num(f+".output_tokens_per_s", p.OutputTokensPerS, r.OutputTokensPerS)
		c.num(f+".active_sessions", p.ActiveSessions, r.ActiveSessions)
		c.num(f+".in_flight", p.InFlight, r.InFlight)
		c.bool(f+".valid", p.Valid, r.Valid)
		c.bool(f+".conclusive", p.Conclusive, r.Conclusive)
		for _, name := range sortedKeys(p.Tiers) {
			pt := p.Tiers[name]
			t, ok := e.tier(name)
			if !ok {
				c.fails.addf("%s.tiers.%s: not a tier of the rules", f, name)
				continue
			}
			tf := f + ".tiers." + name
			c.bool(tf+".passed", pt.Passed, t.Passed)
			c.num(tf+".met_share", pt.MetShare, t.MetShare)
			c.num(tf+".met_share_lower99", pt.MetShareLower99, t.MetShareLower)
			c.num(tf+".agent_share", pt.AgentShare, t.AgentShare)
		}
		switch {
		case p.Energy == nil && e.energy != nil:
		case p.Energy != nil && e.energy == nil:
			c.fails.addf("%s.energy: claimed %.6g J, the power samples do not cover the window", f, p.Energy.CounterJ)
		case p.Energy != nil:
			c.num(f+".energy.counter_j", p.Energy.CounterJ, e.energy.CounterJ)
			c.num(f+".energy.instant_j", p.Energy.InstantJ, e.energy.InstantJ)
			c.num(f+".energy.avg_power_w", p.Energy.AvgPowerW, e.energy.AvgPowerW)
			c.num(f+".energy.joules_per_token", p.Energy.JoulesPerToken, e.energy.JoulesPerToken)
			c.int(f+".energy.counter_resets", p.Energy.CounterResets, e.energy.CounterResets)
			c.num(f+".energy.max_gap_s", p.Energy.MaxGapS, e.energy.MaxGapS)
		}
	}
	for i := range ev {
		if ev[i].rec.HasWindow() && !claimed[ev[i].rec.Probe] {
			c.fails.addf("probes.json probe %d: measured, missing from summary.json", ev[i].rec.Probe)
		}
	}
	return c.fails.reasons()
}

// compareTiers checks summary.json's tiers (max agents, confirmation and
// the confirmation window's figures) against the recomputed search.
func compareTiers(sum *bundle.Summary, outs map[string]tierOutcome, gpus int, tol float64) []string {
	c := &comparer{tol: tol}
	for _, name := range sortedKeys(sum.Tiers) {
		t := sum.Tiers[name]
		o := outs[name]
		f := "summary.json tiers." + name
		c.bool(f+".confirmed", t.Confirmed, o.confirmed)
		if !t.Confirmed {
			continue // an unconfirmed tier is not published; its N is not judged
		}
		c.int(f+".max_agents", t.MaxAgents, o.maxAgents)
		if o.confirm == nil {
			continue
		}
		if !o.fixed && !o.resolved {
			c.fails.addf("%s: no failed probe above N_max=%d within the search precision: the search did not resolve", f, o.maxAgents)
		}
		if t.ConfirmProbe == nil || *t.ConfirmProbe != o.confirm.rec.Probe {
			got := "none"
			if t.ConfirmProbe != nil {
				got = fmt.Sprint(*t.ConfirmProbe)
			}
			c.fails.addf("%s.confirm_probe: claimed %s, recomputed %d", f, got, o.confirm.rec.Probe)
		}
		want := bundle.TierSummary{MaxAgents: o.maxAgents}
		want.SetFigures(o.confirm.res.OutputTokensPerS, o.confirm.energy, gpus)
		c.num(f+".output_tokens_per_s", t.OutputTokensPerS, want.OutputTokensPerS)
		if e := o.confirm.energy; e != nil {
			c.num(f+".energy_counter_j", t.EnergyCounterJ, want.EnergyCounterJ)
			c.num(f+".energy_instant_j", t.EnergyInstantJ, want.EnergyInstantJ)
			c.num(f+".avg_power_w", t.AvgPowerW, want.AvgPowerW)
			c.num(f+".joules_per_token", t.JoulesPerToken, want.JoulesPerToken)
			if e.AvgPowerW > 0 {
				c.num(f+".agents_per_mw", t.AgentsPerMW, want.AgentsPerMW)
			}
			if gpus > 0 {
				c.num(f+".agents_per_gpu", t.AgentsPerGPU, want.AgentsPerGPU)
			}
		} else if t.AgentsPerMW > 0 {
			c.fails.addf("%s.agents_per_mw: claimed %.6g, the power samples do not cover the confirmation window", f, t.AgentsPerMW)
		}
		c.repeats(f+".repeats", t.Repeats, o.repeats)
	}
	return c.fails.reasons()
}

// repeats compares a tier's claimed spread over its repeats with the
// recomputed one: the same windows, each figure within the tolerance.
func (c *comparer) repeats(f string, claimed, want *bundle.RepeatSpread) {
	switch {
	case claimed == nil && want == nil:
		return
	case claimed == nil:
		c.fails.addf("%s: none claimed, recomputed over probes %v", f, want.Probes)
		return
	case want == nil:
		c.fails.addf("%s: claimed over probes %v, but no repeat probe ran at N_max", f, claimed.Probes)
		return
	}
	if !slices.Equal(claimed.Probes, want.Probes) {
		c.fails.addf("%s.probes: claimed %v, recomputed %v", f, claimed.Probes, want.Probes)
	}
	spread := func(g string, cl, w metrics.Spread) {
		c.num(g+".min", cl.Min, w.Min)
		c.num(g+".median", cl.Median, w.Median)
		c.num(g+".max", cl.Max, w.Max)
	}
	spread(f+".met_share", claimed.MetShare, want.MetShare)
	switch {
	case claimed.AgentsPerMW != nil && want.AgentsPerMW != nil:
		spread(f+".agents_per_mw", *claimed.AgentsPerMW, *want.AgentsPerMW)
	case claimed.AgentsPerMW != nil:
		c.fails.addf("%s.agents_per_mw: claimed, the power samples do not cover every window", f)
	case want.AgentsPerMW != nil:
		c.fails.addf("%s.agents_per_mw: none claimed, recomputed %.6g (median)", f, want.AgentsPerMW.Median)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
