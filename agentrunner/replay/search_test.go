package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/workload"
)

// serverModel answers probes without a server: a probe at n passes tier t
// iff n ≤ caps[t]. fail lists how many more probes at an n fail every tier
// whatever the caps (a noisy window); invalid and inconclusive likewise.
type serverModel struct {
	caps         map[string]int
	fail         map[int]int
	invalid      map[int]int
	inconclusive func(n int) bool
}

// modelRunner is a Runner whose probes and calibration come from a model.
func modelRunner(t *testing.T, tiers []string, m *serverModel, n0 map[string]int) *Runner {
	t.Helper()
	rules, prof := testRules(t)
	cfg := Config{Rules: rules, Profile: prof, Tiers: tiers, Endpoint: "model", Workload: &workload.Workload{Trajectories: []*workload.Trajectory{{}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg = cfg.withDefaults()
	r := &Runner{cfg: cfg, log: zerolog.Nop(), tiers: cfg.tiers(), probeRules: metrics.ProbeRulesOf(rules, prof), tl: newTimeline()}
	r.lim = r.limit(0, "")
	m.attach(r, n0)
	return r
}

// attach makes r's probes and calibration come from the model.
func (m *serverModel) attach(r *Runner, n0 map[string]int) {
	r.calibrateFn = func(context.Context) (map[string]int, error) { return n0, nil }
	r.probeFn = func(_ context.Context, n int, purpose, tier string) (*bundle.ProbeRecord, error) {
		rec := &bundle.ProbeRecord{Probe: len(r.probes), Agents: n, Purpose: purpose, Tier: tier, WindowStartNs: 1, WindowEndNs: 2}
		res := metrics.ProbeResult{Agents: n, Valid: true, Conclusive: true, Requests: 100}
		forceFail := m.fail[n] > 0
		if forceFail {
			m.fail[n]--
		}
		if m.invalid[n] > 0 {
			m.invalid[n]--
			res.Valid, res.InvalidReasons = false, []string{"client scheduling lag p99 too high"}
		}
		if m.inconclusive != nil && m.inconclusive(n) {
			res.Conclusive = false
		}
		for _, tr := range r.tiers {
			pass := n <= m.caps[tr.Name] && !forceFail && res.Valid && res.Conclusive
			res.Tiers = append(res.Tiers, metrics.TierResult{Tier: tr.Name, Passed: pass})
		}
		rec.Result = res
		return r.keep(rec), nil
	}
}

// calibrated is what the calibration gives a deterministic server: the
// largest power of two the tier allows.
func calibrated(k int) int {
	if k < 1 {
		return 0
	}
	return 1 << (bits.Len(uint(k)) - 1)
}

func log2Bound(n int) int {
	if n <= 1 {
		return 7
	}
	return bits.Len(uint(n-1)) + 7
}

// TestSearchFindsCapacity: against a deterministic server the search finds
// N_max within the rules' precision, confirmed, in at most
// ⌈log₂ N_max⌉ + 7 windows from a calibrated start; from N0 = 1 (small
// N_max) it finds the same N_max.
func TestSearchFindsCapacity(t *testing.T) {
	for _, k := range []int{1, 2, 3, 5, 10, 13, 31, 64, 100, 127, 257, 1000, 4999, 20000} {
		starts := map[string]int{"calibrated": calibrated(k)}
		if k <= 127 {
			starts["from one"] = 1
		}
		for name, n0 := range starts {
			t.Run(fmt.Sprintf("%d/%s", k, name), func(t *testing.T) {
				r := modelRunner(t, []string{"t20"}, &serverModel{caps: map[string]int{"t20": k}}, map[string]int{"t20": n0})
				r.lim = agentLimit{n: 1 << 20, why: "a limit far above the model's capacity"}
				sum, err := r.Search(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				got := sum.Tiers["t20"]
				step := metrics.SearchStep(k, r.cfg.Rules.Search.Precision, r.cfg.Rules.Search.MinStep)
				if got.MaxAgents > k || got.MaxAgents <= k-step || math.Abs(float64(got.MaxAgents-k)) > 0.05*float64(k) {
					t.Errorf("N_max = %d, want within one step (%d) below %d", got.MaxAgents, step, k)
				}
				if !got.Confirmed || len(got.Probes) != 2 || got.ConfirmationProbe == nil || *got.ConfirmationProbe != got.Probes[1] {
					t.Errorf("not confirmed by two windows: %+v", got)
				}
				if n, bound := len(sum.Probes), log2Bound(k); n > bound && name == "calibrated" {
					t.Errorf("%d probe windows, bound ⌈log₂ %d⌉ + 7 = %d", n, k, bound)
				}
			})
		}
	}
}

// TestSearchStepsDownWhenConfirmationFails: a failed confirmation moves
// N_max down one step and confirms again.
func TestSearchStepsDownWhenConfirmationFails(t *testing.T) {
	m := &serverModel{caps: map[string]int{"t20": 10}}
	r := modelRunner(t, []string{"t20"}, m, map[string]int{"t20": 8})
	// Probes at 10: the bisection's passes, then the confirmation fails.
	calls := 0
	inner := r.probeFn
	r.probeFn = func(ctx context.Context, n int, purpose, tier string) (*bundle.ProbeRecord, error) {
		if n == 10 && purpose == bundle.PurposeConfirm {
			calls++
			m.fail[10] = 1
		}
		return inner(ctx, n, purpose, tier)
	}
	m.fail = map[int]int{}
	sum, err := r.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := sum.Tiers["t20"]
	if calls != 1 || got.MaxAgents != 9 || !got.Confirmed || len(got.Probes) != 2 {
		t.Errorf("confirmations at 10: %d; result %+v; want N_max 9 confirmed by two windows", calls, got)
	}
	for _, p := range got.Probes {
		if sum.Probes[p].Agents != 9 || !sum.Probes[p].Tiers["t20"].Passed {
			t.Errorf("probe %d is not a pass at 9: %+v", p, sum.Probes[p])
		}
	}
}

// TestSearchReusesProbesAcrossTiers: one probe evaluates every tier, so
// two tiers cost fewer windows than two searches.
func TestSearchReusesProbesAcrossTiers(t *testing.T) {
	caps := map[string]int{"t20": 12, "t50": 10, "t100": 0}
	n0 := map[string]int{"t20": 8, "t50": 8, "t100": 0}
	r := modelRunner(t, []string{"t20", "t50", "t100"}, &serverModel{caps: caps}, n0)
	sum, err := r.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	separate := 0
	for tier, k := range caps {
		got := sum.Tiers[tier]
		if got.MaxAgents != k || got.Confirmed != (k > 0) {
			t.Errorf("%s: %+v, want N_max %d", tier, got, k)
		}
		one := modelRunner(t, []string{tier}, &serverModel{caps: map[string]int{tier: k}}, map[string]int{tier: n0[tier]})
		s1, err := one.Search(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		separate += len(s1.Probes)
	}
	if len(sum.Probes) >= separate {
		t.Errorf("%d windows for three tiers together, %d separately", len(sum.Probes), separate)
	}
	if got := sum.Tiers["t100"]; got.Reason == "" || got.ConfirmationProbe != nil {
		t.Errorf("t100 (nothing passes): %+v, want a reason and no confirmation probe", got)
	}
}

// TestSearchGoesDownFromAnOptimisticStart: a calibration that overshoots
// (N0 fails) halves until a probe passes.
func TestSearchGoesDownFromAnOptimisticStart(t *testing.T) {
	r := modelRunner(t, []string{"t20"}, &serverModel{caps: map[string]int{"t20": 6}}, map[string]int{"t20": 64})
	sum, err := r.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Tiers["t20"]; got.MaxAgents != 6 || !got.Confirmed {
		t.Errorf("%+v, want N_max 6 confirmed", got)
	}
}

// TestSearchClimbsPastInconclusiveProbes: windows that cannot collect the
// profile's requests at small N are inconclusive, not failures.
func TestSearchClimbsPastInconclusiveProbes(t *testing.T) {
	m := &serverModel{caps: map[string]int{"t20": 20}, inconclusive: func(n int) bool { return n < 2 }}
	r := modelRunner(t, []string{"t20"}, m, map[string]int{"t20": 0})
	sum, err := r.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Tiers["t20"]; got.MaxAgents != 20 || !got.Confirmed {
		t.Errorf("%+v, want N_max 20 confirmed", got)
	}
}

// TestSearchStopsOnUnhealthyClient: an invalid probe is repeated once; two
// in a row end the search with ErrClientUnhealthy and a summary.
func TestSearchStopsOnUnhealthyClient(t *testing.T) {
	m := &serverModel{caps: map[string]int{"t20": 20}, invalid: map[int]int{16: 2}}
	r := modelRunner(t, []string{"t20"}, m, map[string]int{"t20": 8})
	sum, err := r.Search(context.Background())
	if !errors.Is(err, ErrClientUnhealthy) {
		t.Fatalf("err = %v, want ErrClientUnhealthy", err)
	}
	if sum == nil || sum.Error == "" || sum.Probes[len(sum.Probes)-1].Valid {
		t.Errorf("summary %+v: want the error and the invalid probes", sum)
	}
	// One invalid probe is only repeated.
	m = &serverModel{caps: map[string]int{"t20": 20}, invalid: map[int]int{16: 1}}
	r = modelRunner(t, []string{"t20"}, m, map[string]int{"t20": 8})
	sum, err = r.Search(context.Background())
	if err != nil || sum.Tiers["t20"].MaxAgents != 20 {
		t.Errorf("one invalid probe: err %v, %+v", err, sum.Tiers["t20"])
	}
}

// TestSearchStopsBelowConclusiveN: where the calibration says windows below
// some N cannot fill, a tier that fails there is settled without probing
// lower.
func TestSearchStopsBelowConclusiveN(t *testing.T) {
	r := modelRunner(t, []string{"t20", "t100"}, &serverModel{caps: map[string]int{"t20": 12, "t100": 0}}, map[string]int{"t20": 8, "t100": 0})
	r.minConclusive = 3
	sum, err := r.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sum.Probes {
		if p.Agents < 3 {
			t.Errorf("probe at N=%d, below the least conclusive N 3", p.Agents)
		}
	}
	if got := sum.Tiers["t100"]; got.MaxAgents != 0 || !strings.Contains(got.Reason, "below N=3") {
		t.Errorf("t100: %+v", got)
	}
	if got := sum.Tiers["t20"]; got.MaxAgents != 12 || !got.Confirmed {
		t.Errorf("t20: %+v", got)
	}
}

// A confirmation that fails under noise steps down to an N whose bracket
// is still resolved, so the verifier accepts the N_max: at 2%, N=352
// failing its confirmation leads to 345, not 344 ([344, 352) is 8 wide,
// the step at 344 is 7).
func TestSearchStepDownStaysResolved(t *testing.T) {
	r := modelRunner(t, []string{"t20"}, &serverModel{caps: map[string]int{"t20": 352}}, map[string]int{"t20": 256})
	r.lim = agentLimit{n: 1 << 20, why: "a limit far above the model's capacity"}
	model := r.probeFn
	r.probeFn = func(ctx context.Context, n int, purpose, tier string) (*bundle.ProbeRecord, error) {
		rec, err := model(ctx, n, purpose, tier)
		if err == nil && n == 352 && purpose == bundle.PurposeConfirm {
			rec.Result.Tiers[0].Passed = false // a noisy window
		}
		return rec, err
	}
	sum, err := r.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := sum.Tiers["t20"]
	sr := r.cfg.Rules.Search
	if !got.Confirmed || got.MaxAgents != 345 || !metrics.SearchResolved(got.MaxAgents, 352, sr.Precision, sr.MinStep) {
		t.Errorf("after a failed confirmation at 352: N_max %d confirmed %v, want 345 and [N_max, 352) resolved", got.MaxAgents, got.Confirmed)
	}
}

// TestSearchRepeats: with repeats, each confirmed tier gets Repeats − 1
// more windows at its N_max, shared between tiers at the same N, and the
// search is the one it is without repeats — even when the repeats fail.
func TestSearchRepeats(t *testing.T) {
	caps := map[string]int{"t20": 12, "t50": 12, "t100": 10}
	n0 := map[string]int{"t20": 8, "t50": 8, "t100": 8}
	tiers := []string{"t20", "t50", "t100"}
	search := func(repeats int, failRepeats bool) *Summary {
		t.Helper()
		m := &serverModel{caps: caps, fail: map[int]int{}}
		r := modelRunner(t, tiers, m, n0)
		r.cfg.Repeats = repeats
		inner := r.probeFn
		r.probeFn = func(ctx context.Context, n int, purpose, tier string) (*bundle.ProbeRecord, error) {
			if purpose == bundle.PurposeRepeat && failRepeats {
				m.fail[n] = 1
			}
			return inner(ctx, n, purpose, tier)
		}
		sum, err := r.Search(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	base := search(1, false)
	var baseSchedule []string
	for _, p := range base.Probes {
		if p.Role == bundle.PurposeRepeat {
			t.Fatalf("repeats = 1 ran a repeat probe: %+v", p)
		}
		baseSchedule = append(baseSchedule, fmt.Sprintf("%s@%d", p.Role, p.Agents))
	}
	for _, failRepeats := range []bool{false, true} {
		t.Run(fmt.Sprintf("repeats fail: %v", failRepeats), func(t *testing.T) {
			sum := search(3, failRepeats)
			var schedule []string
			repeats := map[int][]int{} // N → repeat probes
			for _, p := range sum.Probes {
				if p.Role == bundle.PurposeRepeat {
					repeats[p.Agents] = append(repeats[p.Agents], p.Index)
					continue
				}
				schedule = append(schedule, fmt.Sprintf("%s@%d", p.Role, p.Agents))
			}
			if !slices.Equal(schedule, baseSchedule) {
				t.Errorf("search probes with repeats %v, without %v", schedule, baseSchedule)
			}
			if len(repeats) != 2 || len(repeats[12]) != 2 || len(repeats[10]) != 2 {
				t.Errorf("repeat probes by N: %v, want two at 12 (shared by t20 and t50) and two at 10", repeats)
			}
			for _, tier := range tiers {
				got, want := sum.Tiers[tier], base.Tiers[tier]
				// Repeats shift the indices of later probes; a probe is
				// its place among the search's probes.
				if got.MaxAgents != want.MaxAgents || got.Confirmed != want.Confirmed ||
					!slices.Equal(searchPlaces(sum, got.Probes), searchPlaces(base, want.Probes)) ||
					!slices.Equal(searchPlaces(sum, []int{*got.ConfirmationProbe}), searchPlaces(base, []int{*want.ConfirmationProbe})) {
					t.Errorf("%s: %+v with repeats, %+v without", tier, got, want)
				}
				if !slices.Equal(got.RepeatProbes, repeats[got.MaxAgents]) {
					t.Errorf("%s: repeat probes %v, want %v", tier, got.RepeatProbes, repeats[got.MaxAgents])
				}
				if rs := got.Repeats; rs == nil || !slices.Equal(rs.Probes, append([]int{*got.ConfirmationProbe}, got.RepeatProbes...)) {
					t.Errorf("%s: spread %+v, want it over the confirmation and the repeats", tier, rs)
				}
			}
		})
	}
}

// searchPlaces maps probe indices to their places among the search's
// probes (repeats left out); -1 for a repeat probe.
func searchPlaces(sum *Summary, probes []int) []int {
	place, k := map[int]int{}, 0
	for _, p := range sum.Probes {
		place[p.Index] = -1
		if p.Role != bundle.PurposeRepeat {
			place[p.Index] = k
			k++
		}
	}
	out := make([]int, len(probes))
	for i, p := range probes {
		out[i] = place[p]
	}
	return out
}
