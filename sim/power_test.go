package sim

import (
	"math"
	"testing"
	"time"
)

// fakeClock is a settable clock for the power meter.
type fakeClock struct{ t time.Duration }

func (c *fakeClock) now() instant {
	return instant{elapsed: c.t, unixNS: 1_700_000_000e9 + int64(c.t), monoNS: int64(c.t)}
}

func powerProfile(smoothingMS float64, gpus int) Profile {
	return Profile{Name: "p", GPUs: gpus, Power: PowerModel{IdleW: 100, DynamicW: 600, BusyFloor: 0.5, SaturationTokens: 10, SmoothingMS: smoothingMS, SpreadPct: 5}}
}

// The counter equals the integral of instantaneous power, whatever the
// utilisation does, and never decreases.
func TestPowerEnergyIsIntegralOfPower(t *testing.T) {
	for _, smoothing := range []float64{0, 50, 250} {
		clk := &fakeClock{}
		m := newPowerMeter(powerProfile(smoothing, 2), 3, clk.now, 0)
		first := m.read()
		var integral float64 // J, per GPU 0, trapezoid at 1 ms
		prev := first
		r := newRNG(9)
		const dt = time.Millisecond
		for step := range 5000 {
			if step%37 == 0 { // a new engine step with a new utilisation
				m.setUtil(float64(r.intn(11)) / 10)
			}
			clk.t += dt
			cur := m.read()
			integral += (prev.GPUs[0].PowerW + cur.GPUs[0].PowerW) / 2 * dt.Seconds()
			for i := range cur.GPUs {
				if cur.GPUs[i].EnergyMJ < prev.GPUs[i].EnergyMJ {
					t.Fatalf("smoothing %v: GPU %d energy decreased: %d → %d", smoothing, i, prev.GPUs[i].EnergyMJ, cur.GPUs[i].EnergyMJ)
				}
			}
			prev = cur
		}
		counter := float64(prev.GPUs[0].EnergyMJ-first.GPUs[0].EnergyMJ) / 1e3
		// With smoothing 0 the power jumps at step changes, which the 1 ms
		// trapezoid cannot follow exactly; it is still far inside 1%.
		if rel := math.Abs(counter-integral) / integral; rel > 0.01 {
			t.Errorf("smoothing %v ms: counter %.3f J vs ∫P dt %.3f J (%.3f%% apart)", smoothing, counter, integral, rel*100)
		}
		if prev.Total.EnergyMJ != prev.GPUs[0].EnergyMJ+prev.GPUs[1].EnergyMJ {
			t.Errorf("total energy %d is not the sum of the GPUs", prev.Total.EnergyMJ)
		}
	}
}

func TestPowerIdleAndBusy(t *testing.T) {
	clk := &fakeClock{}
	p := powerProfile(0, 1)
	p.Power.SpreadPct = 0
	m := newPowerMeter(p, 1, clk.now, 0)
	tests := []struct {
		name string
		util float64
		want float64
	}{{"idle", 0, 100}, {"half", 0.5, 400}, {"full", 1, 700}}
	for _, tt := range tests {
		m.setUtil(tt.util)
		clk.t += time.Second
		before := m.read()
		clk.t += time.Second
		after := m.read()
		if got := after.GPUs[0].PowerW; got != tt.want {
			t.Errorf("%s: power %g W, want %g", tt.name, got, tt.want)
		}
		if got := float64(after.GPUs[0].EnergyMJ - before.GPUs[0].EnergyMJ); math.Abs(got-tt.want*1e3) > 1 {
			t.Errorf("%s: energy over 1 s = %g mJ, want %g", tt.name, got, tt.want*1e3)
		}
	}
}

func TestPowerSmoothing(t *testing.T) {
	clk := &fakeClock{}
	p := powerProfile(100, 1)
	p.Power.SpreadPct = 0
	m := newPowerMeter(p, 1, clk.now, 0)
	m.setUtil(1)
	clk.t += 100 * time.Millisecond // one time constant
	got := m.read().GPUs[0].PowerW
	want := 100 + 600*(1-math.Exp(-1))
	if math.Abs(got-want) > 1e-9 {
		t.Errorf("power after one time constant = %g, want %g", got, want)
	}
}

func TestPowerCounterReset(t *testing.T) {
	clk := &fakeClock{}
	m := newPowerMeter(powerProfile(0, 2), 1, clk.now, 2*time.Second)
	clk.t = 1900 * time.Millisecond
	before := m.read()
	if before.GPUs[0].EnergyMJ < 1e9 {
		t.Fatalf("counter starts at %d, want a large arbitrary offset", before.GPUs[0].EnergyMJ)
	}
	clk.t = 2500 * time.Millisecond
	after := m.read()
	for i := range after.GPUs {
		if after.GPUs[i].EnergyMJ >= before.GPUs[i].EnergyMJ {
			t.Errorf("GPU %d: no reset: %d → %d", i, before.GPUs[i].EnergyMJ, after.GPUs[i].EnergyMJ)
		}
		// Idle for 0.5 s after the reset at ~100 W (± spread).
		if e := after.GPUs[i].EnergyMJ; e < 45_000 || e > 55_000 {
			t.Errorf("GPU %d: %d mJ 0.5 s after the reset, want about 50000", i, e)
		}
	}
	clk.t = 3 * time.Second
	if later := m.read(); later.GPUs[0].EnergyMJ <= after.GPUs[0].EnergyMJ {
		t.Errorf("counter does not grow after the reset")
	}
}

func TestPowerSpreadIsSeeded(t *testing.T) {
	clk := &fakeClock{}
	a := newPowerMeter(powerProfile(0, 4), 7, clk.now, 0).read()
	b := newPowerMeter(powerProfile(0, 4), 7, clk.now, 0).read()
	c := newPowerMeter(powerProfile(0, 4), 8, clk.now, 0).read()
	for i := range a.GPUs {
		if a.GPUs[i] != b.GPUs[i] {
			t.Errorf("GPU %d: same seed, different readings", i)
		}
		if w := a.GPUs[i].PowerW; w < 95 || w > 105 {
			t.Errorf("GPU %d: idle %g W outside 100 ± 5%%", i, w)
		}
	}
	if a.GPUs[0].EnergyMJ == c.GPUs[0].EnergyMJ {
		t.Errorf("different seeds gave the same counter offset")
	}
}
