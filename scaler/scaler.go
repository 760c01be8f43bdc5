package scaler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/queue"
)

// DepthSource reads a pool's queue (a *queue.Queue).
type DepthSource interface {
	PoolDepth(ctx context.Context, pool string) (queue.PoolDepth, error)
}

// RunnerSource lists the live runners (a *fleet.Fleet).
type RunnerSource interface {
	Runners(ctx context.Context) ([]fleet.Runner, error)
}

// Pool is one pool the scaler watches.
type Pool struct {
	Name     string
	Min, Max int // Max 0: no bound
	// Backend holds the pool's capacity; nil: the pool is only observed
	// (metrics and logs), no group is configured for it.
	Backend Backend
}

// Config configures a Scaler.
type Config struct {
	Queue   DepthSource
	Runners RunnerSource
	Pools   []Pool
	// Interval is how often every pool is looked at (default 15s).
	Interval time.Duration
	// Cooldown is how long demand must stay below capacity before a
	// scale-in (default 10m).
	Cooldown time.Duration
	Metrics  prometheus.Registerer // default: a private registry
	Log      zerolog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Validate checks c as the caller set it; it changes nothing.
func (c *Config) Validate() error {
	var errs []error
	if c.Queue == nil || c.Runners == nil {
		errs = append(errs, errors.New("scaler config: Queue and Runners are required"))
	}
	if c.Interval < 0 || c.Cooldown < 0 {
		errs = append(errs, errors.New("scaler config: Interval and Cooldown must not be negative"))
	}
	seen := map[string]bool{}
	for _, p := range c.Pools {
		switch {
		case !queue.ValidPool(p.Name):
			errs = append(errs, fmt.Errorf("pool %q is not a valid pool", p.Name))
		case seen[p.Name]:
			errs = append(errs, fmt.Errorf("pool %s is listed twice", p.Name))
		case p.Min < 0 || p.Max < 0 || (p.Max > 0 && p.Min > p.Max):
			errs = append(errs, fmt.Errorf("pool %s: min %d, max %d: want 0 <= min <= max", p.Name, p.Min, p.Max))
		}
		seen[p.Name] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// ErrInvalidConfig is the error of a Config or config file that is not valid.
var ErrInvalidConfig = errors.New("invalid scaler config")

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = 15 * time.Second
	}
	if c.Cooldown == 0 {
		c.Cooldown = 10 * time.Minute
	}
	if c.Metrics == nil {
		c.Metrics = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Scaler keeps each pool's capacity at its demand. Run it once.
type Scaler struct {
	cfg     Config
	log     zerolog.Logger
	metrics *scalerMetrics

	mu         sync.Mutex
	belowSince map[string]time.Time // pool → when demand fell below capacity
}

// New checks cfg and builds a scaler.
func New(cfg Config) (*Scaler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newScalerMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Scaler{cfg: cfg, metrics: m, belowSince: map[string]time.Time{},
		log: cfg.Log.With().Str("component", "scaler").Logger()}, nil
}

// Run looks at every pool each Interval until ctx ends.
func (s *Scaler) Run(ctx context.Context) error {
	s.log.Info().Int("pools", len(s.cfg.Pools)).Dur("interval", s.cfg.Interval).Dur("cooldown", s.cfg.Cooldown).Msg("scaler started")
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		// A back-end that hangs must not stop the loop: each tick is
		// bounded, and the next one reads everything afresh.
		tctx, cancel := context.WithTimeout(ctx, max(s.cfg.Interval, 30*time.Second))
		s.Tick(tctx)
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick looks at every pool once and returns each pool's decision (a pool
// whose inputs could not be read is left out; the error is logged and
// counted).
func (s *Scaler) Tick(ctx context.Context) map[string]Decision {
	runners, err := s.cfg.Runners.Runners(ctx)
	if err != nil {
		if !stopping(ctx) {
			s.log.Warn().Err(err).Msg("read runner liveness")
			for _, p := range s.cfg.Pools {
				s.metrics.errors.WithLabelValues(p.Name).Inc()
			}
		}
		return nil
	}
	out := map[string]Decision{}
	for _, p := range s.cfg.Pools {
		d, err := s.tickPool(ctx, p, runners)
		if err != nil {
			if !stopping(ctx) {
				s.log.Warn().Err(err).Str("pool", p.Name).Msg("scale pool")
				s.metrics.errors.WithLabelValues(p.Name).Inc()
			}
			continue
		}
		out[p.Name] = d
	}
	return out
}

// stopping: ctx was canceled (the scaler is stopping), which is no error
// to log; a tick's deadline is.
func stopping(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// tickPool reads one pool, decides, protects its busy instances and sets
// its capacity.
func (s *Scaler) tickPool(ctx context.Context, p Pool, runners []fleet.Runner) (Decision, error) {
	depth, err := s.cfg.Queue.PoolDepth(ctx, p.Name)
	if err != nil {
		return Decision{}, err
	}
	o := Observation{Waiting: depth.Waiting, Running: depth.Running}
	busyInstances := map[string]bool{}
	for _, r := range runners {
		if r.Pool != p.Name {
			continue
		}
		if r.Job != "" {
			o.Busy++
			if r.Instance != "" {
				busyInstances[r.Instance] = true
			}
		} else {
			o.Idle++
		}
	}
	var g Group
	if p.Backend != nil {
		if g, err = p.Backend.Describe(ctx); err != nil {
			return Decision{}, fmt.Errorf("describe: %w", err)
		}
		o.Actual = g.Desired
	} else {
		o.Actual = o.Idle + o.Busy
	}
	lo, hi := p.Min, p.Max
	if p.Backend != nil {
		lo = max(lo, g.Min)
		if g.Max > 0 && (hi == 0 || g.Max < hi) {
			hi = g.Max
		}
	}
	now := s.cfg.Now()
	d := decide(o, lo, hi, s.below(p.Name, o, lo, hi, now), now, s.cfg.Cooldown)
	s.metrics.observe(p.Name, o, d)
	log := s.log.Info().Str("pool", p.Name).Int("waiting", o.Waiting).Int("running", o.Running).
		Int("idle_runners", o.Idle).Int("busy_runners", o.Busy).Int("actual", o.Actual).Int("min", lo).Int("max", hi).
		Int("desired", d.Desired).Int("target", d.Target).Str("action", string(d.Action)).Str("why", d.Why)
	if p.Backend == nil {
		log.Str("backend", "none").Msg("pool observed; no group configured")
		return d, nil
	}
	log.Msg("scaling decision")
	// Busy instances are protected before any scale-in, and stay so
	// while their job runs; idle ones lose their protection.
	if err := s.protect(ctx, p, g, busyInstances); err != nil {
		return d, err
	}
	if d.Target != o.Actual {
		if err := p.Backend.SetDesired(ctx, d.Target); err != nil {
			return d, fmt.Errorf("set desired %d: %w", d.Target, err)
		}
		s.metrics.decisions.WithLabelValues(p.Name, string(d.Action)).Inc()
		if d.Action == ActionScaleIn {
			s.mu.Lock()
			delete(s.belowSince, p.Name) // a new cooldown before the next scale-in
			s.mu.Unlock()
		}
	}
	return d, nil
}

// below tracks since when demand has been below capacity.
func (s *Scaler) below(pool string, o Observation, lo, hi int, now time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if clamp(o.Waiting+o.Running, lo, hi) >= o.Actual {
		delete(s.belowSince, pool)
		return time.Time{}
	}
	if _, ok := s.belowSince[pool]; !ok {
		s.belowSince[pool] = now
	}
	return s.belowSince[pool]
}

// protect makes the group's protection match the runners: an instance
// whose runner has a job is protected from scale-in, any other is not.
func (s *Scaler) protect(ctx context.Context, p Pool, g Group, busy map[string]bool) error {
	var on, off []string
	for _, in := range g.Instances {
		switch want := busy[in.ID]; {
		case want && !in.Protected:
			on = append(on, in.ID)
		case !want && in.Protected:
			off = append(off, in.ID)
		}
	}
	sort.Strings(on)
	sort.Strings(off)
	if len(on) > 0 {
		if err := p.Backend.Protect(ctx, on, true); err != nil {
			return fmt.Errorf("protect %v: %w", on, err)
		}
		s.log.Info().Str("pool", p.Name).Strs("instances", on).Msg("protected busy instances from scale-in")
	}
	if len(off) > 0 {
		if err := p.Backend.Protect(ctx, off, false); err != nil {
			return fmt.Errorf("unprotect %v: %w", off, err)
		}
		s.log.Info().Str("pool", p.Name).Strs("instances", off).Msg("lifted scale-in protection of idle instances")
	}
	return nil
}
