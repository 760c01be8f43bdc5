package spec

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"
)

// Validate checks that the rules are complete and consistent.
func (r *Rules) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	share := func(name string, v float64, allowZero bool) {
		if math.IsNaN(v) || v > 1 || v < 0 || (!allowZero && v == 0) {
			bad("%s: %v is not a share in (0, 1]", name, v)
		}
	}
	positive := func(name string, d Duration) {
		if d.Duration <= 0 {
			bad("%s: must be positive", name)
		}
	}
	if r.APIVersion != APIVersion {
		bad("apiVersion: want %q, got %q", APIVersion, r.APIVersion)
	}
	if r.Kind != KindRules {
		bad("kind: want %q, got %q", KindRules, r.Kind)
	}
	if !reVersion.MatchString(r.Version) {
		bad("version: %q is not like v1", r.Version)
	}
	if len(r.Tiers) == 0 {
		bad("tiers: at least one tier is needed")
	}
	ids := map[string]bool{}
	for i, t := range r.Tiers {
		if !reTierID.MatchString(t.ID) {
			bad("tiers[%d].id: %q is not a tier id (lower-case letters and digits)", i, t.ID)
		}
		if ids[t.ID] {
			bad("tiers[%d].id: %q appears twice", i, t.ID)
		}
		ids[t.ID] = true
		if !(t.MinDecodeRate > 0) || math.IsInf(t.MinDecodeRate, 0) {
			bad("tiers[%d].min_decode_tok_s: must be positive", i)
		}
		positive(fmt.Sprintf("tiers[%d].max_ttft", i), t.MaxTTFT)
	}
	p := r.Probe
	share("probe.min_met_share", p.MinMetShare, false)
	if !(p.Confidence > 0 && p.Confidence < 1) {
		bad("probe.confidence: %v is not in (0, 1)", p.Confidence)
	}
	share("probe.agent_median_share", p.AgentMedianShare, false)
	share("probe.max_error_share", p.MaxErrorShare, true)
	share("probe.max_truncated_share", p.MaxTruncatedShare, true)
	share("probe.active_session_tolerance", p.ActiveSessionTolerance, true)
	if !(r.Sampling.Temperature >= 0 && r.Sampling.Temperature <= 2) {
		bad("sampling.temperature: %v is not in [0, 2]", r.Sampling.Temperature)
	}
	share("sampling.top_p", r.Sampling.TopP, false)
	share("search.precision", r.Search.Precision, false)
	if t := r.Regression.Threshold; math.IsNaN(t) || t <= 0 || t >= 1 {
		bad("regression.threshold: %v is not a share in (0, 1)", t)
	}
	if r.Search.MinStep < 1 {
		bad("search.min_step: must be at least 1")
	}
	if r.Search.Confirmations < 1 {
		bad("search.confirmations: must be at least 1")
	}
	positive("power.sample_interval", r.Power.SampleInterval)
	positive("power.max_sample_gap", r.Power.MaxSampleGap)
	if r.Power.SampleInterval.Duration >= r.Power.MaxSampleGap.Duration {
		bad("power.sample_interval must be shorter than power.max_sample_gap")
	}
	share("power.cross_check_tolerance", r.Power.CrossCheckTolerance, false)
	for _, b := range []string{BoundaryNode, BoundaryExternal} {
		l := r.Power.Limits(b)
		at := "power.boundaries." + b
		switch {
		case l.SampleInterval.Duration < 0 || l.MaxSampleGap.Duration < 0:
			bad("%s: durations must not be negative", at)
		case l.SampleInterval.Duration > 10*time.Second:
			bad("%s.sample_interval %v: want at most 10s", at, l.SampleInterval.Duration)
		case l.SampleInterval.Duration >= l.MaxSampleGap.Duration:
			bad("%s.sample_interval must be shorter than its max_sample_gap", at)
		}
	}
	share("verify.prompt_tokens.share", r.Verify.PromptTokens.Share, true)
	if r.Verify.PromptTokens.Tokens < 0 {
		bad("verify.prompt_tokens.tokens: must not be negative")
	}
	share("verify.runner_claim_tolerance", r.Verify.RunnerClaimTolerance, true)
	share("verify.chunk_timing_sample_share", r.Verify.ChunkTimingSampleShare, true)
	if r.Accuracy.Dataset == "" {
		bad("accuracy.dataset: required")
	}
	share("accuracy.min_fraction", r.Accuracy.MinFraction, false)
	if r.Accuracy.MaxOutputTokens < 1 {
		bad("accuracy.max_output_tokens: must be at least 1")
	}
	names := map[string]bool{}
	for i, pr := range r.Profiles {
		at := fmt.Sprintf("profiles[%d] (%s)", i, pr.Name)
		if names[pr.Name] {
			bad("%s: name appears twice", at)
		}
		names[pr.Name] = true
		errs = append(errs, pr.validate(at, r.Probe)...)
	}
	for _, want := range []string{ProfileOfficial, ProfileQuick, ProfileTest} {
		if !names[want] {
			bad("profiles: %q is missing", want)
		}
	}
	return errors.Join(errs...)
}

// reProfileWorkload is a workload name without a digest (workload.ValidName).
var reProfileWorkload = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func (pr Profile) validate(at string, probe ProbeRules) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(at+": "+format, args...)) }
	if !reProfileName.MatchString(pr.Name) {
		bad("name %q is not a profile name", pr.Name)
	}
	for name, d := range map[string]Duration{
		"window": pr.Window, "max_window": pr.MaxWindow, "settle": pr.Settle,
		"max_warmup": pr.MaxWarmup, "think_time_cap": pr.ThinkTimeCap,
		"client.max_sched_lag_p99": pr.Client.MaxSchedLagP99,
		"ready_timeout.min":        pr.ReadyTimeout.Min,
	} {
		if d.Duration <= 0 {
			bad("%s must be positive", name)
		}
	}
	if pr.MaxWindow.Duration < pr.Window.Duration {
		bad("max_window is shorter than window")
	}
	if pr.ReadyTimeout.Max.Duration < pr.ReadyTimeout.Min.Duration {
		bad("ready_timeout.max is shorter than ready_timeout.min")
	}
	if pr.MaxAgents < 1 {
		bad("max_agents must be at least 1")
	}
	if !reProfileWorkload.MatchString(pr.Workload) {
		bad("workload %q is not a workload name", pr.Workload)
	}
	if pr.AccuracyQuestions < 1 {
		bad("accuracy_questions must be at least 1")
	}
	if !(pr.Client.MaxCPUShare > 0 && pr.Client.MaxCPUShare <= 1) {
		bad("client.max_cpu_share %v is not a share in (0, 1]", pr.Client.MaxCPUShare)
	}
	// With n requests all meeting the tier, the one-sided Clopper–Pearson
	// lower bound is (1-confidence)^(1/n). A window smaller than the n where
	// that reaches min_met_share could never pass, whatever the engine.
	if need := minRequestsToPass(probe); pr.MinRequests < need {
		bad("min_requests %d is below %d, the fewest requests with which a window can pass (min_met_share %v at confidence %v)",
			pr.MinRequests, need, probe.MinMetShare, probe.Confidence)
	}
	return errs
}

func minRequestsToPass(p ProbeRules) int {
	if !(p.MinMetShare > 0 && p.MinMetShare < 1 && p.Confidence > 0 && p.Confidence < 1) {
		return 1
	}
	return int(math.Ceil(math.Log(1-p.Confidence) / math.Log(p.MinMetShare)))
}
