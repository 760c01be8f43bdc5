package power

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
	"github.com/rs/zerolog"
)

// Sampler reads a Source every Interval on its own goroutine. Nothing it
// does waits on its callers: readers of Samples, Window or Stats take a
// short lock, and samples reach the Sink through a bounded queue that drops
// (and records it) rather than block.
type Sampler struct {
	src Source
	clk Clock
	cfg Config
	log zerolog.Logger

	mu        sync.Mutex
	samples   []Sample       // retained, in time order
	events    []Event        // at most cfg.MaxEvents
	last      map[int]Sample // last valid sample per GPU
	failing   map[int]string // GPUs in an error streak, with the error
	seen      map[int]bool   // every GPU ever reported
	logged    map[string]int // events logged per kind, to rate-limit logs
	stats     Stats
	sinkErr   error
	queue     chan Sample
	started   bool
	cancel    context.CancelFunc
	loopDone  chan struct{}
	writeDone chan struct{}
	stopOnce  sync.Once
}

// Stats counts what a sampler saw.
type Stats struct {
	Reads         int `json:"reads"`          // Source.Read calls
	Samples       int `json:"samples"`        // valid samples
	Errors        int `json:"errors"`         // failed samples and failed reads
	Resets        int `json:"resets"`         // energy-counter decreases
	Gaps          int `json:"gaps"`           // gaps above MaxGap
	Dropped       int `json:"dropped"`        // samples the sink did not get
	EventsDropped int `json:"events_dropped"` // events beyond MaxEvents
	// PowerSources and EnergySources are the sources now used per GPU.
	PowerSources  map[int]string `json:"power_sources"`
	EnergySources map[int]string `json:"energy_sources,omitempty"`
}

// NewSampler samples src on the clock of a run that started at runStart
// (a time.Now() value: the load generator stamps its records with
// time.Since(runStart) too). Zero Config fields take the defaults.
func NewSampler(src Source, runStart time.Time, cfg Config, log zerolog.Logger) (*Sampler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sampler{
		src: src, clk: NewClock(runStart), cfg: cfg,
		log:     log.With().Str("component", "power").Str("source", src.Name()).Logger(),
		last:    map[int]Sample{},
		failing: map[int]string{},
		seen:    map[int]bool{},
		logged:  map[string]int{},
		stats:   Stats{PowerSources: map[int]string{}, EnergySources: map[int]string{}},
	}, nil
}

// Clock is the run clock the samples are stamped on.
func (s *Sampler) Clock() Clock { return s.clk }

// Config is the configuration in use, defaults filled in.
func (s *Sampler) Config() Config { return s.cfg }

// Source is the sampled source.
func (s *Sampler) Source() Source { return s.src }

// Start begins sampling: one read now, then one every Interval, until ctx
// ends or Stop. Call Stop in any case to flush the sink.
func (s *Sampler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	s.loopDone = make(chan struct{})
	if s.cfg.Sink != nil {
		s.queue = make(chan Sample, s.cfg.Buffer)
		s.writeDone = make(chan struct{})
		go s.write()
	}
	go s.loop(ctx)
	s.log.Debug().Dur("interval", s.cfg.Interval).Dur("max_gap", s.cfg.MaxGap).Msg("power sampler started")
	return nil
}

// Stop ends sampling, records a trailing gap of any GPU whose last valid
// sample is older than MaxGap, and waits until the sink has every queued
// sample. It returns the sink's first error. It does not close the sink.
func (s *Sampler) Stop() error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		started := s.started
		s.mu.Unlock()
		if !started {
			return
		}
		s.cancel()
		<-s.loopDone
		s.trailingGaps()
		if s.queue != nil {
			close(s.queue)
			<-s.writeDone
		}
		s.log.Debug().Interface("stats", s.Stats()).Msg("power sampler stopped")
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sinkErr
}

