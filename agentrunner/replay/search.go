package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/agentwatt/agentwatt/metrics"
)

// TierOutcome is what a search (or a fixed run) found for one tier.
type TierOutcome struct {
	Tier string
	// MaxAgents is N_max: the largest N that passed, 0 when none did.
	MaxAgents int
	// Confirmed: N_max passed 1 + the rules' confirmations windows.
	Confirmed bool
	// PassingProbes are the probes at N_max that passed this tier;
	// ConfirmationProbe is the last of them (the window whose energy is
	// reported), -1 when there is none.
	PassingProbes     []int
	ConfirmationProbe int
	// RepeatProbes are the repeat probes at a confirmed N_max, any tier's
	// (Config.Repeats − 1 of them, fewer when interrupted), whatever they
	// measured.
	RepeatProbes []int
	// N0 is the calibrated starting point (search only).
	N0 int
	// Reason says why N_max is 0 or unconfirmed.
	Reason string
}

// Search finds, for every tier, the most agents the server holds inside
// it: a short calibration gives each tier a start N0; then, per tier, N
// doubles until a probe fails, the bracket is bisected until it is at most
// max(min_step, precision × N) wide (metrics.SearchResolved), and N_max is
// confirmed with further windows — stepping down by one step and confirming
// again when a confirmation fails. N changes live between probes; one probe
// evaluates every tier, so tiers reuse each other's probes. Tiers are
// searched from the highest N0 down: a looser tier's failures bound the
// stricter tiers' searches from above. With Config.Repeats > 1, a tier
// whose N_max is confirmed is measured Repeats − 1 more times at N_max
// (repeat probes), for the spread; no search reads a repeat probe.
//
// The summary is returned also with an error (interrupted, client
// unhealthy), holding what was measured.
func (r *Runner) Search(ctx context.Context) (*Summary, error) {
	if err := r.start(ctx); err != nil {
		return nil, err
	}
	outcomes, err := r.search(ctx)
	r.finish()
	return r.summary(ModeSearch, outcomes, err), err
}

func (r *Runner) search(ctx context.Context) ([]TierOutcome, error) {
	outcomes := make([]TierOutcome, len(r.tiers))
	for i, t := range r.tiers {
		outcomes[i] = TierOutcome{Tier: t.Name, ConfirmationProbe: -1, Reason: "not searched"}
	}
	r.beginCalibration()
	n0, err := r.calibrateFn(ctx)
	if err != nil {
		return outcomes, err
	}
	r.mu.Lock()
	r.n0 = n0
	r.mu.Unlock()
	order := make([]int, len(r.tiers))
	for i := range order {
		order[i] = i
		outcomes[i].N0 = n0[r.tiers[i].Name]
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(outcomes[b].N0, outcomes[a].N0) })
	for k, ti := range order {
		out, err := r.searchTier(ctx, ti, outcomes[ti].N0, len(order)-k-1)
		if err == nil && out.Confirmed {
			out.RepeatProbes, err = r.repeatTier(ctx, ti, out.MaxAgents)
		}
		out.N0 = outcomes[ti].N0
		outcomes[ti] = out
		r.endTier(ti, out)
		if err != nil {
			return outcomes, err
		}
	}
	return outcomes, nil
}

