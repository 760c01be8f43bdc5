package power

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

const ms = int64(time.Millisecond)

// steady makes samples of a GPU drawing w watts from t0 to t1 every step,
// its counter starting at e0 mJ.
func steady(gpu int, w float64, t0, t1, step int64, e0 float64) []Sample {
	var out []Sample
	for t := t0; t <= t1; t += step {
		var s Sample
		s.GPU, s.TMonoNs, s.PowerW, s.PowerSource = gpu, t, w, SourceInstant
		s.EnergyMJ = e0 + w*float64(t-t0)/1e6
		out = append(out, s)
	}
	return out
}

func TestWindowEnergy(t *testing.T) {
	samples := append(steady(0, 100, 0, 10000*ms, 100*ms, 5e6), steady(1, 300, 0, 10000*ms, 100*ms, 0)...)
	bad := Sample{Err: "nvmlDeviceGetTotalEnergyConsumption: ERROR_UNKNOWN"}
	bad.GPU, bad.TMonoNs = 1, 5050*ms
	samples = append(samples, bad)

	w, err := WindowEnergy(samples, 1000*ms, 9000*ms)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"counter J", w.CounterJ, 8 * 400},
		{"integral J", w.IntegralJ, 8 * 400},
		{"avg W", w.AvgW, 400},
		{"gpu 0 avg W", w.PerGPU[0].AvgW, 100},
		{"gpu 1 counter J", w.PerGPU[1].CounterJ, 8 * 300},
		{"rel diff", w.RelDiff, 0},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-6*math.Max(1, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if w.MaxGap != 100*time.Millisecond || w.Errors != 1 || w.PerGPU[1].Errors != 1 || w.Samples != 160 {
		t.Errorf("max gap %v, errors %d, samples %d", w.MaxGap, w.Errors, w.Samples)
	}
	if len(w.PowerSources) != 1 || w.PowerSources[0] != SourceInstant {
		t.Errorf("power sources = %v", w.PowerSources)
	}
}

func TestWindowEnergyDisagreement(t *testing.T) {
	// The counter says 100 W, the sampled power 110 W: 10% apart.
	samples := steady(0, 100, 0, 2000*ms, 100*ms, 0)
	for i := range samples {
		samples[i].PowerW = 110
	}
	w, err := WindowEnergy(samples, 0, 2000*ms)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(w.RelDiff-0.1) > 1e-9 {
		t.Errorf("rel diff = %v, want 0.1", w.RelDiff)
	}
}

func TestWindowEnergyErrors(t *testing.T) {
	ok := steady(0, 100, 0, 1000*ms, 100*ms, 0)
	onlyBad := Sample{Err: "boom"}
	onlyBad.GPU = 1
	tests := []struct {
		name    string
		samples []Sample
		start   int64
		end     int64
		want    error
	}{
		{"empty window", ok, 500 * ms, 500 * ms, metrics.ErrEmptyWindow},
		{"no samples", nil, 0, ms, metrics.ErrNoSamples},
		{"not bracketed", ok, 500 * ms, 2000 * ms, metrics.ErrNotBracketed},
		{"a GPU with only failed samples", append(ok[:len(ok):len(ok)], onlyBad), 0, 1000 * ms, metrics.ErrNotBracketed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := WindowEnergy(tt.samples, tt.start, tt.end); !errors.Is(err, tt.want) {
				t.Errorf("WindowEnergy() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRelDiffNoCounterEnergy(t *testing.T) {
	samples := steady(0, 100, 0, 1000*ms, 100*ms, 0)
	for i := range samples {
		samples[i].EnergyMJ = 42 // a stuck counter
	}
	w, err := WindowEnergy(samples, 0, 1000*ms)
	if err != nil {
		t.Fatal(err)
	}
	if w.RelDiff != 1 || w.CounterJ != 0 {
		t.Errorf("rel diff %v with counter %v J, want 1 and 0", w.RelDiff, w.CounterJ)
	}
}