func (s *Sampler) loop(ctx context.Context) {
	defer close(s.loopDone)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Sampler) tick(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	got, err := s.src.Read(rctx, s.clk)
	cancel()
	if ctx.Err() != nil {
		return // stopping: an interrupted read is not an error
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Reads++
	for i := range got {
		s.add(got[i])
	}
	if err != nil {
		now := s.clk.Now()
		s.stats.Errors++
		if len(s.seen) == 0 || len(got) == 0 {
			s.event(Event{Kind: EventError, GPU: -1, TMonoNs: now, Detail: err.Error()})
		}
		// Each GPU the read missed gets a failed sample, so the file shows
		// the failure where it happened.
		for _, g := range slices.Sorted(maps.Keys(s.seen)) {
			if !slices.ContainsFunc(got, func(x Sample) bool { return x.GPU == g }) {
				x := Sample{Err: err.Error()}
				x.GPU, x.TMonoNs, x.TUnixNs = g, now, s.clk.UnixNano(now)
				s.add(x)
			}
		}
	}
}

// add records one sample; s.mu is held.
func (s *Sampler) add(x Sample) {
	s.seen[x.GPU] = true
	if x.Note != "" {
		s.event(Event{Kind: EventNote, GPU: x.GPU, TMonoNs: x.TMonoNs, Detail: x.Note})
	}
	if !x.Valid() {
		s.stats.Errors++
		if prev, ok := s.failing[x.GPU]; !ok || prev != x.Err {
			s.event(Event{Kind: EventError, GPU: x.GPU, TMonoNs: x.TMonoNs, Detail: x.Err})
		}
		s.failing[x.GPU] = x.Err
	} else {
		delete(s.failing, x.GPU)
		s.stats.Samples++
		s.stats.PowerSources[x.GPU] = x.PowerSource
		if x.EnergySource != "" {
			s.stats.EnergySources[x.GPU] = x.EnergySource
		}
		if prev, ok := s.last[x.GPU]; ok {
			if x.EnergyMJ < prev.EnergyMJ {
				s.stats.Resets++
				s.event(Event{Kind: EventReset, GPU: x.GPU, TMonoNs: x.TMonoNs,
					Detail: fmt.Sprintf("energy counter fell from %.0f mJ to %.0f mJ", prev.EnergyMJ, x.EnergyMJ)})
			}
			if gap := x.TMonoNs - prev.TMonoNs; gap > s.cfg.MaxGap.Nanoseconds() {
				s.stats.Gaps++
				s.event(Event{Kind: EventGap, GPU: x.GPU, TMonoNs: prev.TMonoNs, DurNs: gap,
					Detail: fmt.Sprintf("%v between valid samples (limit %v)", time.Duration(gap), s.cfg.MaxGap)})
			}
		}
		s.last[x.GPU] = x
	}
	if len(s.samples) >= s.cfg.Retain {
		drop := s.cfg.Retain / 4
		s.samples = append(s.samples[:0], s.samples[drop:]...)
	}
	s.samples = append(s.samples, x)
	if s.queue != nil {
		select {
		case s.queue <- x:
		default:
			s.stats.Dropped++
			if s.stats.Dropped == 1 {
				s.event(Event{Kind: EventDropped, GPU: x.GPU, TMonoNs: x.TMonoNs, Detail: "the power writer fell behind; samples are missing from the file"})
			}
		}
	}
}

// event records e; s.mu is held.
func (s *Sampler) event(e Event) {
	if len(s.events) >= s.cfg.MaxEvents {
		s.stats.EventsDropped++
	} else {
		s.events = append(s.events, e)
	}
	n := s.logged[e.Kind] + 1
	s.logged[e.Kind] = n
	if n <= 3 || n%100 == 0 {
		s.log.Warn().Str("kind", e.Kind).Int("gpu", e.GPU).Int64("t_mono_ns", e.TMonoNs).Int("count", n).
			Msg("power: " + e.Detail)
	}
}

func (s *Sampler) trailingGaps() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	for _, g := range slices.Sorted(maps.Keys(s.seen)) {
		last, ok := s.last[g]
		if !ok {
			s.event(Event{Kind: EventError, GPU: g, TMonoNs: now, Detail: "no valid sample"})
			continue
		}
		if gap := now - last.TMonoNs; gap > s.cfg.MaxGap.Nanoseconds() {
			s.stats.Gaps++
			s.event(Event{Kind: EventGap, GPU: g, TMonoNs: last.TMonoNs, DurNs: gap,
				Detail: fmt.Sprintf("no valid sample in the last %v before stop (limit %v)", time.Duration(gap), s.cfg.MaxGap)})
		}
	}
}

func (s *Sampler) write() {
	defer close(s.writeDone)
	failed := false
	for x := range s.queue {
		if failed {
			continue
		}
		if err := s.cfg.Sink.Write(x); err != nil {
			failed = true
			s.mu.Lock()
			s.sinkErr = err
			s.event(Event{Kind: EventWriteError, GPU: -1, TMonoNs: x.TMonoNs, Detail: err.Error()})
			s.mu.Unlock()
		}
	}
}

// Samples is a copy of the retained samples, in time order.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples)
}

// Events is a copy of the recorded events.
func (s *Sampler) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event{}, s.events...)
}

// Stats is a copy of the counters.
func (s *Sampler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PowerSources = maps.Clone(s.stats.PowerSources)
	st.EnergySources = maps.Clone(s.stats.EnergySources)
	return st
}

