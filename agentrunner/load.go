package agentrunner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner/loadgen"
	"github.com/agentwatt/agentwatt/agentrunner/replay"
)

// loadRun is what preparing the load produced: the replay runner that asks
// the accuracy questions' model and runs the search, and the file its
// request records go to.
type loadRun struct {
	out *replay.Output
	rep *replay.Runner // nil when it could not be prepared
	// scrapes records the engine's /metrics at each window mark; nil when
	// its framework has no known metric names.
	scrapes *engineScrapes
}

// prepareLoad creates the request-record output, checks that the engine
// holds the workload's longest context and prepares the replay (which asks
// the engine for its model and sequence limit) on the power sampler's
// clock. The output is returned with a failure: its records, none yet, go
// into the bundle.
func (jr *jobRun) prepareLoad(ctx context.Context, js *jobSpec, w *jobWorkload, eng *jobEngine, p *powerRun) (*loadRun, error) {
	out, err := replay.CreateOutput(filepath.Join(jr.work, "replay"))
	if err != nil {
		return nil, err
	}
	l := &loadRun{out: out}
	// A workload the engine cannot hold would turn every long request into
	// an error: say so once, before any load.
	if c, err := replay.CheckContext(ctx, eng.url(), "", "", w.wl, js.chatTemplate()); err != nil {
		if errors.Is(err, replay.ErrContextTooSmall) {
			return l, fmt.Errorf("%w: %w", ErrPreflight, err)
		}
		jr.log.Warn().Err(err).Msg("context length not checked")
	} else if c.Limit == 0 {
		jr.log.Info().Msg("the engine reports no context length; not checked")
	}
	live := &liveProgress{m: jr.r.metrics, ev: jr.ev, power: p}
	events := live.onReplayEvent
	l.scrapes, err = newEngineScrapes(filepath.Join(jr.work, "engine-metrics.jsonl"), eng.url(), js.sub.Framework.Name, jr.log)
	if err != nil {
		return l, fmt.Errorf("engine metrics: %w", err)
	}
	if sc := l.scrapes; sc != nil {
		events = func(e replay.Event) { sc.onEvent(e); live.onReplayEvent(e) }
	}
	if gl := jr.grp; gl != nil {
		inner := events
		events = func(e replay.Event) { gl.onEvent(e); inner(e) }
	}
	l.rep, err = replay.New(ctx, replay.Config{
		Endpoint: eng.url(), Workload: w.wl, Rules: js.rules, Profile: js.profile,
		Tiers: js.sub.Benchmark.Tiers, Seed: jr.r.cfg.Seed, Template: js.chatTemplate(),
		Repeats:   js.sub.Benchmark.RepeatCount(),
		MaxAgents: jr.r.cfg.MaxAgents, MemoryBudget: jr.r.cfg.MemoryBudget,
		Clock: loadgen.NewClock(p.started), Recorder: out, Log: jr.log,
		Progress: live.onProgress, Events: events,
	})
	return l, err
}

// finishScrapes waits for the engine-metrics scrapes still queued, so that
// the last window's is taken before the engine stops; seal adds the file.
// Safe on a nil loadRun and more than once.
func (l *loadRun) finishScrapes(log zerolog.Logger) {
	if l == nil || l.scrapes == nil {
		return
	}
	if err := l.scrapes.close(); err != nil {
		log.Warn().Err(err).Msg("engine metrics")
	}
}
