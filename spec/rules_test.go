package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRulesV1 pins the numbers of DESIGN.md's "Benchmark rules v1" to the
// embedded file.
func TestRulesV1(t *testing.T) {
	r, err := LoadRules("v1")
	if err != nil {
		t.Fatal(err)
	}
	tiers := []struct {
		id   string
		rate float64
		ttft time.Duration
	}{{"t20", 20, 10 * time.Second}, {"t50", 50, 5 * time.Second}, {"t100", 100, 3 * time.Second}}
	for _, want := range tiers {
		got, ok := r.Tier(want.id)
		if !ok || got.MinDecodeRate != want.rate || got.MaxTTFT.Duration != want.ttft {
			t.Errorf("Tier(%s) = %+v, %v; want %v tok/s, TTFT %v", want.id, got, ok, want.rate, want.ttft)
		}
	}
	if _, ok := r.Tier("t30"); ok {
		t.Errorf("Tier(t30) found")
	}
	numbers := []struct {
		name      string
		got, want float64
	}{
		{"probe.min_met_share", r.Probe.MinMetShare, 0.90},
		{"probe.confidence", r.Probe.Confidence, 0.99},
		{"probe.agent_median_share", r.Probe.AgentMedianShare, 0.90},
		{"probe.max_error_share", r.Probe.MaxErrorShare, 0.01},
		{"probe.max_truncated_share", r.Probe.MaxTruncatedShare, 0.01},
		{"probe.active_session_tolerance", r.Probe.ActiveSessionTolerance, 0.02},
		{"sampling.temperature", r.Sampling.Temperature, 0},
		{"sampling.top_p", r.Sampling.TopP, 1},
		{"search.precision", r.Search.Precision, 0.02},
		{"search.min_step", float64(r.Search.MinStep), 1},
		{"search.confirmations", float64(r.Search.Confirmations), 1},
		{"power.cross_check_tolerance", r.Power.CrossCheckTolerance, 0.05},
		{"power.max_sample_gap_s", r.Power.MaxSampleGap.Seconds(), 0.5},
		{"verify.prompt_tokens.share", r.Verify.PromptTokens.Share, 0.03},
		{"verify.prompt_tokens.tokens", float64(r.Verify.PromptTokens.Tokens), 64},
		{"verify.runner_claim_tolerance", r.Verify.RunnerClaimTolerance, 0.005},
		{"verify.chunk_timing_sample_share", r.Verify.ChunkTimingSampleShare, 0.02},
		{"accuracy.min_fraction", r.Accuracy.MinFraction, 0.99},
	}
	for _, n := range numbers {
		if n.got != n.want {
			t.Errorf("%s = %v, want %v", n.name, n.got, n.want)
		}
	}
	if !r.Probe.EveryAgentCompletes {
		t.Errorf("probe.every_agent_completes = false")
	}
	if r.Accuracy.Dataset != "gsm8k" {
		t.Errorf("accuracy.dataset = %q", r.Accuracy.Dataset)
	}
	if got := r.ProfileNames(); strings.Join(got, ",") != "official,quick,test" {
		t.Errorf("profiles = %v", got)
	}
	test, err := r.Profile(ProfileTest)
	if err != nil {
		t.Fatal(err)
	}
	official, _ := r.Profile(ProfileOfficial)
	if !(test.Window.Duration < official.Window.Duration && test.MinRequests < official.MinRequests &&
		test.Client.MaxSchedLagP99.Duration > official.Client.MaxSchedLagP99.Duration) {
		t.Errorf("the test profile is not smaller and more relaxed than official: %+v vs %+v", test, official)
	}
}

func TestRulesLookupErrors(t *testing.T) {
	if _, err := LoadRules("v9"); !errors.Is(err, ErrUnknownRules) {
		t.Errorf("LoadRules(v9) = %v, want ErrUnknownRules", err)
	}
	if _, err := LoadRules("../rules/v1"); !errors.Is(err, ErrUnknownRules) {
		t.Errorf("LoadRules(path) = %v, want ErrUnknownRules", err)
	}
	r, _ := LoadRules("v1")
	if _, err := r.Profile("fast"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("Profile(fast) = %v, want ErrUnknownProfile", err)
	}
	if got := RulesVersions(); strings.Join(got, ",") != "v1" {
		t.Errorf("RulesVersions() = %v", got)
	}
}

