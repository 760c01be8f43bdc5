package spec

import (
	"embed"
	"errors"
	"fmt"
	"strings"
)

// KindRules is the kind of a rules file.
const KindRules = "Rules"

// Profile names every rules version defines.
const (
	ProfileOfficial = "official"
	ProfileQuick    = "quick"
	ProfileTest     = "test"
)

var (
	// ErrUnknownRules is returned for a rules version with no file.
	ErrUnknownRules = errors.New("unknown rules version")
	// ErrUnknownProfile is returned for a profile the rules do not define.
	ErrUnknownProfile = errors.New("unknown profile")
)

//go:embed rules/*.yaml
var rulesFS embed.FS

// Rules are the benchmark rules of one version (rules/<version>.yaml): every
// number the runner, the replay library and the verifier use to judge a run.
// No other code hard-codes one of them. Shares are fractions in [0, 1].
type Rules struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Version is the file's version, e.g. "v1"; submissions name it.
	Version string `json:"version"`
	// Tiers are the service levels a submission can be measured at.
	Tiers []Tier `json:"tiers"`
	// Probe says when a probe at N agents passes a tier.
	Probe ProbeRules `json:"probe"`
	// Sampling fixes the sampling parameters sent on every request.
	Sampling Sampling `json:"sampling"`
	// Search steers the capacity search.
	Search SearchRules `json:"search"`
	// Power bounds the power measurement.
	Power PowerRules `json:"power"`
	// Verify holds the verifier's tolerances.
	Verify VerifyRules `json:"verify"`
	// Accuracy is the accuracy gate run before the performance phase.
	Accuracy AccuracyRules `json:"accuracy"`
	// Regression says when a result is flagged against the previous
	// framework version's (publication only: it judges no run).
	Regression RegressionRules `json:"regression"`
	// Profiles are official, quick and test.
	Profiles []Profile `json:"profiles"`
}

// Tier is one service level. A request meets it iff its TTFT ≤ MaxTTFT and
// its decode rate ≥ MinDecodeRate, one joint test; a request with at most
// one output token is judged on TTFT alone.
type Tier struct {
	// ID names the tier in submissions and results, e.g. "t20".
	ID string `json:"id"`
	// MinDecodeRate is the least decode rate, output tokens per second.
	MinDecodeRate float64 `json:"min_decode_tok_s"`
	// MaxTTFT is the longest time to first token.
	MaxTTFT Duration `json:"max_ttft"`
}

// ProbeRules says when a probe (a window at N agent sessions) passes a tier:
// all of the conditions hold.
type ProbeRules struct {
	// MinMetShare: the one-sided Confidence Clopper–Pearson lower bound of
	// the share of window requests meeting the tier must be at least this.
	MinMetShare float64 `json:"min_met_share"`
	// Confidence of that lower bound (0.99: a one-sided 99% bound).
	Confidence float64 `json:"confidence"`
	// AgentMedianShare: at least this share of agents must meet the tier on
	// their median window request.
	AgentMedianShare float64 `json:"agent_median_share"`
	// EveryAgentCompletes: every agent must complete a request in the window.
	EveryAgentCompletes bool `json:"every_agent_completes"`
	// MaxErrorShare is the largest share of errored window requests.
	MaxErrorShare float64 `json:"max_error_share"`
	// MaxTruncatedShare is the largest share of truncated answers: window
	// requests the engine ended before the forced output length (status
	// truncated), counted among the answered (not errored) window requests
	// of every measured probe. The verifier judges it over the whole run.
	MaxTruncatedShare float64 `json:"max_truncated_share"`
	// ActiveSessionTolerance: the time-averaged number of active sessions
	// must be within this share of N.
	ActiveSessionTolerance float64 `json:"active_session_tolerance"`
}

// Sampling holds the sampling parameters sent on every request (greedy, so
// that accuracy and output text are reproducible; output lengths are forced
// with max_tokens = min_tokens and ignore_eos regardless).
type Sampling struct {
	Temperature float64 `json:"temperature"`
	TopP        float64 `json:"top_p"`
}