// searchTier runs one tier's search from n0 (0: from 1), reusing every
// earlier probe.
func (r *Runner) searchTier(ctx context.Context, ti, n0, _ int) (TierOutcome, error) {
	name := r.tiers[ti].Name
	sr := r.cfg.Rules.Search
	out := TierOutcome{Tier: name, ConfirmationProbe: -1}
	lo, hi := r.bracket(ti)
	floor := 0 // largest inconclusive N while nothing has passed or failed
	// Two invalid probes in a row mean the client cannot measure; two
	// inconclusive ones that the engine cannot fill a window at these N.
	// Either ends the search: climbing past them is how a search ran away.
	invalid, inconclusive := 0, 0
	prevN := 0
	check := func(rec *bundle.ProbeRecord) error {
		defer func() { prevN = rec.Agents }()
		switch verdictOf(rec, ti) {
		case verdictInvalid:
			invalid, inconclusive = invalid+1, 0
			if invalid >= 2 {
				return fmt.Errorf("%w: two invalid probes in a row at N=%d: %s", ErrClientUnhealthy, rec.Agents, strings.Join(rec.Result.InvalidReasons, "; "))
			}
		case verdictInconclusive:
			invalid, inconclusive = 0, inconclusive+1
			if inconclusive >= 2 {
				return fmt.Errorf("%w (N=%d, then N=%d): %s", ErrInconclusive, prevN, rec.Agents, strings.Join(rec.Result.InconclusiveReasons, "; "))
			}
		default:
			invalid, inconclusive = 0, 0
		}
		return nil
	}
	for hi == 0 || !metrics.SearchResolved(lo, hi, sr.Precision, sr.MinStep) {
		var n int
		switch {
		case hi == 0 && lo == 0:
			n = max(1, n0, r.minConclusive)
			if floor > 0 {
				n = 2 * floor
			}
		case hi == 0:
			n = max(2*lo, n0)
		case hi == 1:
			out.Reason = "no N passed (" + r.failText(ti, 1) + ")"
			return out, nil
		case lo == 0:
			n = max(1, hi/2)
			if n0 > 0 && n0 < hi {
				n = n0
			}
			if n = max(n, r.minConclusive); n >= hi {
				out.Reason = fmt.Sprintf("%s, and below N=%d a window cannot hold the profile's %d requests",
					r.failText(ti, hi), r.minConclusive, r.cfg.Profile.MinRequests)
				return out, nil
			}
		default:
			n = lo + (hi-lo)/2
		}
		// Never above the run's agent limit: a limit that passed is a
		// lower bound on N_max, not a result.
		if n > r.lim.n {
			if lo >= r.lim.n {
				out.MaxAgents, out.PassingProbes = lo, r.passing(ti, lo)
				out.Reason = fmt.Sprintf("N=%d passed and the search stops at %s: N_max ≥ %d, not resolved", lo, r.lim.why, lo)
				return out, nil
			}
			n = r.lim.n
		}
		r.setSearchState(ti, tierSearching, fmt.Sprintf("%s: %s", name, bracketText(lo, hi)), r.probesLeft(lo, hi))
		rec, err := r.probeFn(ctx, n, bundle.PurposeSearch, name)
		if err == nil {
			err = check(rec)
		}
		if err != nil {
			// The best N known to pass, unconfirmed.
			out.MaxAgents, out.PassingProbes = lo, r.passing(ti, lo)
			out.Reason = fmt.Sprintf("search stopped with %s: %v", bracketText(lo, hi), err)
			return out, err
		}
		switch verdictOf(rec, ti) {
		case verdictPass:
			lo = n
		case verdictFail:
			hi = n
		case verdictInconclusive:
			switch {
			case lo == 0 && hi == 0:
				floor = n // too few requests at this N: climb
			case lo == 0:
				// Below the smallest failure windows cannot fill: no N
				// can pass conclusively.
				out.Reason = fmt.Sprintf("N=%d failed and N=%d is inconclusive (%s)", hi, n, strings.Join(rec.Result.InconclusiveReasons, "; "))
				return out, nil
			default:
				hi = n // fewer requests than the profile needs at a higher N: the server is too slow
			}
		}
	}

	// Confirm N_max with further windows; step down when one fails.
	want := 1 + r.cfg.Rules.Search.Confirmations
	for lo > 0 {
		if passing := r.passing(ti, lo); len(passing) >= want {
			out.MaxAgents, out.Confirmed = lo, true
			out.PassingProbes, out.ConfirmationProbe = passing, passing[len(passing)-1]
			return out, nil
		}
		r.setSearchState(ti, tierConfirming, fmt.Sprintf("%s: confirming N_max=%d", name, lo), want-len(r.passing(ti, lo)))
		rec, err := r.probeFn(ctx, lo, bundle.PurposeConfirm, name)
		if err != nil {
			out.MaxAgents, out.PassingProbes = lo, r.passing(ti, lo)
			out.Reason = "interrupted before N_max was confirmed"
			return out, err
		}
		if err := check(rec); err != nil {
			out.MaxAgents, out.PassingProbes = lo, r.passing(ti, lo)
			out.Reason = "N_max not confirmed: " + err.Error()
			return out, err
		}
		switch verdictOf(rec, ti) {
		case verdictPass, verdictInvalid:
		default:
			r.log.Info().Str("tier", name).Int("agents", lo).Msg("confirmation failed; stepping down")
			hi = lo
			lo = metrics.SearchStepDown(hi, sr.Precision, sr.MinStep)
		}
	}
	out.Reason = "no N passed (" + r.failText(ti, hi) + ")"
	return out, nil
}

