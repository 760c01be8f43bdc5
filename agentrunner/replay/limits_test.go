package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
)

// stalledEngine is an OpenAI-compatible server that lists a model and
// accepts chat requests but never answers them: a hung or hopelessly
// overloaded engine. Handlers return when the client goes away.
func stalledEngine(t *testing.T, models string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/models":
			fmt.Fprint(w, models)
		case "/v1/chat/completions":
			// Read the body, so that the server notices the client leave.
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// shortProfile shrinks the test profile's waits so that a probe against a
// stalled engine ends in a fraction of a second. maxWindow is also the
// client's stall timeout.
func shortProfile(prof *spec.Profile, maxWindow time.Duration) {
	prof.Settle = spec.D(20 * time.Millisecond)
	prof.MaxWarmup = spec.D(300 * time.Millisecond)
	prof.Window = spec.D(200 * time.Millisecond)
	prof.MaxWindow = spec.D(maxWindow)
}

// guardProbes makes every probe above most agents an error instead of a
// probe, so that a search that runs away fails the test rather than the
// machine, and records the Ns probed.
func guardProbes(r *Runner, most int) *[]int {
	var ns []int
	inner := r.probeFn
	r.probeFn = func(ctx context.Context, n int, purpose, tier string) (*bundle.ProbeRecord, error) {
		ns = append(ns, n)
		if n > most {
			return nil, fmt.Errorf("runaway: a probe at N=%d, above %d", n, most)
		}
		return inner(ctx, n, purpose, tier)
	}
	return &ns
}

// TestSearchStalledEngine is the runaway attack: an engine that never
// answers made every probe's warm-up time out, which the search took as
// "too few requests: climb", doubling N without end (32 to 262,144 in
// eight minutes, 9.3 GB). A warm-up that never completes is a failure at
// that N for every tier, so the search settles at once with a reason that
// says so; and it returns without waiting out the requests still stalled
// (the client's stall timeout, a minute here).
func TestSearchStalledEngine(t *testing.T) {
	url := stalledEngine(t, `{"data":[{"id":"stall"}]}`)
	rules, prof := testRules(t)
	shortProfile(prof, time.Minute)
	r, err := New(context.Background(), Config{
		Endpoint: url, Workload: genWorkload(t, genOpts{trajectories: 4, turns: 3, blockSize: 16, firstBlocks: 2, addBlocks: 1, output: 8}),
		Rules: rules, Profile: prof, Tiers: []string{"t20", "t50"}, Seed: 1, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ns := guardProbes(r, 64)
	done := make(chan struct{})
	var sum *Summary
	go func() {
		defer close(done)
		sum, err = r.Search(context.Background())
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second): // a failure guard, not a speed test
		t.Fatalf("search still running after 30 s; probes at N = %v", *ns)
	}
	if err != nil {
		t.Fatalf("search: %v (probes at N = %v)", err, *ns)
	}
	if len(*ns) > 2 {
		t.Errorf("probes at N = %v: want the search settled by its first failing probe", *ns)
	}
	for _, tier := range []string{"t20", "t50"} {
		got := sum.Tiers[tier]
		if got.MaxAgents != 0 || got.Confirmed || !strings.Contains(got.Reason, "warm-up") {
			t.Errorf("%s: %+v, want N_max 0 with the warm-up named as the reason", tier, got)
		}
	}
}

// TestSearchOverloadedEngine: an engine that serves, but too slowly for a
// window ever to hold the profile's requests, gives inconclusive probes;
// the search climbed past them without end. Two in a row end it with
// ErrInconclusive.
func TestSearchOverloadedEngine(t *testing.T) {
	m := &serverModel{caps: map[string]int{"t20": 1 << 30}, inconclusive: func(int) bool { return true }}
	r := modelRunner(t, []string{"t20"}, m, map[string]int{"t20": 0})
	ns := guardProbes(r, 64)
	sum, err := r.Search(context.Background())
	if !errors.Is(err, ErrInconclusive) {
		t.Fatalf("err = %v (probes at N = %v), want ErrInconclusive", err, *ns)
	}
	if len(*ns) != 2 || sum.Tiers["t20"].MaxAgents != 0 || !strings.Contains(sum.Error, "inconclusive") {
		t.Errorf("probes at N = %v, summary %+v: want two probes and the reason", *ns, sum.Tiers["t20"])
	}
}

// TestSearchEngineSequenceLimit: an engine that reports 16 concurrent
// sequences (the sim's max_num_seqs in /v1/models, as vLLM names it) is
// never probed with more than 16 agents, however well it does; N_max = 16
// is reported as a bound, not a resolved result.
func TestSearchEngineSequenceLimit(t *testing.T) {
	url := startSim(t, "tiny", func(c *sim.Config) { c.Profile.MaxNumSeqs = 16 })
	rules, prof := testRules(t)
	r, err := New(context.Background(), Config{
		Endpoint: url, Workload: genWorkload(t, genOpts{trajectories: 2, turns: 2, blockSize: 16, firstBlocks: 1, output: 4}),
		Rules: rules, Profile: prof, Tiers: []string{"t20"}, Seed: 1, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	(&serverModel{caps: map[string]int{"t20": 1000}}).attach(r, map[string]int{"t20": 8})
	ns := guardProbes(r, 1<<20)
	sum, err := r.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range *ns {
		if n > 16 {
			t.Errorf("probe at N=%d, above the engine's 16 sequences (probes %v)", n, *ns)
		}
	}
	got := sum.Tiers["t20"]
	if got.MaxAgents != 16 || got.Confirmed || !strings.Contains(got.Reason, "16 concurrent sequences (max_num_seqs") {
		t.Errorf("t20: %+v, want N_max 16, unconfirmed, limited by the engine's max_num_seqs", got)
	}
}

// TestSearchAgentLimits: the profile's max_agents and the run's MaxAgents
// (--max-agents) bound every probe, and Fixed refuses an N above them.
func TestSearchAgentLimits(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile int
		flag    int
		want    int
		why     string
	}{
		{"profile", 40, 0, 40, "test profile's max_agents (40)"},
		{"max agents", 1024, 24, 24, "maximum of 24 agents (--max-agents)"},
		{"the least", 20, 24, 20, "max_agents (20)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := modelRunner(t, []string{"t20"}, &serverModel{caps: map[string]int{"t20": 5000}}, map[string]int{"t20": 4})
			r.cfg.Profile.MaxAgents, r.cfg.MaxAgents = tc.profile, tc.flag
			r.lim = r.limit(0, "")
			ns := guardProbes(r, 1<<20)
			sum, err := r.Search(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range *ns {
				if n > tc.want {
					t.Errorf("probe at N=%d above the limit %d (probes %v)", n, tc.want, *ns)
				}
			}
			if got := sum.Tiers["t20"]; got.MaxAgents != tc.want || got.Confirmed || !strings.Contains(got.Reason, tc.why) {
				t.Errorf("t20: %+v, want N_max %d unresolved, naming %q", got, tc.want, tc.why)
			}
			r2 := modelRunner(t, []string{"t20"}, &serverModel{caps: map[string]int{"t20": 5000}}, nil)
			r2.cfg.Profile.MaxAgents, r2.cfg.MaxAgents = tc.profile, tc.flag
			r2.lim = r2.limit(0, "")
			if _, err := r2.Fixed(context.Background(), tc.want+1); !errors.Is(err, ErrAgentLimit) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("Fixed(%d) = %v, want ErrAgentLimit naming %q", tc.want+1, err, tc.why)
			}
		})
	}
}

// TestSearchMemoryBudget: an N whose agents would need more memory than
// the budget is neither probed nor judged, and New refuses a budget that
// holds no agent at all.
func TestSearchMemoryBudget(t *testing.T) {
	r := modelRunner(t, []string{"t20"}, &serverModel{caps: map[string]int{"t20": 5000}}, map[string]int{"t20": 4})
	per := BytesPerAgent(r.cfg.Workload)
	r.cfg.MemoryBudget = 10 * per
	r.lim = r.limit(0, "")
	ns := guardProbes(r, 1<<20)
	sum, err := r.Search(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range *ns {
		if n > 10 {
			t.Errorf("probe at N=%d: its agents need more than the budget of 10 agents (probes %v)", n, *ns)
		}
	}
	if got := sum.Tiers["t20"]; got.MaxAgents != 10 || !strings.Contains(got.Reason, "memory budget") {
		t.Errorf("t20: %+v, want N_max 10 with the memory budget named", got)
	}
	r2 := modelRunner(t, []string{"t20"}, &serverModel{caps: map[string]int{"t20": 5000}}, nil)
	r2.cfg.MemoryBudget = 10 * per
	r2.lim = r2.limit(0, "")
	if _, err := r2.Fixed(context.Background(), 11); !errors.Is(err, ErrAgentLimit) || !strings.Contains(err.Error(), "memory budget") {
		t.Errorf("Fixed(11) = %v, want ErrAgentLimit naming the memory budget", err)
	}

	url := startSim(t, "tiny", nil)
	rules, prof := testRules(t)
	_, err = New(context.Background(), Config{
		Endpoint: url, Workload: r.cfg.Workload, Rules: rules, Profile: prof, Log: zerolog.Nop(), MemoryBudget: per - 1,
	})
	if !errors.Is(err, ErrAgentLimit) || !strings.Contains(err.Error(), "memory budget") {
		t.Errorf("New with a budget below one agent: %v, want ErrAgentLimit", err)
	}
}

// TestBytesPerAgent: the estimate grows with a trajectory's history and
// its sub-agents, and is never below one stream.
func TestBytesPerAgent(t *testing.T) {
	small := genWorkload(t, genOpts{trajectories: 1, turns: 2, blockSize: 16, firstBlocks: 1, output: 4})
	long := genWorkload(t, genOpts{trajectories: 1, turns: 40, blockSize: 16, firstBlocks: 100, addBlocks: 10, output: 4})
	subs := genWorkload(t, genOpts{trajectories: 1, turns: 2, blockSize: 16, firstBlocks: 1, output: 4, subagents: true})
	a, b, c := BytesPerAgent(small), BytesPerAgent(long), BytesPerAgent(subs)
	if a < streamBytes || b <= a || c < 2*streamBytes {
		t.Errorf("bytes per agent: small %d, long history %d, with a sub-agent %d", a, b, c)
	}
	if DefaultMemoryBudget() <= 0 {
		t.Errorf("default memory budget %d", DefaultMemoryBudget())
	}
}

// TestCancelDuringProbe: a cancel (the runner's SIGTERM) during a probe
// against an engine that holds every request open returns at once: agents
// and their requests observe the context, and finish does not wait for
// requests the engine never ends.
func TestCancelDuringProbe(t *testing.T) {
	url := stalledEngine(t, `{"data":[{"id":"stall"}]}`)
	rules, prof := testRules(t)
	shortProfile(prof, time.Minute)
	prof.MaxWarmup = spec.D(time.Minute)
	r, err := New(context.Background(), Config{
		Endpoint: url, Workload: genWorkload(t, genOpts{trajectories: 4, turns: 3, blockSize: 16, firstBlocks: 2, addBlocks: 1, output: 8}),
		Rules: rules, Profile: prof, Tiers: []string{"t20"}, Seed: 1, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.calibrateFn = func(context.Context) (map[string]int, error) { return map[string]int{"t20": 50}, nil }
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	inner := r.probeFn
	r.probeFn = func(ctx context.Context, n int, purpose, tier string) (*bundle.ProbeRecord, error) {
		close(started)
		return inner(ctx, n, purpose, tier)
	}
	done := make(chan error, 1)
	go func() {
		_, err := r.Search(ctx)
		done <- err
	}()
	<-started
	// Every agent has a request in flight, held by the engine.
	for deadline := time.Now().Add(10 * time.Second); r.flights.count() < 50 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("search after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second): // a failure guard, not a speed test
		t.Fatal("search still running 5 s after cancel")
	}
}

// TestFixedRetriesAnUnmeasuredWindow: the demo judges a fixed N on a
// machine that may be busy. One window that cannot be measured (invalid
// client, short window) is run again; N_max rests on the windows that were
// measured, as the verifier counts them. A second one ends the run with
// ErrMeasurementInvalid, saying why, instead of a result that cannot be
// published.
func TestFixedRetriesAnUnmeasuredWindow(t *testing.T) {
	m := &serverModel{caps: map[string]int{"t20": 20}, invalid: map[int]int{12: 1}}
	r := modelRunner(t, []string{"t20"}, m, nil)
	sum, err := r.Fixed(context.Background(), 12)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum.Tiers["t20"]; len(sum.Probes) != 3 || got.MaxAgents != 12 || !got.Confirmed || len(got.Probes) != 2 {
		t.Errorf("one invalid window: %d probes, t20 %+v; want it retried and N=12 confirmed by two windows", len(sum.Probes), got)
	}

	for name, m := range map[string]*serverModel{
		"invalid twice": {caps: map[string]int{"t20": 20}, invalid: map[int]int{12: 2}},
		"short windows": {caps: map[string]int{"t20": 20}, inconclusive: func(int) bool { return true }},
	} {
		t.Run(name, func(t *testing.T) {
			r := modelRunner(t, []string{"t20"}, m, nil)
			sum, err := r.Fixed(context.Background(), 12)
			if !errors.Is(err, ErrMeasurementInvalid) {
				t.Fatalf("err = %v, want ErrMeasurementInvalid", err)
			}
			if !strings.Contains(err.Error(), "the machine was too busy") || sum == nil || len(sum.Probes) != 2 || sum.Tiers["t20"].MaxAgents != 0 {
				t.Errorf("err %v; summary %+v", err, sum)
			}
			// The tier's reason says the windows were not measured, not
			// merely that N did not pass.
			if why := sum.Tiers["t20"].Reason; !strings.Contains(why, "probe 0 not measured: ") || !strings.Contains(why, "probe 1 not measured: ") {
				t.Errorf("t20 reason %q does not name the unmeasured windows", why)
			}
		})
	}
}
