package metrics

import (
	"errors"
	"math"
	"testing"
	"time"
)

// ramp returns samples of one GPU drawing a constant watts from t=0, every
// step, with the counter starting at base mJ.
func ramp(gpu int, watts float64, step, until int64, base float64) []PowerSample {
	var out []PowerSample
	for t := int64(0); t <= until; t += step {
		out = append(out, PowerSample{GPU: gpu, TMonoNs: t, EnergyMJ: base + watts*float64(t)/1e6, PowerW: watts})
	}
	return out
}

func TestEnergyFromCounters(t *testing.T) {
	samples := append(ramp(0, 500, 100e6, 10e9, 1e9), ramp(1, 300, 100e6, 10e9, 5)...)
	// Window edges fall between samples: interpolation must be exact for a
	// constant draw.
	e, err := EnergyFromCounters(samples, 1_050_000_000, 9_020_000_000)
	if err != nil {
		t.Fatal(err)
	}
	w := 7.97
	if want := 800 * w; math.Abs(e.Joules-want) > 1e-6 {
		t.Fatalf("energy = %v J, want %v", e.Joules, want)
	}
	if math.Abs(e.PerGPU[0]-500*w) > 1e-6 || math.Abs(e.PerGPU[1]-300*w) > 1e-6 {
		t.Fatalf("per GPU = %v", e.PerGPU)
	}
	if len(e.Resets) != 0 {
		t.Fatalf("resets = %v, want none", e.Resets)
	}
	p, err := EnergyFromPowerIntegral(samples, 1_050_000_000, 9_020_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if d := RelativeDifference(p.Joules, e.Joules); d > 1e-12 {
		t.Fatalf("power integral %v vs counters %v", p.Joules, e.Joules)
	}
	if got, want := AveragePower(e.Joules, 7970*time.Millisecond), 800.0; math.Abs(got-want) > 1e-9 {
		t.Fatalf("AveragePower = %v, want %v", got, want)
	}
}

func TestEnergyCounterReset(t *testing.T) {
	s := []PowerSample{
		{GPU: 0, TMonoNs: 0, EnergyMJ: 1_000_000},
		{GPU: 0, TMonoNs: 1e9, EnergyMJ: 1_100_000}, // +100 J
		{GPU: 0, TMonoNs: 2e9, EnergyMJ: 40_000},    // reset: 40 J since
		{GPU: 0, TMonoNs: 3e9, EnergyMJ: 140_000},   // +100 J
	}
	e, err := EnergyFromCounters(s, 0, 3e9)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(e.Joules-240) > 1e-9 {
		t.Fatalf("energy = %v, want 240", e.Joules)
	}
	if len(e.Resets) != 1 || e.Resets[0] != (CounterReset{GPU: 0, TMonoNs: 2e9}) {
		t.Fatalf("resets = %v", e.Resets)
	}
	// A reset outside the window is not reported.
	e, err = EnergyFromCounters(s, 0, 1e9)
	if err != nil || len(e.Resets) != 0 || math.Abs(e.Joules-100) > 1e-9 {
		t.Fatalf("energy = %+v, %v", e, err)
	}
}

func TestPowerIntegralTrapezoid(t *testing.T) {
	s := []PowerSample{{TMonoNs: 0, PowerW: 100}, {TMonoNs: 2e9, PowerW: 300}}
	// Linear 100 → 300 W; over [0.5 s, 1.5 s] the mean is 200 W.
	e, err := EnergyFromPowerIntegral(s, 5e8, 15e8)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(e.Joules-200) > 1e-9 {
		t.Fatalf("energy = %v, want 200", e.Joules)
	}
}

func TestEnergyErrors(t *testing.T) {
	s := ramp(0, 100, 1e9, 5e9, 0)
	for _, tc := range []struct {
		name       string
		samples    []PowerSample
		start, end int64
		want       error
	}{
		{"before the first sample", s, -1, 3e9, ErrNotBracketed},
		{"after the last sample", s, 1e9, 5e9 + 1, ErrNotBracketed},
		{"one GPU not bracketed", append(ramp(1, 1, 1e9, 2e9, 0), s...), 1e9, 3e9, ErrNotBracketed},
		{"empty window", s, 3e9, 3e9, ErrEmptyWindow},
		{"no samples", nil, 0, 1, ErrNoSamples},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EnergyFromCounters(tc.samples, tc.start, tc.end)
			if !errors.Is(err, tc.want) {
				t.Fatalf("counters err = %v, want %v", err, tc.want)
			}
			_, err = EnergyFromPowerIntegral(tc.samples, tc.start, tc.end)
			if !errors.Is(err, tc.want) {
				t.Fatalf("integral err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMaxGap(t *testing.T) {
	s := []PowerSample{
		{GPU: 0, TMonoNs: 0}, {GPU: 0, TMonoNs: 100}, {GPU: 0, TMonoNs: 200}, {GPU: 0, TMonoNs: 900},
		{GPU: 1, TMonoNs: 0}, {GPU: 1, TMonoNs: 350}, {GPU: 1, TMonoNs: 400}, {GPU: 1, TMonoNs: 1000},
	}
	tests := []struct {
		name       string
		start, end int64
		want       time.Duration
	}{
		{"gap bracketing the start counts in full", 150, 300, 700},
		{"inside one window", 0, 200, 350},
		{"window after the last sample of GPU 0", 950, 990, 600},
		{"window before any sample", -100, 0, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MaxGap(s, tc.start, tc.end); got != tc.want {
				t.Fatalf("MaxGap = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAgentsPerMWAndJoulesPerToken(t *testing.T) {
	if got, want := AgentsPerMW(259, 99_846), 259e6/99_846; got != want {
		t.Fatalf("AgentsPerMW = %v, want %v", got, want)
	}
	if got := AgentsPerMW(10, 0); got != 0 {
		t.Fatalf("AgentsPerMW without power = %v", got)
	}
	if got, want := JoulesPerToken(1500, 1000), 1.5; got != want {
		t.Fatalf("JoulesPerToken = %v, want %v", got, want)
	}
	if got := JoulesPerToken(1500, 0); got != 0 {
		t.Fatalf("JoulesPerToken without tokens = %v", got)
	}
}

func TestRelativeDifference(t *testing.T) {
	for _, tc := range []struct{ got, ref, want float64 }{
		{101, 100, 0.01}, {99, 100, 0.01}, {0, 0, 0}, {-2, -4, 0.5}, {1, 0, math.Inf(1)},
	} {
		if d := RelativeDifference(tc.got, tc.ref); math.Abs(d-tc.want) > 1e-12 && d != tc.want {
			t.Fatalf("RelativeDifference(%v, %v) = %v, want %v", tc.got, tc.ref, d, tc.want)
		}
	}
}
