package agentrunner

import (
	"fmt"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/replay"
	"github.com/agentwatt/agentwatt/queue"
)

// liveProgress turns the replay's progress and probes into the runner's
// live metrics and the job's events while the load runs.
type liveProgress struct {
	m     *runnerMetrics
	ev    *eventPublisher
	power *powerRun

	last         time.Time // the last progress event
	lastRequests int64
}

// onProgress feeds the live metrics and, at most once a second, a progress
// event.
func (lp *liveProgress) onProgress(p replay.Progress) {
	m := lp.m
	m.agents.Set(float64(p.Agents))
	m.inFlight.Set(float64(p.InFlight))
	for _, s := range lp.power.latest() {
		m.setPower(s.GPU, s.PowerW, s.EnergyMJ/1000)
	}
	if time.Since(lp.last) < time.Second {
		return
	}
	lp.last = time.Now()
	if d := p.Requests - lp.lastRequests; d > 0 {
		m.requests.Add(float64(d))
		lp.lastRequests = p.Requests
	}
	lp.ev.publish(queue.EventProgress, p.String(), newProgressData(p))
}

// onReplayEvent publishes each evaluated probe.
func (lp *liveProgress) onReplayEvent(e replay.Event) {
	if e.Kind != replay.EventProbe || e.Record == nil {
		return
	}
	rec := e.Record
	d := probeData{Probe: rec.Probe, Agents: rec.Agents, Purpose: rec.Purpose, Requests: rec.Result.Requests,
		Errors: rec.Result.Errors, Valid: rec.Result.Valid, Passed: map[string]bool{}}
	for _, t := range rec.Result.Tiers {
		d.Passed[t.Tier] = t.Passed
	}
	lp.m.requestErrors.Add(float64(rec.Result.Errors))
	lp.ev.publish(queue.EventProbe, fmt.Sprintf("probe %d: N=%d %s", rec.Probe, rec.Agents, rec.Purpose), d)
}
