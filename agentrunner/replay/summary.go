package replay

import (
	"github.com/agentwatt/agentwatt/bundle"

	"context"
	"errors"

	"github.com/agentwatt/agentwatt/workload"
)

// Run modes, as written in summary.json.
const (
	ModeSearch = "search" // Runner.Search
	ModeFixed  = "fixed"  // Runner.Fixed
)

// SummaryFormat names summary.json's format.
const SummaryFormat = "agentwatt-bench-summary"

// Summary is summary.json: the replay client's own account of a run. It is a
// claim computed from the records with package metrics; the verifier
// recomputes it from requests.jsonl.zst and probes.json and never trusts it.
type Summary struct {
	Format       string                `json:"format"`
	Version      int                   `json:"version"`
	Mode         string                `json:"mode"`
	Rules        string                `json:"rules"`
	Profile      string                `json:"profile"`
	Endpoint     string                `json:"endpoint"`
	Model        string                `json:"model"`
	Workload     WorkloadRef           `json:"workload"`
	Seed         uint64                `json:"seed"`
	History      string                `json:"history"` // HistoryRecorded or HistoryLive
	ChatTemplate workload.ChatTemplate `json:"chat_template"`
	// Interrupted: the run was stopped before it finished; Error says why a
	// run ended early.
	Interrupted bool                   `json:"interrupted"`
	Error       string                 `json:"error,omitempty"`
	Tiers       map[string]TierSummary `json:"tiers"`
	Probes      []ProbeSummary         `json:"probes"`
}

// WorkloadRef names the replayed workload.
type WorkloadRef struct {
	Name   string          `json:"name"`
	Digest workload.Digest `json:"digest"`
}

// TierSummary is one tier's result.
type TierSummary struct {
	// MaxAgents is N_max (0 when no N passed); Confirmed says it passed
	// 1 + the rules' confirmations windows.
	MaxAgents int  `json:"max_agents"`
	Confirmed bool `json:"confirmed"`
	// The tier's definition, from the rules.
	MinDecodeTPS float64 `json:"min_decode_tok_s"`
	MaxTTFTS     float64 `json:"max_ttft_s"`
	// N0 is the calibrated start of the search.
	N0 int `json:"n0,omitempty"`
	// Probes lists the probes at N_max that passed; ConfirmationProbe is the
	// last of them, whose window's energy a runner reports (null: none).
	Probes            []int  `json:"probes"`
	ConfirmationProbe *int   `json:"confirmation_probe"`
	Reason            string `json:"reason,omitempty"`
}

// ProbeSummary is one probe's figures (metrics.ProbeResult, flattened).
type ProbeSummary struct {
	Probe        int     `json:"probe"`
	Purpose      string  `json:"purpose"`
	Agents       int     `json:"agents"`
	WindowS      float64 `json:"window_s"`
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	Truncated    int     `json:"truncated"`
	TTFTP50S     float64 `json:"ttft_p50_s"`
	TTFTP90S     float64 `json:"ttft_p90_s"`
	DecodeTPSP10 float64 `json:"decode_tps_p10"`
	DecodeTPSP50 float64 `json:"decode_tps_p50"`
	// CachedTokenShare is null when the server never reported cached_tokens.
	CachedTokenShare    *float64             `json:"cached_token_share"`
	ActiveSessions      float64              `json:"active_sessions"`
	InFlight            float64              `json:"in_flight"`
	OutputTokensPerS    float64              `json:"output_tokens_per_s"`
	Client              bundle.ClientSummary `json:"client"`
	Tiers               map[string]ProbeTier `json:"tiers"`
	Valid               bool                 `json:"valid"`
	InvalidReasons      []string             `json:"invalid_reasons"`
	Conclusive          bool                 `json:"conclusive"`
	InconclusiveReasons []string             `json:"inconclusive_reasons"`
}

// ProbeTier is one tier's verdict in a probe. MetShareLower99 is the
// one-sided Clopper–Pearson lower bound at the rules' confidence (99% in
// rules v1).
type ProbeTier struct {
	MetShare        float64  `json:"met_share"`
	MetShareLower99 float64  `json:"met_share_lower99"`
	AgentShare      float64  `json:"agent_share"`
	Passed          bool     `json:"passed"`
	Reasons         []string `json:"reasons"`
}

// summary builds summary.json from the probes and the tiers' outcomes.
func (r *Runner) summary(mode string, outcomes []TierOutcome, err error) *Summary {
	w := r.cfg.Workload
	s := &Summary{
		Format: SummaryFormat, Version: 1, Mode: mode,
		Rules: r.cfg.Rules.Version, Profile: r.cfg.Profile.Name,
		Endpoint: r.cfg.Endpoint, Model: r.Model(),
		Workload: WorkloadRef{Name: w.Header.Name, Digest: w.Digest},
		Seed:     r.seed, History: r.cfg.History, ChatTemplate: r.cfg.Template,
		Interrupted: errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded),
		Tiers:       make(map[string]TierSummary, len(outcomes)),
		Probes:      []ProbeSummary{},
	}
	if err != nil {
		s.Error = err.Error()
	}
	for _, o := range outcomes {
		t := r.tierRules(o.Tier)
		ts := TierSummary{
			MaxAgents: o.MaxAgents, Confirmed: o.Confirmed,
			MinDecodeTPS: t.MinDecodeRate, MaxTTFTS: t.MaxTTFT.Seconds(),
			N0: o.N0, Probes: append([]int{}, o.PassingProbes...), Reason: o.Reason,
		}
		if o.ConfirmationProbe >= 0 {
			p := o.ConfirmationProbe
			ts.ConfirmationProbe = &p
		}
		s.Tiers[o.Tier] = ts
	}
	for _, p := range r.Probes() {
		s.Probes = append(s.Probes, probeSummary(&p))
	}
	return s
}

func probeSummary(p *bundle.ProbeRecord) ProbeSummary {
	res := &p.Result
	ps := ProbeSummary{
		Probe: p.Probe, Purpose: p.Purpose, Agents: p.Agents, WindowS: res.WindowS,
		Requests: res.Requests, Errors: res.Errors, Truncated: res.Truncated,
		TTFTP50S: res.TTFTP50S, TTFTP90S: res.TTFTP90S, DecodeTPSP10: res.DecodeTPSP10, DecodeTPSP50: res.DecodeTPSP50,
		ActiveSessions: res.ActiveSessions, InFlight: res.InFlight, OutputTokensPerS: res.OutputTokensPerS,
		Client: bundle.ClientSummaryOf(p.Client),
		Tiers:  make(map[string]ProbeTier, len(res.Tiers)),
		Valid:  res.Valid, InvalidReasons: nonNil(res.InvalidReasons),
		Conclusive: res.Conclusive, InconclusiveReasons: nonNil(res.InconclusiveReasons),
	}
	if res.CachedReported > 0 {
		v := res.CachedTokenShare
		ps.CachedTokenShare = &v
	}
	for _, t := range res.Tiers {
		ps.Tiers[t.Tier] = ProbeTier{
			MetShare: t.MetShare, MetShareLower99: t.MetShareLower, AgentShare: t.AgentShare,
			Passed: t.Passed, Reasons: nonNil(t.Reasons),
		}
	}
	return ps
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
