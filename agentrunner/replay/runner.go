package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// Runner replays a workload with N closed-loop agents against one server
// and measures probes: Search finds the most agents each tier allows,
// Fixed judges one N. A Runner runs once.
type Runner struct {
	cfg        Config
	log        zerolog.Logger
	seed       uint64
	tiers      []metrics.Tier
	probeRules metrics.ProbeRules
	cache      *workload.CacheTable // theoretical prefix-cache hits per turn

	client *loadgen.Client
	health *loadgen.HealthMonitor
	clock  loadgen.Clock
	anchor bundle.ClockAnchor

	render *renderer
	order  []int // the seeded order in which agents take trajectories

	tl      *timeline
	pool    pool
	flights flights
	buf     recordBuffer
	live    liveCounts

	// probeFn and calibrateFn are r.probe and r.calibrate; tests of the
	// search logic replace them with a model of a server.
	probeFn     func(ctx context.Context, n int, purpose, tier string) (*bundle.ProbeRecord, error)
	calibrateFn func(ctx context.Context) (map[string]int, error)

	recErrOnce sync.Once
	recErr     atomic.Pointer[error]

	// lim is the most agents the run may start (limits.go).
	lim agentLimit
	// agentCtx is what agents run on: the run's context, ended by finish so
	// that no request outlives the run (stopAgents).
	agentCtx   context.Context
	stopAgents context.CancelFunc

	// minConclusive is the least N whose window can hold the profile's
	// request count, from calibration (0: unknown).
	minConclusive int

	mu          sync.Mutex
	probes      []bundle.ProbeRecord
	searchState string         // for progress
	tierStates  []tierState    // per searched tier, for progress
	n0          map[string]int // the calibrated starts
	eta         *etaEstimator
	searching   bool         // a search (not a fixed run) is under way
	nowFn       func() int64 // the run clock for progress; tests set a fake
	used        atomic.Bool
}

// liveCounts follow the open window as requests complete, for progress and
// for deciding when the window holds enough requests.
type liveCounts struct {
	done atomic.Int64
	met  []atomic.Int64 // per searched tier
}

func (l *liveCounts) reset() {
	l.done.Store(0)
	for i := range l.met {
		l.met[i].Store(0)
	}
}

// New validates cfg, connects to the server (asking /v1/models when no
// model is given) and prepares the replay. Nothing is sent until Search or
// Fixed.
func New(ctx context.Context, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &Runner{
		cfg:        cfg,
		log:        cfg.Log.With().Str("component", "replay").Logger(),
		seed:       cfg.Seed,
		tiers:      cfg.tiers(),
		probeRules: metrics.ProbeRulesOf(cfg.Rules, cfg.Profile),
		cache:      workload.NewCacheTable(cfg.Workload, cfg.Template),
		clock:      cfg.Clock,
		render:     newRenderer(cfg.Workload),
		order:      permutation(len(cfg.Workload.Trajectories), cfg.Seed),
		tl:         newTimeline(),
	}
	if r.clock == (loadgen.Clock{}) {
		r.clock = loadgen.NewClock(time.Now())
	}
	r.anchor = anchorOf(r.clock)
	r.probeFn, r.calibrateFn = r.probe, r.calibrate
	r.live.met = make([]atomic.Int64, len(r.tiers))
	r.health = loadgen.NewHealthMonitor(0)
	c, err := loadgen.NewClient(ctx, loadgen.ClientConfig{
		Endpoint:       cfg.Endpoint,
		Model:          cfg.Model,
		APIKey:         cfg.APIKey,
		AffinityHeader: cfg.AffinityHeader,
		Temperature:    cfg.Rules.Sampling.Temperature,
		TopP:           cfg.Rules.Sampling.TopP,
		Clock:          r.clock,
		StallTimeout:   cfg.stallTimeout(),
		MaxRequestTime: cfg.maxRequestTime(),
		// Connections outlive the longest think, so that no agent dials
		// inside its next request's TTFT (loadgen.IdleMargin on top).
		MaxThinkTime: cfg.Profile.ThinkTimeCap.Duration,
		Observer:     r.health,
	})
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	r.client = c
	seqs, field := r.engineSequences(ctx)
	r.lim = r.limit(seqs, field)
	if r.lim.n < 1 {
		c.CloseIdleConnections()
		return nil, fmt.Errorf("replay: %w: %s", ErrAgentLimit, r.lim.over(1))
	}
	r.log.Info().Int("max_agents", r.lim.n).Str("limited_by", r.lim.why).Msg("agent limit")
	return r, nil
}

