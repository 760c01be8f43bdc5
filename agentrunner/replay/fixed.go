package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"context"
	"fmt"
	"strings"
)

// Fixed judges one N: it runs 1 + the rules' confirmations windows at n
// agents (stopping early when no tier passes) and reports, per tier,
// max_agents = n when every measured window passed it. A window that could
// not be measured — an invalid client, a window short of the profile's
// requests, a warm-up that never completed — is run again once; a second
// such window ends the run with ErrMeasurementInvalid. The probes stay in
// probes.json, and N_max rests on the windows that passed, as the
// verifier recomputes it.
func (r *Runner) Fixed(ctx context.Context, n int) (*Summary, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: agents %d: want at least 1", ErrConfig, n)
	}
	if n > r.lim.n {
		return nil, fmt.Errorf("%w: %s", ErrAgentLimit, r.lim.over(n))
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
		all := len(o.PassingProbes) > 0
		for j := range probes {
			all = all && (verdictOf(&probes[j], i) == verdictPass || !measured(&probes[j]))
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
			var why []string
			for j := range probes {
				if !measured(&probes[j]) {
					why = append(why, fmt.Sprintf("probe %d not measured: %s", probes[j].Probe, unmeasuredText(&probes[j])))
				}
			}
			if len(why) > 0 {
				o.Reason += " (" + strings.Join(why, "; ") + ")"
			}
		default:
			o.Reason = "no window measured"
		}
		outcomes[i] = o
	}
	return r.summary(ModeFixed, outcomes, err), err
}

func (r *Runner) fixed(ctx context.Context, n int) error {
	want := 1 + r.cfg.Rules.Search.Confirmations
	var unmeasured []string // why each window could not be measured
	r.judgeAll()
	for w := 0; w < want; {
		r.setSearchState(-1, "", fmt.Sprintf("fixed N=%d: window %d of %d", n, w+1, want), want-w)
		rec, err := r.probeFn(ctx, n, bundle.PurposeFixed, "")
		if err != nil {
			return err
		}
		if !measured(rec) {
			unmeasured = append(unmeasured, fmt.Sprintf("probe %d: %s", rec.Probe, unmeasuredText(rec)))
			if len(unmeasured) > 1 {
				return fmt.Errorf("%w: %d windows at N=%d could not be measured (%s)",
					ErrMeasurementInvalid, len(unmeasured), n, strings.Join(unmeasured, "; "))
			}
			r.log.Warn().Int("probe", rec.Probe).Int("agents", n).Str("why", unmeasuredText(rec)).Msg("window not measured; running it again once")
			continue
		}
		w++
		passed := false
		for i := range r.tiers {
			passed = passed || verdictOf(rec, i) == verdictPass
		}
		if !passed {
			return nil
		}
	}
	return nil
}

// measured reports whether the probe is a measurement: the client was
// healthy and the window conclusive.
func measured(p *bundle.ProbeRecord) bool { return p.Result.Valid && p.Result.Conclusive }

// unmeasuredText says why a probe is not a measurement.
func unmeasuredText(p *bundle.ProbeRecord) string {
	why := append(append([]string{}, p.Result.InvalidReasons...), p.Result.InconclusiveReasons...)
	if len(why) == 0 {
		return "not measured"
	}
	return strings.Join(why, "; ")
}
