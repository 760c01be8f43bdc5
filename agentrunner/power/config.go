package power

import (
	"fmt"
	"time"

	"github.com/agentwatt/agentwatt/spec"
)

// SampleWriter receives every sample in order, from one goroutine (Writer
// is the power.jsonl.zst one).
type SampleWriter interface {
	Write(Sample) error
}

// Config configures a Sampler. Zero fields take the defaults.
type Config struct {
	// Interval is the sampling period: 100 ms (10 Hz) by default, the rules'
	// sample_interval.
	Interval time.Duration
	// MaxGap is the longest allowed time between two valid samples of a GPU
	// (the rules' max_sample_gap, 500 ms by default); longer is an EventGap.
	MaxGap time.Duration
	// ReadTimeout bounds one Source.Read: 2 s by default.
	ReadTimeout time.Duration
	// Retain is how many samples are kept in memory for Window and
	// Samples (the writer gets all of them): 1<<20 by default, about 29 h
	// of 8 GPUs at 10 Hz.
	Retain int
	// MaxEvents bounds the events kept (Stats counts all): 10000 by default.
	MaxEvents int
	// Buffer is the number of samples queued for Sink before the sampler
	// drops them (EventDropped) rather than wait: 4096 by default.
	Buffer int
	// Sink, when set, gets every sample (power.jsonl.zst).
	Sink SampleWriter
}

// Defaults of Config.
const (
	DefaultInterval    = 100 * time.Millisecond
	DefaultMaxGap      = 500 * time.Millisecond
	DefaultReadTimeout = 2 * time.Second
	DefaultRetain      = 1 << 20
	DefaultMaxEvents   = 10000
	DefaultBuffer      = 4096
)

// ConfigFromRules takes the interval and the maximum gap from the rules'
// power section (spec.LoadRules(version).Power): the defaults, those of the
// gpu-board boundary.
func ConfigFromRules(p spec.PowerRules) Config {
	return ConfigFor(p, BoundaryGPUBoard)
}

// ConfigFor takes the interval and the maximum gap of a source's boundary
// from the rules (spec.PowerRules.Limits): a BMC or a meter is sampled at
// its own, slower rate, never at the GPUs' 10 Hz.
func ConfigFor(p spec.PowerRules, boundary string) Config {
	l := p.Limits(boundary)
	return Config{Interval: l.SampleInterval.Duration, MaxGap: l.MaxSampleGap.Duration}
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.MaxGap == 0 {
		c.MaxGap = DefaultMaxGap
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.Retain == 0 {
		c.Retain = DefaultRetain
	}
	if c.MaxEvents == 0 {
		c.MaxEvents = DefaultMaxEvents
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	return c
}

// Validate checks a configuration after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Interval < time.Millisecond || c.Interval > 10*time.Second:
		return fmt.Errorf("%w: interval %v: want 1ms to 10s (the rules' interval of the source's boundary)", ErrInvalidConfig, c.Interval)
	case c.MaxGap < c.Interval:
		return fmt.Errorf("%w: max gap %v is shorter than the interval %v", ErrInvalidConfig, c.MaxGap, c.Interval)
	case c.ReadTimeout < 0:
		return fmt.Errorf("%w: read timeout %v: must not be negative", ErrInvalidConfig, c.ReadTimeout)
	case c.Retain < 16 || c.MaxEvents < 1 || c.Buffer < 1:
		return fmt.Errorf("%w: retain %d, max events %d, buffer %d: want at least 16, 1, 1", ErrInvalidConfig, c.Retain, c.MaxEvents, c.Buffer)
	}
	return nil
}