// TestLoadRulesCopies checks that a caller changing its rules does not
// change anyone else's.
func TestLoadRulesCopies(t *testing.T) {
	a, _ := LoadRules("v1")
	a.Tiers[0].MinDecodeRate = 1
	a.Profiles[0].MinRequests = 1
	b, _ := LoadRules("v1")
	if b.Tiers[0].MinDecodeRate == 1 || b.Profiles[0].MinRequests == 1 {
		t.Errorf("LoadRules returned shared slices")
	}
	p, _ := b.Profile(ProfileQuick)
	p.Window = D(time.Hour)
	if q, _ := b.Profile(ProfileQuick); q.Window.Duration == time.Hour {
		t.Errorf("Profile returned a shared profile")
	}
}

func TestMinRequestsToPass(t *testing.T) {
	if got := minRequestsToPass(ProbeRules{MinMetShare: 0.90, Confidence: 0.99}); got != 44 {
		t.Errorf("minRequestsToPass(0.90, 0.99) = %d, want 44 (0.9^43 > 0.01 >= 0.9^44)", got)
	}
}

// TestRulesValidate breaks the v1 rules one way at a time.
func TestRulesValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *Rules)
		want   string
	}{
		{"no tiers", func(r *Rules) { r.Tiers = nil }, "tiers: at least one tier"},
		{"duplicate tier", func(r *Rules) { r.Tiers[1].ID = "t20" }, `"t20" appears twice`},
		{"zero rate", func(r *Rules) { r.Tiers[0].MinDecodeRate = 0 }, "min_decode_tok_s: must be positive"},
		{"share above 1", func(r *Rules) { r.Probe.MinMetShare = 1.5 }, "probe.min_met_share"},
		{"confidence 1", func(r *Rules) { r.Probe.Confidence = 1 }, "probe.confidence"},
		{"truncated share above 1", func(r *Rules) { r.Probe.MaxTruncatedShare = 1.01 }, "probe.max_truncated_share"},
		{"truncated share negative", func(r *Rules) { r.Probe.MaxTruncatedShare = -0.1 }, "probe.max_truncated_share"},
		{"top_p 0", func(r *Rules) { r.Sampling.TopP = 0 }, "sampling.top_p"},
		{"sample gap", func(r *Rules) { r.Power.SampleInterval = r.Power.MaxSampleGap }, "sample_interval must be shorter"},
		{"no quick", func(r *Rules) { r.Profiles = r.Profiles[:1] }, `"quick" is missing`},
		{"window too small to pass", func(r *Rules) { r.Profiles[2].MinRequests = 20 }, "min_requests 20 is below 44"},
		{"ready bounds", func(r *Rules) { r.Profiles[1].ReadyTimeout.Max = D(time.Second) }, "ready_timeout.max is shorter"},
		{"cpu share", func(r *Rules) { r.Profiles[0].Client.MaxCPUShare = 0 }, "max_cpu_share"},
		{"no regression threshold", func(r *Rules) { r.Regression.Threshold = 0 }, "regression.threshold"},
		{"regression threshold of 100%", func(r *Rules) { r.Regression.Threshold = 1 }, "regression.threshold"},
		{"no agent cap", func(r *Rules) { r.Profiles[1].MaxAgents = 0 }, "profiles[1] (quick): max_agents must be at least 1"},
		{"kind", func(r *Rules) { r.Kind = "Submission" }, "kind:"},
		{"node gap under its interval", func(r *Rules) { r.Power.Boundaries.Node.MaxSampleGap = D(time.Second) }, "power.boundaries.node.sample_interval must be shorter"},
		{"external interval too long", func(r *Rules) {
			r.Power.Boundaries.External = SampleLimits{SampleInterval: D(time.Minute), MaxSampleGap: D(time.Hour)}
		}, "power.boundaries.external.sample_interval 1m0s"},
		{"node inherits a gap shorter than its interval", func(r *Rules) {
			r.Power.Boundaries.Node = SampleLimits{SampleInterval: D(time.Second)}
		}, "power.boundaries.node.sample_interval must be shorter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := LoadRules("v1")
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("v1 is invalid: %v", err)
			}
			tt.mutate(r)
			err = r.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestDecodeRulesProblems shows that a rules file gets the same strict
// decoding, with positions, as a submission.
func TestDecodeRulesProblems(t *testing.T) {
	data, err := rulesFS.ReadFile("rules/v1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(data), "  min_met_share: 0.90", "  min_met_shar: 0.90", 1)
	_, err = DecodeRules("v1.yaml", []byte(broken))
	if err == nil || !strings.Contains(err.Error(), `probe.min_met_shar: unknown field "min_met_shar" (did you mean "min_met_share"?)`) ||
		!errors.Is(err, ErrInvalid) {
		t.Errorf("got %v", err)
	}
}

func TestModels(t *testing.T) {
	m, err := Models()
	if err != nil {
		t.Fatal(err)
	}
	r, _ := LoadRules("v1")
	if m.Dataset != r.Accuracy.Dataset {
		t.Errorf("models.yaml scores %q, the rules score %q", m.Dataset, r.Accuracy.Dataset)
	}
	sim, ok := m.Lookup(Sim)
	if !ok || sim.Score != 1 || sim.Provisional {
		t.Errorf("Lookup(sim) = %+v, %v; want the oracle's 1.0", sim, ok)
	}
	for _, id := range []string{"deepseek-ai/DeepSeek-V4-Pro", "meta-llama/Llama-3.1-70B-Instruct", "Qwen/Qwen3-235B-A22B"} {
		if ref, ok := m.Lookup(id); !ok || ref.Source == "" {
			t.Errorf("Lookup(%s) = %+v, %v", id, ref, ok)
		}
	}
	m.Models[0].Score = 0
	if again, _ := Models(); again.Models[0].Score == 0 {
		t.Errorf("Models returned a shared slice")
	}
	bad := &ModelRefs{APIVersion: APIVersion, Kind: KindModelReferences, Dataset: "gsm8k",
		Models: []ModelRef{{ID: "a/b", Score: 1.2, Source: "x"}, {ID: "a/b", Score: 0.5}}}
	err = bad.Validate()
	for _, want := range []string{"score: 1.2 is not in (0, 1]", `"a/b" appears twice`, "models[1].source: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
}

// TestProfileDefaultWorkload: a submission that leaves benchmark.workload
// out runs its profile's workload; official runs the whole corpus.
func TestProfileDefaultWorkload(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "valid", "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ profile, want string }{{"quick", "agentic-coding-mini"}, {"official", "agentic-coding"}, {"test", "agentic-coding-mini"}} {
		doc := strings.Replace(string(data), "workload: agentic-coding-sample, ", "", 1)
		doc = strings.Replace(doc, "profile: quick", "profile: "+tc.profile, 1)
		doc = strings.Replace(doc, "ready_timeout: 30s", "ready_timeout: 2m", 1)
		s, err := Parse("m.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.profile, err)
		}
		if s.Benchmark.Workload != tc.want {
			t.Errorf("profile %s: workload %q, want %q", tc.profile, s.Benchmark.Workload, tc.want)
		}
	}
}

// TestPowerLimits: the slow boundaries have their own sampling limits, the
// others the defaults.
func TestPowerLimits(t *testing.T) {
	r, err := LoadRules("v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		boundary      string
		interval, gap time.Duration
	}{
		{BoundaryGPUBoard, 100 * time.Millisecond, 500 * time.Millisecond},
		{BoundarySimulated, 100 * time.Millisecond, 500 * time.Millisecond},
		{"", 100 * time.Millisecond, 500 * time.Millisecond},
		{BoundaryNode, time.Second, 5 * time.Second},
		{BoundaryExternal, time.Second, 5 * time.Second},
	} {
		l := r.Power.Limits(tt.boundary)
		if l.SampleInterval.Duration != tt.interval || l.MaxSampleGap.Duration != tt.gap {
			t.Errorf("Limits(%q) = %v/%v, want %v/%v", tt.boundary, l.SampleInterval.Duration, l.MaxSampleGap.Duration, tt.interval, tt.gap)
		}
	}
	r.Power.Boundaries.Node = SampleLimits{}
	if l := r.Power.Limits(BoundaryNode); l.MaxSampleGap != r.Power.MaxSampleGap {
		t.Errorf("a node boundary the rules leave out got %v, want the default %v", l.MaxSampleGap, r.Power.MaxSampleGap)
	}
}
