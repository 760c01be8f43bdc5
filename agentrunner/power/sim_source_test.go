package power

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
)

// TestCounterMatchesIntegral: on a loaded sim engine whose power swings,
// the counter's energy and the integral of sampled power agree within 1%
// over a few seconds at the rules' sampling interval.
func TestCounterMatchesIntegral(t *testing.T) {
	rules, err := spec.LoadRules("v1")
	if err != nil {
		t.Fatal(err)
	}
	url := startSim(t, "h200x8-like", nil)
	stop := loadSim(t, url, "sim-large-moe", 6)
	s := runSampler(t, simSource(t, url), ConfigFromRules(rules.Power), 3*time.Second)
	stop()

	samples := s.Samples()
	start, end := span(t, samples, 200*time.Millisecond)
	w, err := s.Window(start, end)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(w.PerGPU); got != 8 {
		t.Fatalf("GPUs in window = %d, want 8", got)
	}
	t.Logf("counter %.2f J, integral %.2f J, %.4f%% apart, max gap %v, %d samples", w.CounterJ, w.IntegralJ, 100*w.RelDiff, w.MaxGap, w.Samples)
	if w.RelDiff > 0.01 {
		t.Errorf("counter %.2f J vs integral %.2f J: %.3f%% apart, want ≤ 1%%", w.CounterJ, w.IntegralJ, 100*w.RelDiff)
	}
	for _, g := range w.PerGPU {
		if g.RelDiff > 0.01 {
			t.Errorf("gpu %d: counter %.2f J vs integral %.2f J: %.3f%% apart", g.GPU, g.CounterJ, g.IntegralJ, 100*g.RelDiff)
		}
	}
	// The load must have moved the power, or the test proves nothing.
	st := Summarize(samples)
	if st[0].MaxW-st[0].MinW < 50 {
		t.Errorf("power stayed within %.1f–%.1f W: the load did not reach the sim", st[0].MinW, st[0].MaxW)
	}
	if w.PowerSources[0] != SourceSim || len(w.PowerSources) != 1 {
		t.Errorf("power sources = %v, want [sim]", w.PowerSources)
	}
	if st := s.Stats(); st.Errors != 0 || st.Resets != 0 {
		t.Errorf("stats = %+v, want no errors or resets", st)
	}
}

// TestSimTimestampsOnRunClock: the sim's CLOCK_MONOTONIC stamps land on the
// run clock, between the sampler's start and stop.
func TestSimTimestampsOnRunClock(t *testing.T) {
	url := startSim(t, "tiny", nil)
	src := simSource(t, url)
	clk := NewClock(time.Now())
	before := clk.Now()
	got, err := src.Read(context.Background(), clk)
	after := clk.Now()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("samples = %d, want 1", len(got))
	}
	x := got[0]
	if x.TMonoNs < before || x.TMonoNs > after {
		t.Errorf("t_mono_ns %d outside the read [%d, %d]", x.TMonoNs, before, after)
	}
	if d := x.TUnixNs - x.SrcTUnixNs; d < -int64(50*time.Millisecond) || d > int64(50*time.Millisecond) {
		t.Errorf("our wall time and the sim's differ by %v", time.Duration(d))
	}
	if x.EnergyMJ <= 0 || x.PowerW <= 0 || x.PowerSource != SourceSim {
		t.Errorf("sample = %+v, want energy, power and source sim", x)
	}
}

// TestResetDetected: the sim's energy-reset fault shows as a reset event
// per GPU and as resets in a window across it.
func TestResetDetected(t *testing.T) {
	url := startSim(t, "h200x8-like", func(c *sim.Config) { c.Faults.EnergyResetAfter = 700 * time.Millisecond })
	s := runSampler(t, simSource(t, url), Config{Interval: 50 * time.Millisecond}, 1500*time.Millisecond)

	resets := eventsOf(s.Events(), EventReset)
	if len(resets) != 8 {
		t.Fatalf("reset events = %d (%v), want one per GPU (8)", len(resets), resets)
	}
	if got := s.Stats().Resets; got != 8 {
		t.Errorf("Stats().Resets = %d, want 8", got)
	}
	start, end := span(t, s.Samples(), 50*time.Millisecond)
	w, err := s.Window(start, end)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Resets) != 8 {
		t.Errorf("window resets = %d, want 8", len(w.Resets))
	}
}

