package metrics

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// randomProbe builds a probe's records with everything the formulas
// distinguish: errors, truncated answers, requests without output, without
// a decode interval or with their first token before their send, sub-agent
// requests, cached tokens reported or not, records before and after the
// window, and idle gaps longer than the rules allow.
func randomProbe(seed uint64) (ProbeInput, ProbeRules, []Tier) {
	rng := rand.New(rand.NewPCG(seed, 99))
	window := int64(50+rng.IntN(150)) * sec
	agents := 1 + rng.IntN(60)
	var recs []Request
	for a := range agents {
		t := -int64(rng.IntN(30)) * sec
		for k := 0; t < window+30*sec; k++ {
			ttft := int64(rng.Float64() * 12 * float64(sec))
			tokens := 1 + rng.IntN(300)
			rate := 5 + 90*rng.Float64()
			r := Request{Agent: 1000 + a, Turn: k, TSendNs: t, TFirstNs: t + ttft, CompletionTokens: tokens,
				PromptTokens: 100 + rng.IntN(5000), Status: StatusOK, Phase: PhaseWindow}
			r.TLastNs = r.TFirstNs + int64(float64(tokens-1)/rate*1e9)
			switch x := rng.IntN(100); {
			case x < 8:
				r.Status = StatusError
				r.TFirstNs, r.CompletionTokens = 0, 0
				r.TLastNs = t + int64(rng.IntN(3))*sec
			case x < 15:
				r.Status = StatusTruncated
				r.CompletionTokens /= 2
			case x < 17:
				r.TFirstNs = 0 // ok, yet no output event
			case x < 19:
				r.TFirstNs = t - sec // first token before the send
			case x < 22:
				r.TLastNs = r.TFirstNs // every token in one event
			}
			if rng.IntN(7) == 0 {
				r.Subagent = "explore"
			}
			if rng.IntN(2) == 0 {
				r.CachedTokens = Int(rng.IntN(r.PromptTokens + 1))
			}
			recs = append(recs, r)
			if r.Subagent == "" || rng.IntN(3) == 0 {
				t = r.EndNs() + int64(rng.Float64()*float64(3*sec))
			}
			if rng.IntN(25) == 0 {
				t += 40 * sec // idle beyond MaxIdleGap
			}
		}
	}
	rules := testRules
	rules.MinRequests = rng.IntN(200)
	if rng.IntN(4) == 0 {
		rules.MaxIdleGap = 0
	}
	tiers := []Tier{t20, t50, {Name: "tx", MinDecodeTPS: 5 + 80*rng.Float64(), MaxTTFT: time.Duration(rng.Int64N(int64(12 * time.Second)))}}
	n := agents + rng.IntN(3) - 1
	client := healthy
	if rng.IntN(5) == 0 {
		client.CPUShare = 0.95
	}
	return ProbeInput{Agents: n, WindowStartNs: 0, WindowEndNs: window, Records: recs, Client: client}, rules, tiers
}

// TestEvaluateProbeMatchesReference: EvaluateProbe (the accumulator fed a
// slice) gives exactly what the slice-based evaluation gave.
func TestEvaluateProbeMatchesReference(t *testing.T) {
	for seed := range uint64(200) {
		in, rules, tiers := randomProbe(seed)
		got, want := EvaluateProbe(in, rules, tiers), referenceEvaluateProbe(in, rules, tiers)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d:\n got  %+v\n want %+v", seed, got, want)
		}
	}
}

// TestProbeAccumulatorStreamsInAnyOrder: records fed one at a time in any
// order give the slice path's result; only the output-token sum may differ
// in its last bits, being a float sum in another order.
func TestProbeAccumulatorStreamsInAnyOrder(t *testing.T) {
	for seed := range uint64(200) {
		in, rules, tiers := randomProbe(seed)
		want := EvaluateProbe(in, rules, tiers)
		recs := slices.Clone(in.Records)
		rand.New(rand.NewPCG(seed, 1)).Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		in.Records = nil
		acc := NewProbeAccumulator(in, rules, tiers)
		for i := range recs {
			acc.Add(&recs[i])
		}
		got := acc.Result()
		if again := acc.Result(); !reflect.DeepEqual(again, got) {
			t.Fatalf("seed %d: a second Result differs", seed)
		}
		if d := RelativeDifference(got.OutputTokensPerS, want.OutputTokensPerS); d > 1e-12 {
			t.Fatalf("seed %d: output tokens/s %v, slice path %v", seed, got.OutputTokensPerS, want.OutputTokensPerS)
		}
		got.OutputTokensPerS = want.OutputTokensPerS
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d:\n streamed %+v\n slice    %+v", seed, got, want)
		}
	}
}

