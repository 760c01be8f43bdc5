package replay

import (
	"context"
	"fmt"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
)

// verdict is what a probe says about one tier.
type verdict int

const (
	verdictPass verdict = iota
	verdictFail
	verdictInconclusive
	verdictInvalid
)

func verdictOf(p *bundle.ProbeRecord, tier int) verdict {
	switch {
	case p.Unserved():
		return verdictFail
	case !p.Result.Valid:
		return verdictInvalid
	case !p.Result.Conclusive:
		return verdictInconclusive
	case p.Result.Tiers[tier].Passed:
		return verdictPass
	default:
		return verdictFail
	}
}

// EventKind says what an Event marks.
type EventKind string

// Events, in the order they happen within a probe.
const (
	EventWindowStart EventKind = "window_start"
	EventWindowEnd   EventKind = "window_end"
	EventProbe       EventKind = "probe" // the probe has been evaluated; Record is set
)

// Event marks a point of a probe for Config.Events.
type Event struct {
	Kind        EventKind
	Probe       int
	Agents      int
	AtNs        int64 // run clock
	Wall        time.Time
	MonotonicNs int64 // CLOCK_MONOTONIC
	Record      *bundle.ProbeRecord
}

const pollInterval = 20 * time.Millisecond

// probe measures one probe at n agents: N changes live (new agents ramped
// in over the settle period, surplus agents retired), then settle and the
// retired agents' exit (at most the warm-up limit), then warm-up until
// every agent has completed a request sent after that,
// then the measurement window — at least the profile's duration and minimum
// request count, extended until both hold, up to the profile's longest
// window — then a wait for the requests sent inside the window, then
// evaluation of every tier.
func (r *Runner) probe(ctx context.Context, n int, purpose, tier string) (*bundle.ProbeRecord, error) {
	prof := r.cfg.Profile
	p := r.tl.current()
	rec := &bundle.ProbeRecord{Probe: p, Agents: n, Purpose: purpose, Tier: tier, StartNs: r.tl.start(p), WindowStartNs: -1, WindowEndNs: -1}
	r.log.Info().Int("probe", p).Int("agents", n).Str("purpose", purpose).Str("tier", tier).Msg("probe")
	settle := prof.Settle.Duration
	wait := settle
	if r.setAgents(ctx, n, settle) > 0 {
		wait += settle
	}
	until := time.Now().Add(wait)
	if _, err := r.waitFor(ctx, p, "settle", func() bool { return !time.Now().Before(until) }, 0); err != nil {
		return nil, err
	}

	// Agents retired from a larger N finish their requests first, for at
	// most the warm-up limit: the backlog a larger N left behind is not
	// this N's warm-up, which fails N when it cannot complete.
	if _, err := r.waitFor(ctx, p, "settle", r.retiredExited, prof.MaxWarmup.Duration); err != nil {
		return nil, err
	}
	rec.WarmupStartNs = r.clock.Now()
	r.tl.setWarmup(rec.WarmupStartNs)
	warm, err := r.waitFor(ctx, p, "warmup", func() bool { return r.warmedUp(rec.WarmupStartNs) }, prof.MaxWarmup.Duration)
	if err != nil {
		return nil, err
	}
	if !warm {
		now := r.clock.Now()
		r.tl.skip(now)
		rec.DoneNs = now
		rec.Result = inconclusive(n, r.tiers, fmt.Sprintf("warm-up: not every agent completed a request within %v", prof.MaxWarmup.Duration))
		return r.keep(rec), nil
	}

	ws := r.clock.Now()
	r.live.reset()
	r.tl.setWindow(ws)
	r.health.Begin()
	r.event(Event{Kind: EventWindowStart, Probe: p, Agents: n, AtNs: ws})
	minReq := int64(prof.MinRequests)
	if _, err := r.waitFor(ctx, p, "window", func() bool {
		el := time.Duration(r.clock.Now() - ws)
		return el >= prof.Window.Duration && r.live.done.Load() >= minReq || el >= prof.MaxWindow.Duration
	}, 0); err != nil {
		return nil, err
	}
	we := r.clock.Now()
	r.tl.endWindow(we)
	rec.Client = r.health.End()
	r.event(Event{Kind: EventWindowEnd, Probe: p, Agents: n, AtNs: we})

	// The requests sent inside the window finish (a stalled one is cut by
	// the client's stall timeout, an endless one at its longest request
	// time, both recorded as errors).
	if _, err := r.waitFor(ctx, p, "drain", func() bool { return r.flights.oldest() >= we }, 0); err != nil {
		return nil, err
	}
	rec.DoneNs = r.clock.Now()
	rec.WindowStartNs, rec.WindowEndNs = ws, we
	rec.WindowStart, rec.WindowEnd = r.anchor.Wall.Add(time.Duration(ws)), r.anchor.Wall.Add(time.Duration(we))
	if r.anchor.MonotonicNs > 0 {
		rec.WindowStartMonotonicNs, rec.WindowEndMonotonicNs = r.anchor.MonotonicNs+ws, r.anchor.MonotonicNs+we
	}
	rec.Result = metrics.EvaluateProbe(metrics.ProbeInput{
		Agents: n, WindowStartNs: ws, WindowEndNs: we, Records: r.buf.since(rec.StartNs), Client: rec.Client,
		TheoreticalCache: r.theoreticalCache,
	}, r.probeRules, r.tiers)
	r.buf.dropBefore(we)
	return r.keep(rec), nil
}

