package power

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Measurement is what Measure saw: per-GPU statistics, the sampler's
// counters and events, and its own cost.
type Measurement struct {
	Source    string        `json:"source"`
	Boundary  string        `json:"boundary"`
	Interval  time.Duration `json:"interval_ns"`
	Requested time.Duration `json:"requested_ns"`
	Wall      time.Duration `json:"wall_ns"`
	// CPU is the process's user and system CPU time while sampling;
	// CPUPercent is CPU over Wall in percent of one core (0 where the
	// platform cannot tell). In `agentwatt gpu sample` the process does
	// nothing else, so it is the sampler's cost.
	CPU        time.Duration `json:"cpu_ns"`
	CPUPercent float64       `json:"cpu_pct_of_core"`
	// SourceCalls is how many calls into its library (NVML) the source
	// made, where it counts them (CallCounter); CallsPerSample is that per
	// GPU reading (valid or failed sample).
	SourceCalls    int64   `json:"source_calls,omitempty"`
	CallsPerSample float64 `json:"calls_per_sample,omitempty"`

	GPUs   []GPUStats `json:"gpus"`
	Stats  Stats      `json:"stats"`
	Events []Event    `json:"events"`
	// Samples are every sample taken (not in JSON; Config.Sink writes them).
	Samples []Sample `json:"-"`
}

// Measure samples src for d on a fresh run clock and summarises. An ended
// ctx stops it early with ctx's error.
func Measure(ctx context.Context, src Source, d time.Duration, cfg Config, log zerolog.Logger) (*Measurement, error) {
	if d <= 0 {
		return nil, fmt.Errorf("%w: measure for %v: want a positive duration", ErrInvalidConfig, d)
	}
	s, err := NewSampler(src, time.Now(), cfg, log)
	if err != nil {
		return nil, err
	}
	counter, counts := src.(CallCounter)
	var calls0 int64
	if counts {
		calls0 = counter.Calls()
	}
	cpu0, cpuOK := processCPU()
	t0 := time.Now()
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	timer := time.NewTimer(d)
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
	timer.Stop()
	sinkErr := s.Stop()
	wall := time.Since(t0)
	cpu1, _ := processCPU()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := &Measurement{
		Source: src.Name(), Boundary: src.Boundary(), Interval: s.cfg.Interval, Requested: d, Wall: wall,
		Stats: s.Stats(), Events: s.Events(), Samples: s.Samples(),
	}
	if cpuOK {
		m.CPU = cpu1 - cpu0
		m.CPUPercent = 100 * m.CPU.Seconds() / wall.Seconds()
	}
	m.GPUs = Summarize(m.Samples)
	if counts {
		m.SourceCalls = counter.Calls() - calls0
		n := 0
		for _, g := range m.GPUs {
			n += g.Samples + g.Errors
		}
		if n > 0 {
			m.CallsPerSample = float64(m.SourceCalls) / float64(n)
		}
	}
	if sinkErr != nil {
		return m, fmt.Errorf("write samples: %w", sinkErr)
	}
	return m, nil
}