func TestProbeAccumulatorCases(t *testing.T) {
	tests := []struct {
		name string
		in   ProbeInput
	}{
		{"no records", probe(3, nil)},
		{"empty window", ProbeInput{Agents: 2, WindowStartNs: 10 * sec, WindowEndNs: 10 * sec, Records: closedLoop(2, 0, 20*sec, 5*sec, fast)}},
		{"every request errored", probe(4, closedLoop(4, -20*sec, 140*sec, 5*sec, func(int, int) (time.Duration, float64, string) {
			return time.Second, 60, StatusError
		}))},
		{"all truncated", probe(4, closedLoop(4, -20*sec, 140*sec, 5*sec, func(int, int) (time.Duration, float64, string) {
			return time.Second, 60, StatusTruncated
		}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want := EvaluateProbe(tc.in, testRules, []Tier{t20, t50}), referenceEvaluateProbe(tc.in, testRules, []Tier{t20, t50})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestAgentActivityAnyOrder(t *testing.T) {
	for seed := range uint64(100) {
		in, rules, _ := randomProbe(seed)
		gap := int64(rules.MaxIdleGap)
		want := refAgentActivity(in.Records, gap)
		recs := slices.Clone(in.Records)
		rand.New(rand.NewPCG(seed, 2)).Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		for _, order := range [][]Request{in.Records, recs} {
			if got := AgentActivity(order, gap); !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d:\n got  %v\n want %v", seed, got, want)
			}
		}
	}
}

func TestSelectKth(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	inputs := [][]float64{{1}, {2, 1}, {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}}
	for n := range 40 {
		v := make([]float64, 1+rng.IntN(5000))
		for i := range v {
			switch n % 4 {
			case 0:
				v[i] = rng.Float64()
			case 1:
				v[i] = float64(rng.IntN(4)) // many ties
			case 2:
				v[i] = float64(i) // sorted
			default:
				v[i] = float64(len(v) - i) // reversed
			}
		}
		if n%5 == 0 {
			v[0] = math.Inf(1)
		}
		inputs = append(inputs, v)
	}
	for i, v := range inputs {
		sorted := slices.Sorted(slices.Values(v))
		for _, q := range []float64{0, 0.1, 0.5, 0.7, 0.9, 0.99, 1} {
			w := slices.Clone(v)
			k := nearestRank(len(w), q) - 1
			if got, want := selectKth(w, k), Quantile(sorted, q); got != want {
				t.Fatalf("input %d (n=%d) q=%v: got %v, want %v", i, len(v), q, got, want)
			}
			for j := range w {
				if (j < k && w[j] > w[k]) || (j > k && w[j] < w[k]) {
					t.Fatalf("input %d q=%v: not partitioned at %d", i, q, j)
				}
			}
		}
		for _, pq := range [][2]float64{{0.1, 0.5}, {0.5, 0.9}, {0.5, 0.5}} {
			gp, gq := quantilePair(slices.Clone(v), pq[0], pq[1])
			if wp, wq := zeroNaN(Quantile(sorted, pq[0])), zeroNaN(Quantile(sorted, pq[1])); gp != wp || gq != wq {
				t.Fatalf("input %d pair %v: got %v %v, want %v %v", i, pq, gp, gq, wp, wq)
			}
		}
	}
}

func TestValueList(t *testing.T) {
	for _, n := range []int{0, 1, 64, 65, 20000} {
		var l valueList
		for i := range n {
			l.add(float64(i))
		}
		got := l.flat()
		if len(got) != n {
			t.Fatalf("n=%d: flat has %d values", n, len(got))
		}
		for i, v := range got {
			if v != float64(i) {
				t.Fatalf("n=%d: value %d is %v", n, i, v)
			}
		}
	}
}

func TestWideSum(t *testing.T) {
	var s wideSum
	for range 4 {
		s.add(math.MaxInt64)
	}
	if want := 4 * float64(math.MaxInt64); s.float() != want {
		t.Fatalf("got %v, want %v", s.float(), want)
	}
}

// BenchmarkProbeAccumulatorAdd is the cost of one record in a probe of 1000
// agents judged on three tiers.
func BenchmarkProbeAccumulatorAdd(b *testing.B) {
	recs := closedLoop(1000, -20*sec, 140*sec, 5*sec, fast)
	tiers := []Tier{t20, t50, {Name: "t100", MinDecodeTPS: 100, MaxTTFT: 3 * time.Second}}
	b.ReportAllocs()
	for b.Loop() {
		acc := NewProbeAccumulator(probe(1000, nil), testRules, tiers)
		for i := range recs {
			acc.Add(&recs[i])
		}
		_ = acc.Result()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

// TestValueListQuantiles: the histogram search of long lists finds the
// nearest-rank quantiles a sort finds.
func TestValueListQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	gens := map[string]func(i int) float64{
		"uniform":   func(int) float64 { return rng.Float64() * 10 },
		"ties":      func(int) float64 { return float64(rng.IntN(3)) },
		"one value": func(int) float64 { return 1 },
		"wide":      func(int) float64 { return math.Exp(rng.NormFloat64() * 20) },
		"signed":    func(int) float64 { return rng.NormFloat64() },
		"with +Inf": func(i int) float64 {
			if i%3 == 0 {
				return math.Inf(1)
			}
			return rng.Float64()
		},
		"close": func(int) float64 { return 1 + float64(rng.IntN(1000))*1e-15 },
	}
	for name, gen := range gens {
		for _, n := range []int{0, 1, 100, smallList, smallList + 1, 200_000} {
			var l valueList
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = gen(i)
				l.add(vals[i])
			}
			slices.Sort(vals)
			for _, pq := range [][2]float64{{0.1, 0.5}, {0.5, 0.9}} {
				var lc valueList
				for _, c := range l.chunks {
					for _, v := range c {
						lc.add(v)
					}
				}
				gp, gq := lc.quantiles(pq[0], pq[1])
				wp, wq := zeroNaN(Quantile(vals, pq[0])), zeroNaN(Quantile(vals, pq[1]))
				if gp != wp || gq != wq {
					t.Fatalf("%s n=%d %v: got %v %v, want %v %v", name, n, pq, gp, gq, wp, wq)
				}
			}
		}
	}
}