// Latest is the last valid sample of each GPU, by GPU index (for live
// metrics).
func (s *Sampler) Latest() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Sample, 0, len(s.last))
	for _, g := range slices.Sorted(maps.Keys(s.last)) {
		out = append(out, s.last[g])
	}
	return out
}

// Window is WindowEnergy over [start, end) of the run clock, from the
// retained samples.
func (s *Sampler) Window(start, end int64) (WindowReport, error) {
	return WindowEnergy(s.windowSamples(start, end), start, end)
}

// windowSamples copies the samples of [start, end] plus, per GPU, the
// valid samples that bracket it.
func (s *Sampler) windowSamples(start, end int64) []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.samples)
	lo := sort.Search(n, func(i int) bool { return s.samples[i].TMonoNs >= start })
	hi := sort.Search(n, func(i int) bool { return s.samples[i].TMonoNs > end })
	need := maps.Clone(s.seen)
	for lo > 0 && len(need) > 0 {
		lo--
		if x := &s.samples[lo]; x.Valid() && x.TMonoNs <= start {
			delete(need, x.GPU)
		}
	}
	need = maps.Clone(s.seen)
	for hi < n && len(need) > 0 {
		if x := &s.samples[hi]; x.Valid() && x.TMonoNs >= end {
			delete(need, x.GPU)
		}
		hi++
	}
	return slices.Clone(s.samples[lo:hi])
}

// Baseline is the average power of a quiet window (the idle baseline).
type Baseline struct {
	StartNs  int64         `json:"start_ns"`
	EndNs    int64         `json:"end_ns"`
	Duration time.Duration `json:"duration_ns"`
	// PerGPUW is each GPU's average power, from its energy counter.
	PerGPUW map[int]float64 `json:"per_gpu_w"`
	// TotalW is their sum.
	TotalW float64      `json:"total_w"`
	Window WindowReport `json:"window"`
}

// Baseline measures d of the running sampler from now: it waits until every
// GPU has a valid sample, starts the window [start, start+d) at the latest
// of those (so that every GPU has a sample at or before it), and waits until
// every GPU has a valid sample at or after its end.
func (s *Sampler) Baseline(ctx context.Context, d time.Duration) (Baseline, error) {
	if d <= 0 {
		return Baseline{}, fmt.Errorf("baseline of %v: %w", d, metrics.ErrEmptyWindow)
	}
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return Baseline{}, ErrNotStarted
	}
	limit := s.cfg.MaxGap + s.cfg.ReadTimeout + 2*s.cfg.Interval
	start, err := s.waitAll(ctx, limit, func(int64) bool { return true })
	if err != nil {
		return Baseline{}, fmt.Errorf("baseline start: %w", err)
	}
	end := start + d.Nanoseconds()
	if wait := time.Duration(end - s.clk.Now()); wait > 0 {
		select {
		case <-ctx.Done():
			return Baseline{}, ctx.Err()
		case <-time.After(wait):
		}
	}
	if _, err := s.waitAll(ctx, limit, func(t int64) bool { return t >= end }); err != nil {
		return Baseline{}, fmt.Errorf("baseline end: %w", err)
	}
	w, err := s.Window(start, end)
	if err != nil {
		return Baseline{}, fmt.Errorf("baseline: %w", err)
	}
	b := Baseline{StartNs: start, EndNs: end, Duration: d, PerGPUW: map[int]float64{}, Window: w}
	for _, g := range w.PerGPU {
		b.PerGPUW[g.GPU] = g.AvgW
		b.TotalW += g.AvgW
	}
	return b, nil
}

// errNoSample: a GPU had no valid sample within the wait's limit.
var errNoSample = errors.New("no valid power sample")

// waitAll polls until every GPU seen has a last valid sample whose time
// satisfies ok, and returns the latest of those times.
func (s *Sampler) waitAll(ctx context.Context, limit time.Duration, ok func(t int64) bool) (int64, error) {
	deadline := time.Now().Add(limit)
	poll := time.NewTicker(max(s.cfg.Interval/4, time.Millisecond))
	defer poll.Stop()
	for {
		s.mu.Lock()
		latest, all := int64(math.MinInt64), len(s.seen) > 0
		for g := range s.seen {
			x, have := s.last[g]
			if !have || !ok(x.TMonoNs) {
				all = false
				break
			}
			latest = max(latest, x.TMonoNs)
		}
		s.mu.Unlock()
		if all {
			return latest, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%w for %v", errNoSample, limit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-poll.C:
		}
	}
}
