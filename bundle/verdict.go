package bundle

import (
	"encoding/json"
	"fmt"
	"time"
)

// VerdictSchemaVersion is the version of verdict.json this build writes.
const VerdictSchemaVersion = 1

// Verdict statuses.
const (
	StatusVerified = "verified"
	StatusRejected = "rejected"
)

// Check is one rule's outcome.
type Check struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	// Reason says why it failed (every failure, "; "-joined), or for a
	// passed check what it measured.
	Reason string `json:"reason,omitempty"`
	// Reasons lists every failure; Reason is their join.
	Reasons []string `json:"reasons,omitempty"`
	// Informational checks are reported and never reject.
	Informational bool `json:"informational,omitempty"`
}

// Verdict is verdict.json: what the verifier concluded about one bundle,
// written beside it, outside the signed set.
type Verdict struct {
	SchemaVersion int       `json:"schema_version"`
	Status        string    `json:"status"` // StatusVerified or StatusRejected
	Job           string    `json:"job"`
	Attempt       int       `json:"attempt"`
	VerifiedAt    time.Time `json:"verified_at"`
	// Runner, Rules, Workload and Simulated are taken from the signed
	// manifest (empty when integrity failed before it could be read).
	Runner         string `json:"runner,omitempty"`
	RunnerKeyID    string `json:"runner_key_id,omitempty"`
	RulesVersion   string `json:"rules_version,omitempty"`
	Profile        string `json:"profile,omitempty"`
	WorkloadName   string `json:"workload_name,omitempty"`
	WorkloadDigest string `json:"workload_digest,omitempty"`
	SpecDigest     string `json:"spec_digest,omitempty"`
	// Pool is the job record's pool when the queue was asked, else the
	// manifest's (empty in a version 1 manifest).
	Pool      string   `json:"pool,omitempty"`
	Simulated bool     `json:"simulated"`
	Checks    []Check  `json:"checks"`
	Results   *Results `json:"results,omitempty"` // the recomputed figures
}

// Results are the figures the verifier recomputed: what publication shows.
type Results struct {
	Model         string       `json:"model,omitempty"`
	PowerBoundary string       `json:"power_boundary,omitempty"`
	GPUs          int          `json:"gpus"`
	IdlePowerW    float64      `json:"idle_power_w,omitempty"`
	Accuracy      float64      `json:"accuracy"`
	AccuracyN     int          `json:"accuracy_questions"`
	Requests      int          `json:"requests"`
	Tiers         []TierResult `json:"tiers"`
	// SpecDecoding is the speculative-decoding acceptance of each window
	// with draft tokens, from engine-metrics.jsonl.zst: the engine's own
	// counters, reported and never judged.
	SpecDecoding []SpecWindow `json:"spec_decoding,omitempty"`
	// Deployment is "external" for an engine its operator deployed (the
	// runner only drove it), from the job's spec; left out when the runner
	// launched it.
	Deployment string `json:"deployment,omitempty"`
}

// SpecWindow is one window's speculative-decoding acceptance
// (metrics.SpecAcceptance) and the draft tokens it is over.
type SpecWindow struct {
	Probe       int     `json:"probe"`
	Acceptance  float64 `json:"acceptance"`
	DraftTokens float64 `json:"draft_tokens"`
}

// TierResult is one tier's recomputed outcome; the figures after
// ConfirmProbe are those of the confirmation window at MaxAgents.
type TierResult struct {
	Tier             string  `json:"tier"`
	MinDecodeTPS     float64 `json:"min_decode_tps"`
	MaxTTFTS         float64 `json:"max_ttft_s"`
	MaxAgents        int     `json:"max_agents"`
	Confirmed        bool    `json:"confirmed"`
	ConfirmProbe     int     `json:"confirm_probe"` // -1 without one
	WindowS          float64 `json:"window_s,omitempty"`
	OutputTokensPerS float64 `json:"output_tokens_per_s,omitempty"`
	EnergyJ          float64 `json:"energy_j,omitempty"`
	AvgPowerW        float64 `json:"avg_power_w,omitempty"`
	AgentsPerMW      float64 `json:"agents_per_mw,omitempty"`
	AgentsPerGPU     float64 `json:"agents_per_gpu,omitempty"`
	JoulesPerToken   float64 `json:"joules_per_token,omitempty"`
	// Repeats is the recomputed spread over the windows at MaxAgents
	// (benchmark.repeats > 1); nil for a run of one.
	Repeats *RepeatSpread `json:"repeats,omitempty"`
}

// Verified reports whether every judged check passed.
func (v *Verdict) Verified() bool { return v.Status == StatusVerified }

// Check returns the check called name.
func (v *Verdict) Check(name string) (Check, bool) {
	for _, c := range v.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Failed lists the judged checks that failed.
func (v *Verdict) Failed() []Check {
	var out []Check
	for _, c := range v.Checks {
		if !c.Passed && !c.Informational {
			out = append(out, c)
		}
	}
	return out
}

// Marshal is verdict.json: indented, trailing newline.
func (v *Verdict) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode verdict: %w", err)
	}
	return append(b, '\n'), nil
}

// DecodeVerdict reads verdict.json.
func DecodeVerdict(data []byte) (*Verdict, error) {
	var v Verdict
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", VerdictFile, err)
	}
	if v.SchemaVersion != VerdictSchemaVersion {
		return nil, fmt.Errorf("%s: schema_version %d, want %d", VerdictFile, v.SchemaVersion, VerdictSchemaVersion)
	}
	return &v, nil
}