// TestGapDetected: the sim's power-gap fault (503s) shows as failed reads
// and a gap longer than the maximum.
func TestGapDetected(t *testing.T) {
	url := startSim(t, "tiny", func(c *sim.Config) {
		c.Faults.PowerGapAfter = 500 * time.Millisecond
		c.Faults.PowerGapFor = 900 * time.Millisecond
	})
	s := runSampler(t, simSource(t, url), Config{Interval: 50 * time.Millisecond, MaxGap: 300 * time.Millisecond}, 2*time.Second)

	// The injected gap must be there; a busy machine may add short ones.
	var injected []Event
	for _, g := range eventsOf(s.Events(), EventGap) {
		if d := time.Duration(g.DurNs); d >= 850*time.Millisecond && d <= 3*time.Second {
			injected = append(injected, g)
		}
	}
	if len(injected) != 1 {
		t.Fatalf("gap events = %v, want one of about 900ms", eventsOf(s.Events(), EventGap))
	}
	errs := eventsOf(s.Events(), EventError)
	if len(errs) == 0 || s.Stats().Errors == 0 {
		t.Errorf("error events %v, stats %+v: want the failed reads recorded", errs, s.Stats())
	}
	failed := 0
	for _, x := range s.Samples() {
		if !x.Valid() {
			failed++
		}
	}
	if failed == 0 {
		t.Error("no failed sample recorded for the gap")
	}
	start, end := span(t, s.Samples(), 50*time.Millisecond)
	w, err := s.Window(start, end)
	if err != nil {
		t.Fatal(err)
	}
	if w.MaxGap < 850*time.Millisecond || w.Errors == 0 {
		t.Errorf("window max gap %v, errors %d: want the gap and the failures", w.MaxGap, w.Errors)
	}
}

// TestSourceDown: a sim that is not there gives error events, no samples,
// and never a made-up reading.
func TestSourceDown(t *testing.T) {
	src := simSource(t, "http://127.0.0.1:1")
	s := runSampler(t, src, Config{Interval: 20 * time.Millisecond, ReadTimeout: 200 * time.Millisecond}, 150*time.Millisecond)
	if len(s.Samples()) != 0 {
		t.Errorf("samples = %d, want none", len(s.Samples()))
	}
	errs := eventsOf(s.Events(), EventError)
	if len(errs) == 0 || errs[0].GPU != -1 {
		t.Errorf("error events = %v, want source-wide errors", errs)
	}
	if _, err := s.Window(0, 1); !errors.Is(err, metrics.ErrNoSamples) {
		t.Errorf("Window() error = %v, want ErrNoSamples", err)
	}
}

func TestBaselineOnSim(t *testing.T) {
	url := startSim(t, "tiny", nil) // idle 60 W, no spread, no requests
	s, err := NewSampler(simSource(t, url), time.Now(), Config{Interval: 50 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Baseline(context.Background(), time.Second); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Baseline before Start = %v, want ErrNotStarted", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	b, err := s.Baseline(context.Background(), 600*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if w := b.PerGPUW[0]; w < 59.4 || w > 60.6 {
		t.Errorf("baseline = %.3f W, want 60 W ± 1%%", w)
	}
	if b.TotalW != b.PerGPUW[0] || b.EndNs-b.StartNs != (600*time.Millisecond).Nanoseconds() {
		t.Errorf("baseline = %+v", b)
	}
}

// TestWriterRoundTrip: a sampler's sink gets every sample; the file reads
// back equal.
func TestWriterRoundTrip(t *testing.T) {
	url := startSim(t, "h200x8-like", nil)
	path := filepath.Join(t.TempDir(), FileName)
	w, err := CreateWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	s := runSampler(t, simSource(t, url), Config{Interval: 20 * time.Millisecond, Sink: w}, 300*time.Millisecond)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("final path exists before Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadSamples(path, f)
	if err != nil {
		t.Fatal(err)
	}
	want := s.Samples()
	if len(got) != len(want) || len(got) != w.Count() || len(got) < 8 {
		t.Fatalf("read %d samples, sampler has %d, writer wrote %d", len(got), len(want), w.Count())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sample %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only %s", len(entries), FileName)
	}
}

func TestMeasureOnSim(t *testing.T) {
	url := startSim(t, "h200x8-like", nil)
	m, err := Measure(context.Background(), simSource(t, url), time.Second, Config{Interval: 50 * time.Millisecond}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.GPUs) != 8 || m.Source != "sim" || m.Boundary != BoundarySimulated {
		t.Fatalf("measurement = %d GPUs from %s/%s", len(m.GPUs), m.Source, m.Boundary)
	}
	g := m.GPUs[0]
	// Generous bounds: 20 Hz requested on a shared CI machine.
	if g.RateHz < 5 || g.RateHz > 25 || g.Samples < 5 {
		t.Errorf("rate = %.1f Hz over %d samples, want about 20", g.RateHz, g.Samples)
	}
	if g.AvgW <= 0 || g.CounterJ <= 0 || g.RelDiff > 0.01 || g.PowerSource != SourceSim {
		t.Errorf("gpu 0 = %+v", g)
	}
	if m.Wall < time.Second || m.CPUPercent < 0 {
		t.Errorf("wall %v, cpu %.2f%%", m.Wall, m.CPUPercent)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Measure(ctx, simSource(t, url), time.Second, Config{}, testLogger(t)); !errors.Is(err, context.Canceled) {
		t.Errorf("Measure on a canceled ctx = %v, want context.Canceled", err)
	}
}
