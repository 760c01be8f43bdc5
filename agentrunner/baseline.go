package agentrunner

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/power"
)

// powerRun is what the baseline phase produced: the power sampler, which
// runs from here to the engine's stop, the file its samples go to, and
// the idle baseline.
type powerRun struct {
	started time.Time // the run clock's zero
	pw      *power.Writer
	sampler *power.Sampler  // nil when it did not start
	base    *power.Baseline // nil when not measured
	stopped bool
}

// baseline starts the power sampler and measures the idle baseline: GPUs
// idle before the engine starts, or, for the sim, whose power exists only
// while it runs, the loaded engine with no requests (jobPlan). What it
// started is returned with a failure.
func (jr *jobRun) baseline(ctx context.Context, js *jobSpec, eng *jobEngine) (*powerRun, error) {
	if jr.grp != nil {
		// The members sample; the leader marks the window on its clock and
		// measures theirs around it.
		p := &powerRun{started: jr.r.runStart()}
		return p, jr.grp.baselineWindow(ctx, jr.r.cfg.IdleBaseline)
	}
	src, err := jr.plan.source(eng)
	if err != nil {
		return nil, err
	}
	pw, err := power.CreateWriter(filepath.Join(jr.work, power.FileName))
	if err != nil {
		return nil, err
	}
	p := &powerRun{pw: pw, started: time.Now()}
	pcfg := power.ConfigFor(js.rules.Power, src.Boundary()) // a BMC or meter at its own, slower rate
	pcfg.Sink = pw
	sampler, err := power.NewSampler(src, p.started, pcfg, jr.log)
	if err != nil {
		return p, err
	}
	p.sampler = sampler
	if err := sampler.Start(context.WithoutCancel(ctx)); err != nil {
		return p, err
	}
	b, err := sampler.Baseline(ctx, jr.r.cfg.IdleBaseline)
	if err != nil {
		return p, err
	}
	p.base = &b
	jr.log.Info().Float64("idle_w", b.TotalW).Msg("idle baseline")
	// A sim runner has no GPUs of its own to check in preflight: the engine's
	// profile says how many it simulates, and agents per GPU divides by them.
	if jr.plan.simulated && len(b.PerGPUW) != js.sub.System.Accelerators {
		return p, fmt.Errorf("%w: system.accelerators %d, the sim engine's profile simulates %d GPUs",
			ErrPreflight, js.sub.System.Accelerators, len(b.PerGPUW))
	}
	return p, nil
}

// latest is the latest sample of every GPU; none before the sampler runs.
func (p *powerRun) latest() []power.Sample {
	if p == nil || p.sampler == nil {
		return nil
	}
	return p.sampler.Latest()
}

// stop stops the sampler once the last probe window has its closing
// samples; it is safe on a nil run and a second time.
func (p *powerRun) stop(log zerolog.Logger) {
	if p == nil || p.sampler == nil || p.stopped {
		return
	}
	p.stopped = true
	// The last probe window ended just before this; its energy needs a
	// sample at or after its end on every GPU, which a sampler stopped at
	// once (less than one interval later) may not have taken yet.
	// A BMC or meter sampled once a second needs longer than the GPUs.
	c := p.sampler.Config()
	p.awaitSamplesAfter(p.sampler.Clock().Now(), max(2*time.Second, 2*c.Interval+c.ReadTimeout))
	if err := p.sampler.Stop(); err != nil {
		log.Warn().Err(err).Msg("power samples")
	}
}

// awaitSamplesAfter waits, at most limit, until every GPU has a sample taken
// at or after t on the run clock.
func (p *powerRun) awaitSamplesAfter(t int64, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		latest := p.sampler.Latest()
		done := len(latest) > 0
		for _, smp := range latest {
			if smp.TMonoNs < t {
				done = false
			}
		}
		if done {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
