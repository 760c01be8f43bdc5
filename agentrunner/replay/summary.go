package replay

import (
	"context"
	"errors"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/workload"
)

// Run modes, as written in summary.json.
const (
	ModeSearch = "search" // Runner.Search
	ModeFixed  = "fixed"  // Runner.Fixed
)

// SummaryFormat names summary.json's format; SummaryVersion is the
// version this build writes.
//
// Version 2 gives each probe the shape of a bundle's summary.json probe
// (bundle.ProbeSummary): "probe" is now "index", "purpose" is "role", the
// probe's "tier", "window_start_ns" and "window_end_ns" are added,
// "cached_token_share" is a number (0 when the server never reported cached
// tokens; probes.json's result.cached_reported counts the requests that
// did) and a tier's "reasons" are left out when it passed.
const (
	SummaryFormat  = "agentwatt-bench-summary"
	SummaryVersion = 2
)

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
	Probes      []bundle.ProbeSummary  `json:"probes"`
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
	Probes            []int `json:"probes"`
	ConfirmationProbe *int  `json:"confirmation_probe"`
	// RepeatProbes are the tier's repeat probes at N_max
	// (benchmark.repeats), whatever they measured; Repeats is the spread of
	// the met share over them and the confirmation window (no power here:
	// the runner adds Agents/MW in the bundle's summary.json).
	RepeatProbes []int                `json:"repeat_probes,omitempty"`
	Repeats      *bundle.RepeatSpread `json:"repeats,omitempty"`
	Reason       string               `json:"reason,omitempty"`
}

// summary builds summary.json from the probes and the tiers' outcomes.
func (r *Runner) summary(mode string, outcomes []TierOutcome, err error) *Summary {
	w := r.cfg.Workload
	s := &Summary{
		Format: SummaryFormat, Version: SummaryVersion, Mode: mode,
		Rules: r.cfg.Rules.Version, Profile: r.cfg.Profile.Name,
		Endpoint: r.cfg.Endpoint, Model: r.Model(),
		Workload: WorkloadRef{Name: w.Header.Name, Digest: w.Digest},
		Seed:     r.seed, History: r.cfg.History, ChatTemplate: r.cfg.Template,
		Interrupted: errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded),
		Tiers:       make(map[string]TierSummary, len(outcomes)),
		Probes:      []bundle.ProbeSummary{},
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
			RepeatProbes: o.RepeatProbes,
		}
		if o.ConfirmationProbe >= 0 {
			p := o.ConfirmationProbe
			ts.ConfirmationProbe = &p
		}
		s.Tiers[o.Tier] = ts
	}
	for _, p := range r.Probes() {
		ps := bundle.ProbeSummaryOf(p.Probe, p.Result, p.WindowStartNs, p.WindowEndNs, p.Client)
		ps.Tier, ps.Role = p.Tier, p.Purpose
		s.Probes = append(s.Probes, ps)
	}
	for _, o := range outcomes {
		if ts := s.Tiers[o.Tier]; ts.ConfirmationProbe != nil && len(o.RepeatProbes) > 0 {
			ts.Repeats = bundle.RepeatSpreadOfProbes(o.Tier, o.MaxAgents, *ts.ConfirmationProbe, o.RepeatProbes, s.Probes)
			s.Tiers[o.Tier] = ts
		}
	}
	return s
}