// MaxAgents is the most agents the run may start, and what sets it: the
// profile's max_agents, the engine's reported sequence limit,
// Config.MaxAgents or the memory budget, whichever is least.
func (r *Runner) MaxAgents() (int, string) { return r.lim.n, r.lim.why }

// Model is the model name sent on every request.
func (r *Runner) Model() string {
	if r.client == nil {
		return r.cfg.Model
	}
	return r.client.Model()
}

// Clock is the run clock every record and probe mark is timed with.
func (r *Runner) Clock() loadgen.Clock { return r.clock }

// Anchor ties the run clock to wall-clock and CLOCK_MONOTONIC time.
func (r *Runner) Anchor() bundle.ClockAnchor { return r.anchor }

// Probes returns the probes measured so far.
func (r *Runner) Probes() []bundle.ProbeRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bundle.ProbeRecord(nil), r.probes...)
}

// ProbesFile is probes.json for the probes measured so far.
func (r *Runner) ProbesFile() *bundle.Probes {
	return &bundle.Probes{Format: bundle.ProbesFormat, Version: bundle.ProbesVersion, Clock: r.anchor, History: r.cfg.History, Probes: r.Probes()}
}

// RecordError is the first error the Recorder returned, if any; records
// after it were still evaluated but not all written.
func (r *Runner) RecordError() error {
	if p := r.recErr.Load(); p != nil {
		return *p
	}
	return nil
}

// complete labels a finished request with its probe and phase, keeps it for
// evaluation, hands it to the recorder and updates the live counts.
func (r *Runner) complete(rec *metrics.Request) {
	rec.Probe, rec.Phase = r.tl.label(rec.TSendNs)
	r.buf.add(rec)
	if r.cfg.Recorder != nil {
		if err := r.cfg.Recorder.Record(rec); err != nil {
			r.recErrOnce.Do(func() {
				r.recErr.Store(&err)
				r.log.Error().Err(err).Msg("writing request records failed; measuring on")
			})
		}
	}
	if r.tl.inWindow(rec.TSendNs) {
		r.live.done.Add(1)
		t := rec.Timing()
		for i, tier := range r.tiers {
			if metrics.MeetsTier(t, tier) {
				r.live.met[i].Add(1)
			}
		}
	}
}

// start begins a run: it may be called once.
func (r *Runner) start(ctx context.Context) error {
	if r.used.Swap(true) {
		return ErrUsed
	}
	if r.health != nil {
		r.health.Start(ctx)
	}
	r.agentCtx, r.stopAgents = context.WithCancel(ctx)
	return nil
}

// finishGrace is how long finish lets the requests still in flight end
// normally; stopLimit how long it then waits for agents whose requests it
// cut, leaving (and logging) any that have not exited.
const (
	finishGrace = 5 * time.Second
	stopLimit   = 5 * time.Second
)

// finish stops every agent and the health monitor. Requests still in flight
// belong to no window (a probe waits for its window's requests): they may
// end normally for finishGrace, then are cut, so that a stalled engine
// cannot hold the run open until the client's stall timeout. A cancel cuts
// them at once (the agents' context ends with the run's).
func (r *Runner) finish() {
	if !r.stopAll(finishGrace) {
		if r.stopAgents != nil {
			r.stopAgents()
		}
		if !r.stopAll(stopLimit) {
			r.log.Warn().Dur("waited", finishGrace+stopLimit).Msg("agents still running after the run ended; leaving them")
		}
	}
	if r.stopAgents != nil {
		r.stopAgents()
	}
	if r.health != nil {
		r.health.Stop()
	}
	if r.client != nil {
		r.client.CloseIdleConnections()
	}
}

// tierRules returns the rules' definition of a searched tier.
func (r *Runner) tierRules(id string) spec.Tier {
	t, _ := r.cfg.Rules.Tier(id)
	return t
}
