package verifier

import (
	"github.com/agentwatt/agentwatt/bundle"

	"cmp"
	"slices"
	"sort"

	"github.com/agentwatt/agentwatt/metrics"
)

// probeSet evaluates every measured probe of the schedule in the one pass
// over the records: each record is handed to the accumulator of every probe
// it belongs to, in whatever order the file holds them, and nothing of it
// is kept. A probe's records are those the runner held when it evaluated
// it: sent at or after the probe's start, at or before the time it was
// evaluated (done_ns), and either finished by then or sent inside the
// window.
type probeSet struct {
	all     []bundle.ProbeRecord // probes.json's order
	byStart []int                // indices into all of the measured probes, by start
	starts  []int64              // starts[i]: start_ns of byStart[i]
	maxDone []int64              // maxDone[i]: the latest done_ns of byStart[:i+1]
	accs    []*metrics.ProbeAccumulator
	// started is the number of probes (in byStart) started at or before
	// the last record's send: records come roughly in time order, so it
	// usually holds for the next one too.
	started int
}

// newProbeSet prepares the measured probes' accumulators; theory gives
// each record's theoretical prefix-cache hit (metrics.ProbeInput.
// TheoreticalCache), nil for none.
func newProbeSet(pf *bundle.Probes, pr metrics.ProbeRules, tiers []metrics.Tier, theory func(*metrics.Request) (int64, int64, bool)) *probeSet {
	ps := &probeSet{all: pf.Probes, accs: make([]*metrics.ProbeAccumulator, len(pf.Probes))}
	for i := range pf.Probes {
		p := &pf.Probes[i]
		if !p.HasWindow() {
			continue
		}
		ps.byStart = append(ps.byStart, i)
		ps.accs[i] = metrics.NewProbeAccumulator(metrics.ProbeInput{
			Agents: p.Agents, WindowStartNs: p.WindowStartNs, WindowEndNs: p.WindowEndNs, Client: p.Client,
			TheoreticalCache: theory,
		}, pr, tiers)
	}
	slices.SortStableFunc(ps.byStart, func(a, b int) int { return cmp.Compare(ps.all[a].StartNs, ps.all[b].StartNs) })
	ps.maxDone = make([]int64, len(ps.byStart))
	ps.starts = make([]int64, len(ps.byStart))
	for i, k := range ps.byStart {
		ps.starts[i] = ps.all[k].StartNs
		ps.maxDone[i] = ps.all[k].DoneNs
		if i > 0 {
			ps.maxDone[i] = max(ps.maxDone[i], ps.maxDone[i-1])
		}
	}
	return ps
}

// add hands r to the probes it belongs to and reports whether it was sent
// inside a measurement window.
func (ps *probeSet) add(r *metrics.Request) (inWindow bool) {
	t := r.TSendNs
	end := r.EndNs()
	// Probes starting after t cannot hold r; of the others, walk back while
	// one may still be running at t.
	n := ps.started
	if (n > 0 && ps.starts[n-1] > t) || (n < len(ps.starts) && ps.starts[n] <= t) {
		n = sort.Search(len(ps.starts), func(i int) bool { return ps.starts[i] > t })
		ps.started = n
	}
	for i := n - 1; i >= 0 && ps.maxDone[i] >= t; i-- {
		k := ps.byStart[i]
		p := &ps.all[k]
		if t > p.DoneNs || (end > p.DoneNs && t >= p.WindowEndNs) {
			continue
		}
		ps.accs[k].Add(r)
		if t >= p.WindowStartNs && t < p.WindowEndNs {
			inWindow = true
		}
	}
	return inWindow
}

// evaluate ends the accumulation: every probe, in probes.json's order, with
// its window's energy from the power samples.
func (ps *probeSet) evaluate(power energyIndex) []evaluated {
	out := make([]evaluated, 0, len(ps.all))
	for i, p := range ps.all {
		e := evaluated{rec: p}
		if acc := ps.accs[i]; acc != nil {
			e.res = acc.Result()
			e.tokens = acc.OutputTokens()
			e.energy = power.windowEnergy(p.WindowStartNs, p.WindowEndNs, e.tokens)
			ps.accs[i] = nil
		}
		out = append(out, e)
	}
	return out
}
