package verifier

import (
	"cmp"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// randomRun builds a schedule of probes whose record sets overlap at their
// edges (a probe's drain after its window overlaps the next probe's
// settle), and the run's records in a random order.
func randomRun(seed uint64) (*bundle.Probes, []metrics.Request) {
	rng := rand.New(rand.NewPCG(seed, 3))
	sec := int64(time.Second)
	pf := &bundle.Probes{Format: bundle.ProbesFormat, Version: 1}
	var recs []metrics.Request
	cursor := int64(0)
	agentBase := 0
	for p := range 2 + rng.IntN(6) {
		n := 2 + rng.IntN(12)
		pr := bundle.ProbeRecord{Probe: p, Agents: n, Purpose: "search", StartNs: cursor}
		pr.WarmupStartNs = cursor + 2*sec
		pr.WindowStartNs = pr.WarmupStartNs + 3*sec
		pr.WindowEndNs = pr.WindowStartNs + int64(10+rng.IntN(20))*sec
		if rng.IntN(6) == 0 {
			pr.WindowStartNs, pr.WindowEndNs = -1, -1 // never reached a window
		}
		pr.DoneNs = max(pr.WindowEndNs, pr.WarmupStartNs) + int64(rng.IntN(8))*sec
		pr.Client = metrics.ClientHealth{SchedLagP99Ns: int64(time.Millisecond), CPUShare: 0.2}
		pf.Probes = append(pf.Probes, pr)
		for a := range n {
			t := cursor + int64(rng.IntN(1000))*int64(time.Millisecond)
			for t < pr.DoneNs+3*sec {
				r := metrics.Request{Agent: agentBase + a, TSendNs: t, TFirstNs: t + int64(rng.Float64()*4e9), CompletionTokens: 1 + rng.IntN(200), Status: metrics.StatusOK}
				r.TLastNs = r.TFirstNs + int64(float64(r.CompletionTokens)/(10+60*rng.Float64())*1e9)
				switch rng.IntN(20) {
				case 0:
					r.Status = metrics.StatusError
				case 1:
					r.Status = metrics.StatusTruncated
				case 2:
					r.Subagent = "sub"
				}
				if rng.IntN(2) == 0 {
					r.CachedTokens = metrics.Int(10)
					r.PromptTokens = 100
				}
				recs = append(recs, r)
				t = r.EndNs() + int64(rng.Float64()*2e9)
			}
		}
		agentBase += n
		// The next probe starts at this window's end (while this one drains).
		cursor = max(pr.WindowEndNs, pr.WarmupStartNs)
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	return pf, recs
}

// referenceProbes is the evaluation as it was before the probe set: the
// records sorted by send, each probe evaluated on the slice of its records.
func referenceProbes(pf *bundle.Probes, recs []metrics.Request, pr metrics.ProbeRules, tiers []metrics.Tier) []metrics.ProbeResult {
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b metrics.Request) int { return cmp.Compare(a.TSendNs, b.TSendNs) })
	var out []metrics.ProbeResult
	for _, p := range pf.Probes {
		if !p.HasWindow() {
			out = append(out, metrics.ProbeResult{})
			continue
		}
		var buf []metrics.Request
		for _, r := range sorted {
			if r.TSendNs >= p.StartNs && r.TSendNs <= p.DoneNs && (r.EndNs() <= p.DoneNs || r.TSendNs < p.WindowEndNs) {
				buf = append(buf, r)
			}
		}
		out = append(out, metrics.EvaluateProbe(metrics.ProbeInput{Agents: p.Agents, WindowStartNs: p.WindowStartNs, WindowEndNs: p.WindowEndNs,
			Records: buf, Client: p.Client}, pr, tiers))
	}
	return out
}

func TestProbeSetMatchesSlices(t *testing.T) {
	pr := metrics.ProbeRules{Confidence: 0.99, MinMetShare: 0.9, MinAgentShare: 0.9, MaxErrorShare: 0.01, ActiveTolerance: 0.02,
		MaxIdleGap: 3 * time.Second, MinWindow: 10 * time.Second, MinRequests: 20}
	tiers := []metrics.Tier{{Name: "t20", MinDecodeTPS: 20, MaxTTFT: 3 * time.Second}, {Name: "t50", MinDecodeTPS: 50, MaxTTFT: 2 * time.Second}}
	for seed := range uint64(60) {
		pf, recs := randomRun(seed)
		ps := newProbeSet(pf, pr, tiers, nil)
		windowed := 0
		for i := range recs {
			if ps.add(&recs[i]) {
				windowed++
			}
		}
		wantWindowed := 0
		for _, r := range recs {
			for _, p := range pf.Probes {
				if p.HasWindow() && r.TSendNs >= p.WindowStartNs && r.TSendNs < p.WindowEndNs {
					wantWindowed++
					break
				}
			}
		}
		if windowed != wantWindowed {
			t.Fatalf("seed %d: %d window requests, want %d", seed, windowed, wantWindowed)
		}
		got := ps.evaluate(newPowerIndex(nil))
		want := referenceProbes(pf, recs, pr, tiers)
		for i := range want {
			g := got[i].res
			if d := metrics.RelativeDifference(g.OutputTokensPerS, want[i].OutputTokensPerS); d > 1e-12 {
				t.Fatalf("seed %d probe %d: output tokens/s %v, want %v", seed, i, g.OutputTokensPerS, want[i].OutputTokensPerS)
			}
			g.OutputTokensPerS = want[i].OutputTokensPerS
			if !reflect.DeepEqual(g, want[i]) {
				t.Fatalf("seed %d probe %d:\n got  %+v\n want %+v", seed, i, g, want[i])
			}
		}
	}
}

// TestPowerIndexWindowEnergy: the energy from the samples around a window
// is the energy from every sample, for windows anywhere (bracketed or not)
// over GPUs with gaps, repeated timestamps, resets and shuffled samples.
func TestPowerIndexWindowEnergy(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	var samples []metrics.PowerSample
	for gpu := range 3 {
		e := 0.0
		for ts := int64(gpu) * 7e7; ts < 60e9; ts += int64(50e6 + rng.IntN(150e6)) {
			if rng.IntN(50) == 0 {
				ts += 2e9 // a gap
			}
			w := 200 + 200*rng.Float64()
			e += w * 100
			if rng.IntN(200) == 0 {
				e = 0 // a counter reset
			}
			samples = append(samples, metrics.PowerSample{GPU: gpu, TMonoNs: ts, EnergyMJ: e, PowerW: w})
			if rng.IntN(30) == 0 {
				samples = append(samples, metrics.PowerSample{GPU: gpu, TMonoNs: ts, EnergyMJ: e + 1, PowerW: w})
			}
		}
	}
	rng.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	px := newPowerIndex(samples)
	if len(px.gpus) != 3 {
		t.Fatalf("%d GPUs, want 3", len(px.gpus))
	}
	for range 300 {
		start := rng.Int64N(70e9) - 5e9
		end := start + 1 + rng.Int64N(20e9)
		tokens := float64(rng.IntN(1000))
		got, want := px.windowEnergy(start, end, tokens), bundle.WindowEnergyFrom(samples, start, end, tokens)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("[%d, %d):\n got  %+v\n want %+v", start, end, got, want)
		}
	}
}