// theoreticalCache is metrics.ProbeInput.TheoreticalCache from the
// workload; the verifier computes it with the same table.
func (r *Runner) theoreticalCache(q *metrics.Request) (hit, prompt int64, ok bool) {
	return r.cache.Turn(q.Trajectory, q.Subagent, q.Turn)
}

// keep stores an evaluated probe and reports it.
func (r *Runner) keep(rec *bundle.ProbeRecord) *bundle.ProbeRecord {
	r.mu.Lock()
	r.probes = append(r.probes, *rec)
	r.mu.Unlock()
	r.probeDone(rec)
	res := &rec.Result
	ev := r.log.Info().Int("probe", rec.Probe).Int("agents", rec.Agents).Int("requests", res.Requests).
		Bool("valid", res.Valid).Bool("conclusive", res.Conclusive)
	for _, t := range res.Tiers {
		ev = ev.Bool(t.Tier, t.Passed)
	}
	ev.Msg("probe evaluated")
	r.event(Event{Kind: EventProbe, Probe: rec.Probe, Agents: rec.Agents, AtNs: rec.DoneNs, Record: rec})
	return rec
}

// inconclusive is the result of a probe without a window.
func inconclusive(n int, tiers []metrics.Tier, reason string) metrics.ProbeResult {
	res := metrics.ProbeResult{
		Agents: n, Valid: true, InvalidReasons: []string{}, Conclusive: false,
		InconclusiveReasons: []string{reason}, FailReasons: []string{},
	}
	for _, t := range tiers {
		res.Tiers = append(res.Tiers, metrics.TierResult{Tier: t.Name, Reasons: []string{reason}})
	}
	return res
}

func (r *Runner) event(e Event) {
	if r.cfg.Events == nil {
		return
	}
	if e.Wall.IsZero() {
		e.Wall = r.anchor.Wall.Add(time.Duration(e.AtNs))
	}
	if r.anchor.MonotonicNs > 0 {
		e.MonotonicNs = r.anchor.MonotonicNs + e.AtNs
	}
	r.cfg.Events(e)
}

// waitFor polls cond until it holds (true), limit passes (false; 0 means no
// limit) or ctx ends, reporting progress meanwhile.
func (r *Runner) waitFor(ctx context.Context, probe int, phase string, cond func() bool, limit time.Duration) (bool, error) {
	start := time.Now()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var lastReport time.Time
	for {
		if cond() {
			return true, nil
		}
		if limit > 0 && time.Since(start) >= limit {
			return false, nil
		}
		if time.Since(lastReport) >= progressInterval {
			lastReport = time.Now()
			r.report(probe, phase)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
	}
}
