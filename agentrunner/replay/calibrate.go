package replay

import (
	"context"
	"math"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// calibrate finds each tier's starting N for the search: a short ramp, not a
// measurement. It replays the workload itself with 1, 2, 4, … agents; each
// step lasts the settle period and until every agent has completed a
// request sent in the step, and its completed requests are tested against
// every tier (metrics.MeetsTier). A tier's N0 is the largest step whose
// requests met it at the rules' share with errors within the rules' limit
// (0 when even one agent did not). It stops when no tier is met any more,
// when a step cannot complete within the profile's warm-up limit, or after
// the profile's longest window, and never goes above the run's agent
// limit. Its requests belong to the first probe's settle phase.
//
// The first step also measures one agent's request rate, from which it
// derives the least N whose window can hold the profile's minimum request
// count within the profile's longest window (minConclusive): below it a
// window is inconclusive, so a search neither starts nor probes there.
func (r *Runner) calibrate(ctx context.Context) (map[string]int, error) {
	prof := r.cfg.Profile
	n0 := make(map[string]int, len(r.tiers))
	begin := time.Now()
	for n := 1; n <= r.lim.n; n *= 2 {
		added := r.setAgents(ctx, n, prof.Settle.Duration)
		if added > 0 {
			ramp := time.Now().Add(prof.Settle.Duration)
			if _, err := r.waitFor(ctx, 0, "calibrate", func() bool { return !time.Now().Before(ramp) }, 0); err != nil {
				return nil, err
			}
		}
		t := r.clock.Now()
		minEnd := time.Now().Add(prof.Settle.Duration)
		done, err := r.waitFor(ctx, 0, "calibrate", func() bool {
			return !time.Now().Before(minEnd) && r.warmedUp(t)
		}, prof.MaxWarmup.Duration)
		if err != nil {
			return nil, err
		}
		recs := r.buf.since(t)
		if n == 1 && len(recs) > 0 {
			perAgent := float64(len(recs)) / (float64(r.clock.Now()-t) / 1e9)
			need := float64(prof.MinRequests) / (perAgent * prof.MaxWindow.Duration.Seconds())
			r.minConclusive = max(1, int(math.Ceil(need)))
		}
		met := r.stepVerdicts(recs)
		anyMet := false
		for i, tier := range r.tiers {
			if done && met[i] {
				n0[tier.Name] = n
				anyMet = true
			}
		}
		r.log.Debug().Int("agents", n).Int("requests", len(recs)).Bool("completed", done).Bool("any_tier_met", anyMet).Msg("calibration step")
		if !anyMet || !done || time.Since(begin) >= prof.MaxWindow.Duration {
			return n0, nil
		}
	}
	return n0, nil
}

// stepVerdicts reports, per tier, whether a calibration step's requests met
// it: the point share meeting the tier reaches the rules' minimum and the
// error share stays within the rules' limit.
func (r *Runner) stepVerdicts(recs []metrics.Request) []bool {
	out := make([]bool, len(r.tiers))
	if len(recs) == 0 {
		return out
	}
	errs := 0
	met := make([]int, len(r.tiers))
	for i := range recs {
		if recs[i].Status == metrics.StatusError {
			errs++
		}
		t := recs[i].Timing()
		for j, tier := range r.tiers {
			if metrics.MeetsTier(t, tier) {
				met[j]++
			}
		}
	}
	n := float64(len(recs))
	for j := range r.tiers {
		out[j] = float64(errs)/n <= r.probeRules.MaxErrorShare && float64(met[j])/n >= r.probeRules.MinMetShare
	}
	return out
}
