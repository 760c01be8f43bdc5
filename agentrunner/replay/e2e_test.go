package replay

import (
	"github.com/agentwatt/agentwatt/bundle"
	"reflect"

	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload"
)

// End-to-end tests against the simulated engine, in-process on a loopback
// port, with the rules' test profile. They time real streams, so they run
// serially (no t.Parallel).

// smallWorkload is short enough for the tiny sim profile and windows that
// fill quickly: short prompts, four-token answers, think times of 50 ms,
// one sub-agent per trajectory.
func smallWorkload(t testing.TB, subagents bool) *workload.Workload {
	return genWorkload(t, genOpts{trajectories: 4, turns: 4, blockSize: 16, sharedBlocks: 2, firstBlocks: 2, addBlocks: 1, partial: 3, output: 4, think: 0.05, subagents: subagents})
}

func newSimRunner(t *testing.T, url string, w *workload.Workload, prof *spec.Profile, tiers []string, rec Recorder) *Runner {
	t.Helper()
	rules, _ := testRules(t)
	r, err := New(context.Background(), Config{
		Endpoint: url, Workload: w, Rules: rules, Profile: prof, Tiers: tiers, Seed: 7,
		Template: simTemplate, Recorder: rec, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestFixedAgainstSim: a fixed run writes well-labelled records whose
// prompt and completion tokens match their targets, with sub-agent streams
// counted in the window but not in N, and probes evaluated from them.
func TestFixedAgainstSim(t *testing.T) {
	url := startSim(t, "tiny", nil)
	_, prof := testRules(t)
	rec := &memRecorder{}
	r := newSimRunner(t, url, smallWorkload(t, true), prof, []string{"t20", "t50"}, rec)
	var events []Event
	r.cfg.Events = func(e Event) { events = append(events, e) }
	sum, err := r.Fixed(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Mode != ModeFixed || sum.Model != "sim-tiny" || sum.History != HistoryRecorded || len(sum.Probes) == 0 {
		t.Fatalf("summary: %+v", sum)
	}
	recs := rec.all()
	probes := r.Probes()
	agents := map[int]bool{}
	subs := 0
	for _, q := range recs {
		agents[q.Agent] = true
		if q.Subagent != "" {
			subs++
			if q.Subagent != "sub" {
				t.Errorf("sub-agent path %q, want \"sub\"", q.Subagent)
			}
		}
		if q.Status != metrics.StatusOK {
			t.Errorf("request failed: %+v", q)
			continue
		}
		if q.PromptTokens != q.TargetPromptTokens {
			t.Errorf("prompt_tokens %d, target %d (%s turn %d %q)", q.PromptTokens, q.TargetPromptTokens, q.Trajectory, q.Turn, q.Subagent)
		}
		if q.CompletionTokens != q.TargetCompletionTokens || q.TargetCompletionTokens != 4 {
			t.Errorf("completion_tokens %d, target %d", q.CompletionTokens, q.TargetCompletionTokens)
		}
		if !q.CachedTokens.Known {
			t.Error("the sim reports cached_tokens; the record says unknown")
		}
		if q.Probe < 0 || q.Probe > len(probes) || !slices.Contains([]string{metrics.PhaseSettle, metrics.PhaseWarmup, metrics.PhaseWindow}, q.Phase) {
			t.Errorf("label probe %d phase %q", q.Probe, q.Phase)
		}
	}
	if len(agents) != 2 {
		t.Errorf("records name %d agents, want 2 (sub-agents are not agents)", len(agents))
	}
	// Warm start: each agent's first request is the seeded turn of the
	// seeded trajectory, carrying the history so far, before any window.
	for a := range agents {
		var first *metrics.Request
		for i := range recs {
			if q := &recs[i]; q.Agent == a && q.Subagent == "" && (first == nil || q.TSendNs < first.TSendNs) {
				first = q
			}
		}
		pos, draw := startChoice(r.seed, a, len(r.order))
		tr := r.cfg.Workload.Trajectories[r.order[pos]]
		k0 := pick(draw, len(tr.Turns))
		if first.Trajectory != tr.ID || first.Turn != k0 || first.Phase == metrics.PhaseWindow ||
			first.TargetPromptTokens != workload.TargetPromptTokens(&tr.Turns[k0], simTemplate) {
			t.Errorf("agent %d first request %s turn %d (%s), want %s turn %d before the window", a, first.Trajectory, first.Turn, first.Phase, tr.ID, k0)
		}
	}
	if subs == 0 {
		t.Error("no sub-agent requests")
	}
	for _, p := range probes {
		inWindow := 0
		for _, q := range recs {
			if q.Probe == p.Probe && q.Phase == metrics.PhaseWindow {
				inWindow++
				if q.TSendNs < p.WindowStartNs || q.TSendNs >= p.WindowEndNs {
					t.Errorf("probe %d: window record sent at %d outside [%d, %d)", p.Probe, q.TSendNs, p.WindowStartNs, p.WindowEndNs)
				}
			}
		}
		if inWindow != p.Result.Requests || inWindow < prof.MinRequests {
			t.Errorf("probe %d: %d window records, result counts %d, profile needs %d", p.Probe, inWindow, p.Result.Requests, prof.MinRequests)
		}
		if w := time.Duration(p.WindowEndNs - p.WindowStartNs); w < prof.Window.Duration {
			t.Errorf("probe %d: window %v shorter than the profile's %v", p.Probe, w, prof.Window.Duration)
		}
		if p.Result.ActiveSessions < 1.9 || p.Result.ActiveSessions > 2.1 {
			t.Errorf("probe %d: %.2f active sessions, want 2", p.Probe, p.Result.ActiveSessions)
		}
		if !p.WindowEnd.After(p.WindowStart) || p.WindowEndMonotonicNs-p.WindowStartMonotonicNs != p.WindowEndNs-p.WindowStartNs {
			t.Errorf("probe %d: window marks %v..%v, monotonic %d..%d", p.Probe, p.WindowStart, p.WindowEnd, p.WindowStartMonotonicNs, p.WindowEndMonotonicNs)
		}
		// The sim's prefix cache serves what the workload's blocks allow:
		// the theoretical share beside the reported one, no gap noted.
		if th := p.Result.TheoreticalCacheShare; th == nil || *th <= 0 || p.Result.CachedReported == 0 {
			t.Errorf("probe %d: theoretical cache share %v, %d requests reported cached tokens", p.Probe, th, p.Result.CachedReported)
		} else if gap, noted := metrics.CacheGap(&p.Result); noted {
			t.Errorf("probe %d: theoretical %.3f, the sim reported %.3f: a gap of %.3f", p.Probe, *th, p.Result.CachedTokenShare, gap)
		} else {
			t.Logf("probe %d: theoretical cache share %.3f, reported %.3f", p.Probe, *th, p.Result.CachedTokenShare)
		}
		if p.Client.SchedLagSamples == 0 || len(p.Client.CPUSet) == 0 {
			t.Errorf("probe %d: client health not measured: %+v", p.Probe, p.Client)
		}
	}
	var kinds []EventKind
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	if len(kinds) != 3*len(probes) || kinds[0] != EventWindowStart || kinds[1] != EventWindowEnd || kinds[2] != EventProbe {
		t.Errorf("events %v", kinds)
	}
	if r.pool.size() != 0 || r.flights.count() != 0 {
		t.Errorf("after the run: %d agents, %d requests in flight", r.pool.size(), r.flights.count())
	}
}

// TestAgentsChangeLive: N changes between probes by adding agents with new
// ids and retiring the newest, while the others keep running.
func TestAgentsChangeLive(t *testing.T) {
	url := startSim(t, "tiny", nil)
	_, prof := testRules(t)
	rec := &memRecorder{}
	r := newSimRunner(t, url, smallWorkload(t, false), prof, []string{"t20"}, rec)
	ctx := context.Background()
	if err := r.start(ctx); err != nil {
		t.Fatal(err)
	}
	var ps []*bundle.ProbeRecord
	for _, n := range []int{3, 6, 2} {
		p, err := r.probe(ctx, n, bundle.PurposeSearch, "t20")
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	r.finish()
	windowAgents := func(p *bundle.ProbeRecord) []int {
		var ids []int
		for _, q := range rec.all() {
			if q.Probe == p.Probe && q.Phase == metrics.PhaseWindow && !slices.Contains(ids, q.Agent) {
				ids = append(ids, q.Agent)
			}
		}
		slices.Sort(ids)
		return ids
	}
	want := [][]int{{0, 1, 2}, {0, 1, 2, 3, 4, 5}, {0, 1}}
	for i, p := range ps {
		if got := windowAgents(p); !slices.Equal(got, want[i]) {
			t.Errorf("probe %d at N=%d: window agents %v, want %v", i, p.Agents, got, want[i])
		}
	}
	// Agent 0 ran through every probe: its requests are one closed loop
	// (never two in flight at once), across the changes of N.
	var mine []metrics.Request
	for _, q := range rec.all() {
		if q.Agent == 0 && q.Subagent == "" {
			mine = append(mine, q)
		}
	}
	slices.SortFunc(mine, func(a, b metrics.Request) int { return int(a.TSendNs - b.TSendNs) })
	for i := 1; i < len(mine); i++ {
		if mine[i].TSendNs < mine[i-1].EndNs() {
			t.Fatalf("agent 0 sent at %d before its previous request ended at %d", mine[i].TSendNs, mine[i-1].EndNs())
		}
	}
	if len(mine) == 0 || mine[0].Probe != 0 || mine[len(mine)-1].Probe < 2 {
		t.Errorf("agent 0 did not run through all probes")
	}
}

// TestThinkTimeIsCapped: recorded think times of minutes are replayed as
// the profile's cap.
func TestThinkTimeIsCapped(t *testing.T) {
	url := startSim(t, "tiny", nil)
	_, prof := testRules(t)
	rec := &memRecorder{}
	w := genWorkload(t, genOpts{trajectories: 1, turns: 6, blockSize: 16, firstBlocks: 2, addBlocks: 1, output: 4, think: 600})
	r := newSimRunner(t, url, w, prof, []string{"t20"}, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	if err := r.start(ctx); err != nil {
		t.Fatal(err)
	}
	r.setAgents(ctx, 1, 0)
	time.Sleep(3 * prof.ThinkTimeCap.Duration)
	r.finish()
	recs := rec.all()
	if len(recs) < 2 {
		t.Fatalf("%d requests in %v with a think-time cap of %v", len(recs), 3*prof.ThinkTimeCap.Duration, prof.ThinkTimeCap.Duration)
	}
	slices.SortFunc(recs, func(a, b metrics.Request) int { return int(a.TSendNs - b.TSendNs) })
	for i := 1; i < len(recs); i++ {
		gap := time.Duration(recs[i].TSendNs - recs[i-1].EndNs())
		if gap < prof.ThinkTimeCap.Duration && recs[i].Turn != 0 {
			t.Errorf("gap %v before turn %d is shorter than the cap %v", gap, recs[i].Turn, prof.ThinkTimeCap.Duration)
		}
	}
}

// TestUnhealthyClientInvalidatesProbe: a probe whose client exceeded the
// profile's health limits is invalid and passes no tier; a fixed run
// measures it once more, then ends with ErrMeasurementInvalid.
func TestUnhealthyClientInvalidatesProbe(t *testing.T) {
	url := startSim(t, "tiny", nil)
	_, prof := testRules(t)
	prof.Client.MaxSchedLagP99 = spec.Duration{Duration: time.Nanosecond}
	r := newSimRunner(t, url, smallWorkload(t, false), prof, []string{"t20"}, nil)
	sum, err := r.Fixed(context.Background(), 4)
	if !errors.Is(err, ErrMeasurementInvalid) || !strings.Contains(err.Error(), "scheduling lag") {
		t.Fatalf("err = %v, want ErrMeasurementInvalid naming the scheduling lag", err)
	}
	for _, p := range sum.Probes {
		if p.Valid || p.Tiers["t20"].Passed || len(p.InvalidReasons) == 0 || !strings.Contains(p.InvalidReasons[0], "scheduling lag") {
			t.Errorf("probe %+v: want invalid for scheduling lag", p)
		}
	}
	if len(sum.Probes) != 2 || sum.Tiers["t20"].MaxAgents != 0 {
		t.Errorf("%d windows, t20 %+v: want two windows and no N_max", len(sum.Probes), sum.Tiers["t20"])
	}
}

// TestInterruptedSearch: cancelling stops every agent at once and still
// returns what was measured.
func TestInterruptedSearch(t *testing.T) {
	url := startSim(t, "tiny", nil)
	_, prof := testRules(t)
	r := newSimRunner(t, url, smallWorkload(t, false), prof, []string{"t20"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	r.cfg.Events = func(e Event) {
		if e.Kind == EventProbe {
			cancel()
		}
	}
	start := time.Now()
	sum, err := r.Search(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if sum == nil || !sum.Interrupted || len(sum.Probes) != 1 || len(sum.Tiers) != 1 {
		t.Fatalf("summary %+v: want interrupted with the one probe measured", sum)
	}
	if took := time.Since(start); r.pool.size() != 0 || r.flights.count() != 0 {
		t.Errorf("after %v: %d agents, %d requests in flight", took, r.pool.size(), r.flights.count())
	}
}

func TestConfigValidate(t *testing.T) {
	rules, prof := testRules(t)
	w := smallWorkload(t, false)
	ok := func() Config {
		return Config{Endpoint: "http://x", Workload: w, Rules: rules, Profile: prof}
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint is required"},
		{"unknown tier", func(c *Config) { c.Tiers = []string{"t7"} }, `tier "t7" is not in rules v1`},
		{"repeated tier", func(c *Config) { c.Tiers = []string{"t20", "t20"} }, "tiers repeat"},
		{"live history of blocks", func(c *Config) { c.History = HistoryLive }, "needs literal-text sources"},
		{"unknown history", func(c *Config) { c.History = "echo" }, `history "echo"`},
		{"negative template", func(c *Config) { c.Template.PerMessage = -1 }, "must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrConfig)):
				t.Errorf("err = %v, want ErrConfig with %q", err, tc.want)
			}
		})
	}
	c := ok()
	if err := c.Validate(); err != nil || !reflect.DeepEqual(c, ok()) {
		t.Errorf("Validate() = %v and changed the config: %+v", err, c)
	}
	if c := c.withDefaults(); c.History != HistoryRecorded || len(c.Tiers) != len(rules.Tiers) || c.MemoryBudget != DefaultMemoryBudget() {
		t.Errorf("defaults: history %q, tiers %v", c.History, c.Tiers)
	}
}
