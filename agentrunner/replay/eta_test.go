package replay

import (
	"context"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
)

// etaSample is one progress snapshot of a recorded search.
type etaSample struct {
	at         time.Duration
	probesDone int
	phase      string
	eta        time.Duration
	reason     string
}

// recordSearch runs a modelled search of three tiers on a fake clock: the
// calibration takes 20 s, each probe a duration from durs (cycled), and a
// progress snapshot is taken every second, as the runner's display would.
func recordSearch(t *testing.T, durs []time.Duration) (samples []etaSample, end time.Duration) {
	t.Helper()
	caps := map[string]int{"t20": 37, "t50": 21, "t100": 9}
	n0 := map[string]int{"t20": 32, "t50": 16, "t100": 8}
	r := modelRunner(t, []string{"t20", "t50", "t100"}, &serverModel{caps: caps}, n0)
	r.lim = agentLimit{n: 1 << 10, why: "test"}
	var now int64
	r.nowFn = func() int64 { return now }
	run := func(d time.Duration, probe int, phase string) {
		for step := time.Second; step <= d; step += time.Second {
			now += int64(time.Second)
			p := r.progress(probe, phase)
			samples = append(samples, etaSample{at: time.Duration(now), probesDone: p.ProbesDone, phase: phase, eta: p.ETA, reason: p.ETAReason})
		}
	}
	calibrate, probe := r.calibrateFn, r.probeFn
	r.calibrateFn = func(ctx context.Context) (map[string]int, error) {
		run(20*time.Second, 0, "calibrate")
		return calibrate(ctx)
	}
	k := 0
	r.probeFn = func(ctx context.Context, n int, purpose, tier string) (*bundle.ProbeRecord, error) {
		run(durs[k%len(durs)], len(r.probes), "window")
		k++
		return probe(ctx, n, purpose, tier)
	}
	sum, err := r.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for tier, c := range caps {
		if got := sum.Tiers[tier].MaxAgents; got != c {
			t.Fatalf("%s: N_max %d, want %d", tier, got, c)
		}
	}
	return samples, time.Duration(now)
}

// TestETARecordedSearch replays recorded searches through the ETA: it
// counts down between probe completions, never rises without a reason,
// and stays within bounds of the time the run really had left.
func TestETARecordedSearch(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name string
		durs []time.Duration
	}{
		{"steady", []time.Duration{30 * s}},
		{"noisy", []time.Duration{30 * s, 45 * s, 25 * s, 60 * s, 35 * s}},
		{"slower than the prior", []time.Duration{90 * s, 80 * s, 100 * s}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			samples, end := recordSearch(t, tc.durs)
			var longest time.Duration
			for _, d := range tc.durs {
				longest = max(longest, d)
			}
			for i, x := range samples {
				if i > 0 {
					prev := samples[i-1]
					if x.eta > prev.eta && x.probesDone == prev.probesDone && x.phase == prev.phase {
						t.Fatalf("at %v: ETA rose from %v to %v within probe %d", x.at, prev.eta, x.eta, x.probesDone)
					}
					if x.eta > prev.eta && x.reason == "" {
						t.Fatalf("at %v: ETA rose from %v to %v without a reason", x.at, prev.eta, x.eta)
					}
				}
				// Once a probe is measured, the estimate is within a
				// factor of the truth, give or take one probe.
				truth := end - x.at
				if x.probesDone > 0 && (x.eta > 3*truth+longest || 3*x.eta+longest < truth) {
					t.Errorf("at %v (%d probes done): ETA %v, the run had %v left", x.at, x.probesDone, x.eta, truth)
				}
			}
			if last := samples[len(samples)-1]; last.eta > longest {
				t.Errorf("ETA at the last second %v, more than a probe", last.eta)
			}
			var worst float64
			for _, x := range samples {
				if x.probesDone > 0 && x.at < end {
					worst = max(worst, float64(x.eta)/float64(end-x.at), float64(end-x.at)/float64(max(x.eta, time.Second)))
				}
			}
			t.Logf("%d samples over %v; first ETA %v; worst ratio to the truth after a probe %.2f", len(samples), end, samples[0].eta, worst)
		})
	}
}

// TestETAEstimator: the estimate counts down inside a probe, holds when a
// probe runs long, and explains a rise.
func TestETAEstimator(t *testing.T) {
	sec := int64(time.Second)
	e := newETAEstimator(10 * time.Second)
	e.begin(0, 3, true, "t20: N_max ≥ 8")
	if got, _ := e.eta(0); got != 30*time.Second {
		t.Fatalf("ETA at start %v, want 30s", got)
	}
	if got, _ := e.eta(4 * sec); got != 26*time.Second {
		t.Errorf("ETA after 4 s %v, want 26s", got)
	}
	if got, _ := e.eta(15 * sec); got != 20*time.Second {
		t.Errorf("ETA of a probe running long %v, want 20s (the other two)", got)
	}
	e.done(20 * sec) // mean 20 s now: 2 × 20 s > 20 s shown
	got, why := e.eta(20 * sec)
	if got != 40*time.Second || why == "" {
		t.Errorf("after a slow probe: ETA %v reason %q, want 40s and a reason", got, why)
	}
	e.begin(20*sec, 5, true, "t20: N=16 passed, N_max ≥ 16")
	if _, why := e.eta(20 * sec); why == "" || !contains(why, "N_max ≥ 16") {
		t.Errorf("bound grew: reason %q, want the search state", why)
	}
	e.begin(21*sec, 1, true, "t20: confirming")
	if _, why := e.eta(21 * sec); why != "" {
		t.Errorf("ETA fell but reason %q", why)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