// SearchRules steer the capacity search: double N until a probe fails, then
// bisect until the bracket is at most max(MinStep, Precision × N), then
// confirm N_max with Confirmations more windows.
type SearchRules struct {
	Precision     float64 `json:"precision"`
	MinStep       int     `json:"min_step"`
	Confirmations int     `json:"confirmations"`
}

// PowerRules bound the power measurement of a window.
type PowerRules struct {
	// SampleInterval is the sampler's period (at least 10 Hz).
	SampleInterval Duration `json:"sample_interval"`
	// MaxSampleGap is the largest gap between two samples in a window.
	MaxSampleGap Duration `json:"max_sample_gap"`
	// CrossCheckTolerance: the energy counter's change and the integral of
	// sampled instantaneous power must agree within this share.
	CrossCheckTolerance float64 `json:"cross_check_tolerance"`
	// Boundaries set the sampling limits of the slower power boundaries:
	// a BMC (node) or a meter (external) updates about once a second and
	// answers in hundreds of milliseconds, so it is sampled at its own rate
	// and held to its own gap. A boundary not named here (gpu-board,
	// simulated) takes SampleInterval and MaxSampleGap above.
	Boundaries BoundaryRules `json:"boundaries"`
}

// BoundaryRules are the per-boundary sampling limits (PowerRules.Limits).
type BoundaryRules struct {
	Node     SampleLimits `json:"node"`
	External SampleLimits `json:"external"`
}

// SampleLimits are a boundary's sampling period and largest allowed gap
// between two valid samples of a series.
type SampleLimits struct {
	SampleInterval Duration `json:"sample_interval"`
	MaxSampleGap   Duration `json:"max_sample_gap"`
}

// Power boundaries: what a result's energy covers.
const (
	// BoundaryGPUBoard: the GPU boards (NVML, amdgpu).
	BoundaryGPUBoard = "gpu-board"
	// BoundaryNode: the whole node at its power supplies (the BMC, Redfish).
	BoundaryNode = "node"
	// BoundaryExternal: what an external meter or PDU outlet measures.
	BoundaryExternal = "external"
	// BoundarySimulated: the sim engine's, no hardware.
	BoundarySimulated = "simulated"
)

// Limits are the sampling limits of a power boundary: the boundary's own
// where the rules set them, else the default SampleInterval and
// MaxSampleGap.
func (p PowerRules) Limits(boundary string) SampleLimits {
	var l SampleLimits
	switch boundary {
	case BoundaryNode:
		l = p.Boundaries.Node
	case BoundaryExternal:
		l = p.Boundaries.External
	}
	if l.SampleInterval.Duration == 0 {
		l.SampleInterval = p.SampleInterval
	}
	if l.MaxSampleGap.Duration == 0 {
		l.MaxSampleGap = p.MaxSampleGap
	}
	return l
}

// VerifyRules are the verifier's tolerances.
type VerifyRules struct {
	// PromptTokens: a request's prompt_tokens must be within
	// max(Share × target, Tokens) of its target.
	PromptTokens TokenTolerance `json:"prompt_tokens"`
	// RunnerClaimTolerance: a runner's summary figure may differ from the
	// recomputed one by at most this share (any pass/fail difference
	// rejects).
	RunnerClaimTolerance float64 `json:"runner_claim_tolerance"`
	// ChunkTimingSampleShare is the share of requests (a seeded sample) whose
	// records keep the arrival offset of every chunk.
	ChunkTimingSampleShare float64 `json:"chunk_timing_sample_share"`
}

// TokenTolerance is max(Share × target, Tokens).
type TokenTolerance struct {
	Share  float64 `json:"share"`
	Tokens int     `json:"tokens"`
}

// AccuracyRules define the accuracy gate.
type AccuracyRules struct {
	// Dataset is the accuracy set, e.g. "gsm8k" (its test split, greedy).
	Dataset string `json:"dataset"`
	// MinFraction: the score must reach this fraction of the model's
	// reference score (models.yaml).
	MinFraction float64 `json:"min_fraction"`
	// MaxOutputTokens caps the answer to one question.
	MaxOutputTokens int `json:"max_output_tokens"`
}

