package power

import (
	"slices"
	"testing"
	"time"
)

func TestUpdatePeriod(t *testing.T) {
	// Sampled every 20 ms, the counter moves every 100 ms: the median
	// interval between new values is 100 ms.
	var samples []Sample
	for i := range 100 {
		var s Sample
		s.TMonoNs = int64(i) * 20 * ms
		s.EnergyMJ = float64(i / 5 * 1000)
		s.PowerW = 200
		samples = append(samples, s)
	}
	if got := UpdatePeriod(samples, func(s *Sample) float64 { return s.EnergyMJ }); got != 100*time.Millisecond {
		t.Errorf("counter update period = %v, want 100ms", got)
	}
	if got := UpdatePeriod(samples, func(s *Sample) float64 { return s.PowerW }); got != 0 {
		t.Errorf("constant power's update period = %v, want 0", got)
	}
}

func TestSummarize(t *testing.T) {
	samples := steady(0, 250, 0, 2000*ms, 100*ms, 0)
	samples[3].PowerW, samples[4].PowerW = 240, 260 // still 250 W on average? no: only the extremes matter here
	samples[5].ClockEvents = 4
	samples[6].ClockEvents = 1
	samples[7].TempC = 70
	samples[8].SMClockMHz, samples[9].SMClockMHz = 1500, 1980
	samples[2].ReadNs = 5000
	bad := Sample{Err: "x"}
	bad.TMonoNs = 150 * ms
	st := Summarize(append(samples, bad))
	if len(st) != 1 {
		t.Fatalf("stats for %d GPUs, want 1", len(st))
	}
	g := st[0]
	if g.Samples != 21 || g.Errors != 1 || g.Span != 2*time.Second || g.RateHz != 10 {
		t.Errorf("samples %d errors %d span %v rate %v", g.Samples, g.Errors, g.Span, g.RateHz)
	}
	if g.MinW != 240 || g.MaxW != 260 || g.AvgW != 250 || g.MaxTempC != 70 {
		t.Errorf("min %v max %v avg %v temp %v", g.MinW, g.MaxW, g.AvgW, g.MaxTempC)
	}
	if g.MinSMClockMHz != 1500 || g.MaxSMClockMHz != 1980 || g.MaxRead != 5000 {
		t.Errorf("clocks %d–%d, max read %v", g.MinSMClockMHz, g.MaxSMClockMHz, g.MaxRead)
	}
	if !slices.Equal(g.ClockEventNames, []string{"gpu_idle", "sw_power_cap"}) || g.ClockEvents != 5 {
		t.Errorf("clock events %d %v", g.ClockEvents, g.ClockEventNames)
	}
	if g.CounterUpdatePeriod != 100*time.Millisecond || g.MaxGap != 100*time.Millisecond || g.PowerSource != SourceInstant {
		t.Errorf("update period %v, max gap %v, source %q", g.CounterUpdatePeriod, g.MaxGap, g.PowerSource)
	}
}

func TestClockEventNames(t *testing.T) {
	tests := []struct {
		name string
		mask uint64
		want []string
	}{
		{"none", 0, []string{}},
		{"power cap", 4, []string{"sw_power_cap"}},
		{"thermal and brake", 64 | 128, []string{"hw_thermal_slowdown", "hw_power_brake_slowdown"}},
		{"unknown bit", 1 << 20, []string{"bit_20"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClockEventNames(tt.mask); !slices.Equal(got, tt.want) {
				t.Errorf("ClockEventNames(%d) = %v, want %v", tt.mask, got, tt.want)
			}
		})
	}
}
