package power

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/spec"
	"github.com/rs/zerolog"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"rules v1", mustRulesConfig(t), true},
		{"100 Hz", Config{Interval: 10 * time.Millisecond}, true},
		{"a BMC's 1 Hz", Config{Interval: time.Second, MaxGap: 5 * time.Second}, true},
		{"too slow", Config{Interval: 20 * time.Second, MaxGap: time.Minute}, false},
		{"gap below interval", Config{Interval: 100 * time.Millisecond, MaxGap: 50 * time.Millisecond}, false},
		{"negative timeout", Config{ReadTimeout: -1}, false},
		{"tiny retain", Config{Retain: 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func mustRulesConfig(t *testing.T) Config {
	t.Helper()
	r, err := spec.LoadRules("v1")
	if err != nil {
		t.Fatal(err)
	}
	c := ConfigFromRules(r.Power)
	if c.Interval != 100*time.Millisecond || c.MaxGap != 500*time.Millisecond {
		t.Errorf("rules v1 config = %+v, want 100ms and 500ms", c)
	}
	return c
}

// countingSource returns one GPU whose counter goes up by one each read.
type countingSource struct{ n int }

func (c *countingSource) Name() string     { return "count" }
func (c *countingSource) Boundary() string { return BoundarySimulated }
func (c *countingSource) Read(_ context.Context, clk Clock) ([]Sample, error) {
	c.n++
	var s Sample
	s.TMonoNs, s.EnergyMJ, s.PowerW = clk.Now(), float64(c.n), 1
	return []Sample{s}, nil
}

func TestSamplerLifecycle(t *testing.T) {
	s, err := NewSampler(&countingSource{}, time.Now(), Config{Interval: 5 * time.Millisecond, Retain: 16}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("Stop before Start = %v", err)
	}
	s, _ = NewSampler(&countingSource{}, time.Now(), Config{Interval: 5 * time.Millisecond, Retain: 16}, zerolog.Nop())
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	time.Sleep(300 * time.Millisecond)
	_ = s.Stop()
	_ = s.Stop()
	got := s.Samples()
	if len(got) > 16 || len(got) < 4 {
		t.Errorf("retained %d samples, want at most 16", len(got))
	}
	if st := s.Stats(); st.Samples <= len(got) {
		t.Errorf("stats count %d samples, retained %d: want the older ones dropped", st.Samples, len(got))
	}
	if l := s.Latest(); len(l) != 1 || l[0].EnergyMJ != got[len(got)-1].EnergyMJ {
		t.Errorf("Latest() = %+v", l)
	}
	n := len(s.Samples())
	time.Sleep(20 * time.Millisecond)
	if len(s.Samples()) != n {
		t.Error("sampler still samples after Stop")
	}
}

// blockingSink never returns until released: the sampler must not wait on it.
type blockingSink struct{ release chan struct{} }

func (b *blockingSink) Write(Sample) error { <-b.release; return nil }

func TestSamplerNeverBlocksOnSink(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{})}
	s, err := NewSampler(&countingSource{}, time.Now(), Config{Interval: 2 * time.Millisecond, Buffer: 2, Sink: sink}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	close(sink.release)
	_ = s.Stop()
	st := s.Stats()
	if st.Samples < 10 || st.Dropped == 0 {
		t.Errorf("stats = %+v, want sampling to go on and drops recorded", st)
	}
	if d := eventsOf(s.Events(), EventDropped); len(d) != 1 {
		t.Errorf("dropped events = %v, want one", d)
	}
}

type failingSink struct{}

func (failingSink) Write(Sample) error { return errors.New("disk full") }

func TestSamplerSinkError(t *testing.T) {
	s, _ := NewSampler(&countingSource{}, time.Now(), Config{Interval: 5 * time.Millisecond, Sink: failingSink{}}, zerolog.Nop())
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if err := s.Stop(); err == nil || err.Error() != "disk full" {
		t.Errorf("Stop() = %v, want the sink's error", err)
	}
	if e := eventsOf(s.Events(), EventWriteError); len(e) != 1 {
		t.Errorf("write error events = %v, want one", e)
	}
}

func TestSamplerTrailingGap(t *testing.T) {
	src := &stallingSource{}
	s, _ := NewSampler(src, time.Now(), Config{Interval: 5 * time.Millisecond, MaxGap: 20 * time.Millisecond}, zerolog.Nop())
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(80 * time.Millisecond)
	_ = s.Stop()
	g := eventsOf(s.Events(), EventGap)
	if len(g) != 1 || g[0].DurNs < int64(20*time.Millisecond) {
		t.Errorf("gap events = %v, want the trailing gap", g)
	}
}

// stallingSource answers once, then only with errors.
type stallingSource struct{ n int }

func (s *stallingSource) Name() string     { return "stall" }
func (s *stallingSource) Boundary() string { return BoundarySimulated }
func (s *stallingSource) Read(_ context.Context, clk Clock) ([]Sample, error) {
	s.n++
	if s.n > 1 {
		return nil, errors.New("stalled")
	}
	var x Sample
	x.TMonoNs, x.EnergyMJ = clk.Now(), 1
	return []Sample{x}, nil
}

// gpusSource reports n GPUs whose counters go up by one each read.
type gpusSource struct{ n, reads int }

func (c *gpusSource) Name() string     { return "gpus" }
func (c *gpusSource) Boundary() string { return BoundarySimulated }
func (c *gpusSource) Read(_ context.Context, clk Clock) ([]Sample, error) {
	c.reads++
	out := make([]Sample, c.n)
	now := clk.Now()
	for i := range out {
		out[i].GPU, out[i].TMonoNs, out[i].EnergyMJ, out[i].PowerW = i, now, float64(c.reads), 1
	}
	return out, nil
}

// BenchmarkSamplerTick is the sampler's own cost per read of 8 GPUs, the
// source aside (the goal: the whole sampler under 1% of a core at 10 Hz).
func BenchmarkSamplerTick(b *testing.B) {
	s, err := NewSampler(&gpusSource{n: 8}, time.Now(), Config{}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.tick(ctx)
	}
}

// TestConfigFor: a source is sampled at its boundary's rate from the rules.
func TestConfigFor(t *testing.T) {
	r, err := spec.LoadRules("v1")
	if err != nil {
		t.Fatal(err)
	}
	for b, want := range map[string]time.Duration{BoundaryGPUBoard: 100 * time.Millisecond, BoundarySimulated: 100 * time.Millisecond,
		BoundaryNode: time.Second, BoundaryExternal: time.Second} {
		c := ConfigFor(r.Power, b)
		if c.Interval != want || c.Validate() != nil {
			t.Errorf("ConfigFor(%s) = %v (%v), want %v", b, c.Interval, c.Validate(), want)
		}
	}
}