// RegressionRules: a published result whose Agents/MW differs from the
// previous framework version's by more than the larger of Threshold and
// the results' spread is a regression or an improvement
// (metrics.VersionChange).
type RegressionRules struct {
	// Threshold is the least relative change flagged, a share (0.05: 5%).
	Threshold float64 `json:"threshold"`
}

// Profile is a set of per-run settings: official (published as hardware
// results), quick (demos, local runs) and test (CI).
type Profile struct {
	Name string `json:"name"`
	// Window is the least duration of a measurement window.
	Window Duration `json:"window"`
	// MinRequests is the least number of requests sent in a window. The
	// window is extended until both Window and MinRequests hold.
	MinRequests int `json:"min_requests"`
	// MaxWindow is how long a window may be extended; a window that cannot
	// reach MinRequests by then is inconclusive (not failed).
	MaxWindow Duration `json:"max_window"`
	// Settle is the pause after N changes, before warm-up.
	Settle Duration `json:"settle"`
	// MaxWarmup bounds warm-up (until every agent completed a request); past
	// it the probe is inconclusive.
	MaxWarmup Duration `json:"max_warmup"`
	// ThinkTimeCap caps the recorded think/tool time replayed between turns.
	ThinkTimeCap Duration `json:"think_time_cap"`
	// MaxAgents is the most agents a capacity search under this profile
	// probes (and a fixed run may judge): above it a search reports
	// N_max ≥ MaxAgents, unresolved, instead of growing on.
	MaxAgents int `json:"max_agents"`
	// AccuracyQuestions is the size of the accuracy subset (the first
	// questions of the dataset's test split).
	AccuracyQuestions int `json:"accuracy_questions"`
	// Workload is the workload (a name, not pinned) a submission under this
	// profile runs when it leaves benchmark.workload out.
	Workload string `json:"workload"`
	// Client holds the load generator's health limits; a probe whose client
	// exceeded one is invalid.
	Client ClientLimits `json:"client"`
	// ReadyTimeout bounds a submission's engine.ready_timeout.
	ReadyTimeout DurationRange `json:"ready_timeout"`
}

// ClientLimits are the health limits of the load generator during a window.
type ClientLimits struct {
	// MaxSchedLagP99 bounds the p99 lateness of a ticker in the client.
	MaxSchedLagP99 Duration `json:"max_sched_lag_p99"`
	// MaxCPUShare bounds the client's CPU use as a share of its CPU set.
	MaxCPUShare float64 `json:"max_cpu_share"`
}

// DurationRange is an inclusive range of durations.
type DurationRange struct {
	Min Duration `json:"min"`
	Max Duration `json:"max"`
}

// Contains reports whether Min ≤ d ≤ Max.
func (r DurationRange) Contains(d Duration) bool {
	return d.Duration >= r.Min.Duration && d.Duration <= r.Max.Duration
}

// Tier returns the tier with id.
func (r *Rules) Tier(id string) (Tier, bool) {
	for _, t := range r.Tiers {
		if t.ID == id {
			return t, true
		}
	}
	return Tier{}, false
}

// TierIDs lists the tier ids in file order.
func (r *Rules) TierIDs() []string {
	ids := make([]string, len(r.Tiers))
	for i, t := range r.Tiers {
		ids[i] = t.ID
	}
	return ids
}

// Profile returns the profile called name (a copy).
func (r *Rules) Profile(name string) (*Profile, error) {
	for _, p := range r.Profiles {
		if p.Name == name {
			return &p, nil
		}
	}
	return nil, fmt.Errorf("%w %q in rules %s (known: %s)", ErrUnknownProfile, name, r.Version, strings.Join(r.ProfileNames(), ", "))
}

// ProfileNames lists the profile names in file order.
func (r *Rules) ProfileNames() []string {
	names := make([]string, len(r.Profiles))
	for i, p := range r.Profiles {
		names[i] = p.Name
	}
	return names
}