// repeatTier measures tier ti Config.Repeats − 1 more times at its
// confirmed N_max, whatever each window shows: the spread is what they
// measure, and N_max stands on the search's probes alone. Like every
// probe, a repeat serves every tier: repeats another tier already ran at
// n count, and the tier's repeat probes are all those at n.
func (r *Runner) repeatTier(ctx context.Context, ti, n int) ([]int, error) {
	name := r.tiers[ti].Name
	for tries := 0; ; tries++ {
		done := r.repeatsAt(n)
		if len(done) >= r.cfg.Repeats-1 || tries >= r.cfg.Repeats {
			return done, nil
		}
		r.setSearchState(ti, tierConfirming, fmt.Sprintf("%s: repeat %d of %d at N_max=%d", name, len(done)+2, r.cfg.Repeats, n), r.cfg.Repeats-1-len(done))
		if _, err := r.probeFn(ctx, n, bundle.PurposeRepeat, name); err != nil {
			return r.repeatsAt(n), err
		}
	}
}

// repeatsAt lists the repeat probes at n.
func (r *Runner) repeatsAt(n int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i := range r.probes {
		if p := &r.probes[i]; !searched(p) && p.Agents == n {
			out = append(out, p.Probe)
		}
	}
	return out
}

// searched reports whether a probe is a step of the search (any tier's):
// every probe but a repeat.
func searched(p *bundle.ProbeRecord) bool { return p.Purpose != bundle.PurposeRepeat }

// failText says why the probes at n failed tier ti: "N=4 failed: …".
func (r *Runner) failText(ti, n int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.probes {
		p := &r.probes[i]
		if !searched(p) || p.Agents != n || verdictOf(p, ti) != verdictFail || ti >= len(p.Result.Tiers) {
			continue
		}
		if why := p.Result.Tiers[ti].Reasons; len(why) > 0 {
			return fmt.Sprintf("N=%d failed: %s", n, strings.Join(why, "; "))
		}
	}
	return fmt.Sprintf("N=%d failed", n)
}

// bracket derives a tier's search bracket from the search's probes so far:
// hi is the smallest N that failed (valid and conclusive), lo the largest N
// below hi that passed; 0 when unknown.
func (r *Runner) bracket(ti int) (lo, hi int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.probes {
		p := &r.probes[i]
		if searched(p) && verdictOf(p, ti) == verdictFail && (hi == 0 || p.Agents < hi) {
			hi = p.Agents
		}
	}
	for i := range r.probes {
		p := &r.probes[i]
		if searched(p) && verdictOf(p, ti) == verdictPass && p.Agents > lo && (hi == 0 || p.Agents < hi) {
			lo = p.Agents
		}
	}
	return lo, hi
}

// passing lists the search's probes at n that passed tier ti.
func (r *Runner) passing(ti, n int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i := range r.probes {
		if p := &r.probes[i]; searched(p) && p.Agents == n && verdictOf(p, ti) == verdictPass {
			out = append(out, p.Probe)
		}
	}
	return out
}

// probesLeft estimates the probes a tier's search still needs.
func (r *Runner) probesLeft(lo, hi int) int {
	sr := r.cfg.Rules.Search
	step := metrics.SearchStep(lo, sr.Precision, sr.MinStep)
	width := hi - lo
	extra := 0
	if hi == 0 {
		width, extra = max(lo, 1), 1
	}
	return extra + log2Ceil(float64(width)/float64(step)) + 1 + sr.Confirmations + max(0, r.cfg.Repeats-1)
}

func log2Ceil(x float64) int {
	if x <= 1 {
		return 0
	}
	return int(math.Ceil(math.Log2(x)))
}

func bracketText(lo, hi int) string {
	if hi == 0 {
		return fmt.Sprintf("N_max ≥ %d", lo)
	}
	return fmt.Sprintf("%d ≤ N_max < %d", lo, hi)
}
