package verifier

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// VerdictSchemaVersion is the version of verdict.json this build writes.
const VerdictSchemaVersion = 1

// Verdict statuses.
const (
	StatusVerified = "verified"
	StatusRejected = "rejected"
)

// Names of the checks, in the order Verify runs them. Tests and the site
// branch on them; the values are stable.
const (
	CheckIntegrity    = "integrity"     // files, digests, signature by an enrolled key
	CheckKeyScope     = "key_scope"     // the signing key may sign results of this pool; sim agrees with inventory and power
	CheckAttempt      = "attempt"       // the bundle's attempt is the job's current one
	CheckJob          = "job"           // the manifest matches the job's record: spec, pool, profile, workload, rules, runner
	CheckRecords      = "records"       // records decode, clock order, chunk timings agree
	CheckTargets      = "prompt_tokens" // prompt_tokens within tolerance of the workload's target
	CheckForced       = "forced_lengths"
	CheckProbes       = "probes" // per-probe recomputation equals the summary
	CheckTiers        = "tiers"  // max agents, confirmation, headline figures
	CheckWindows      = "window_lengths"
	CheckErrorShare   = "error_share"
	CheckClientHealth = "client_health" // in-flight fidelity and the client's self-check
	CheckPower        = "power"         // gaps, resets, cross-check, bounds
	CheckAccuracy     = "accuracy"
	CheckCachedShare  = "cached_token_share" // reported, never judged
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

// Verdict is verdict.json: what the verifier concluded about one bundle.
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
		return nil, fmt.Errorf("%s: %w", "verdict.json", err)
	}
	if v.SchemaVersion != VerdictSchemaVersion {
		return nil, fmt.Errorf("verdict.json: schema_version %d, want %d", v.SchemaVersion, VerdictSchemaVersion)
	}
	return &v, nil
}

// checkList builds the verdict's checks.
type checkList struct{ checks []Check }

// add records a check that passed iff fails is empty; note describes a pass.
func (l *checkList) add(name string, fails []string, note string) {
	c := Check{Name: name, Passed: len(fails) == 0, Reasons: fails}
	if c.Passed {
		c.Reason = note
	} else {
		c.Reason = joinCapped(fails, 20)
	}
	l.checks = append(l.checks, c)
}

// has reports whether a check called name was recorded.
func (l *checkList) has(name string) bool {
	for _, c := range l.checks {
		if c.Name == name {
			return true
		}
	}
	return false
}

// failed lists the judged checks that failed so far.
func (l *checkList) failed() []Check {
	return (&Verdict{Checks: l.checks}).Failed()
}

func (l *checkList) info(name, note string) {
	l.checks = append(l.checks, Check{Name: name, Passed: true, Reason: note, Informational: true})
}

// joinCapped joins at most n reasons and says how many more there were.
func joinCapped(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, "; ")
	}
	return strings.Join(s[:n], "; ") + fmt.Sprintf("; … and %d more", len(s)-n)
}

// capped keeps a failure list bounded: a bundle with a million bad records
// does not produce a million reasons.
type capped struct {
	list  []string
	extra int
	max   int
}

func (c *capped) addf(format string, args ...any) {
	if c.max == 0 {
		c.max = 50
	}
	if len(c.list) >= c.max {
		c.extra++
		return
	}
	c.list = append(c.list, fmt.Sprintf(format, args...))
}

func (c *capped) reasons() []string {
	if c.extra == 0 {
		return c.list
	}
	return append(c.list, fmt.Sprintf("… and %d more", c.extra))
}
