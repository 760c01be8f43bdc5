package replay

import (
	"context"
	"fmt"
)

// Fixed judges one N: it runs 1 + the rules' confirmations windows at n
// agents (stopping early when no tier passes) and reports, per tier,
// max_agents = n when every window passed it.
func (r *Runner) Fixed(ctx context.Context, n int) (*Summary, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: agents %d: want at least 1", ErrConfig, n)
	}
	if err := r.start(ctx); err != nil {
		return nil, err
	}
	err := r.fixed(ctx, n)
	r.finish()
	outcomes := make([]TierOutcome, len(r.tiers))
	want := 1 + r.cfg.Rules.Search.Confirmations
	probes := r.Probes()
	for i, t := range r.tiers {
		o := TierOutcome{Tier: t.Name, ConfirmationProbe: -1}
		o.PassingProbes = r.passing(i, n)
		all := len(probes) > 0
		for j := range probes {
			all = all && probes[j].verdict(i) == verdictPass
		}
		switch {
		case all:
			o.MaxAgents = n
			o.Confirmed = len(o.PassingProbes) >= want
			o.ConfirmationProbe = o.PassingProbes[len(o.PassingProbes)-1]
			if !o.Confirmed {
				o.Reason = fmt.Sprintf("%d of %d windows measured", len(o.PassingProbes), want)
			}
		case len(probes) > 0:
			o.Reason = fmt.Sprintf("N=%d did not pass every window", n)
		default:
			o.Reason = "no window measured"
		}
		outcomes[i] = o
	}
	return r.summary(ModeFixed, outcomes, err), err
}

func (r *Runner) fixed(ctx context.Context, n int) error {
	want := 1 + r.cfg.Rules.Search.Confirmations
	for w := range want {
		r.setSearchState(fmt.Sprintf("fixed N=%d: window %d of %d", n, w+1, want), want-w)
		rec, err := r.probeFn(ctx, n, PurposeFixed, "")
		if err != nil {
			return err
		}
		passed := false
		for i := range r.tiers {
			passed = passed || rec.verdict(i) == verdictPass
		}
		if !passed {
			return nil
		}
	}
	return nil
}
