package metrics

import (
	"math"
	"time"
)

// ProbeRules are the numbers a probe is judged by. They come from the rules
// file's profile; the caller maps them in, this package hard-codes none.
type ProbeRules struct {
	Confidence      float64       // one-sided confidence of the Clopper–Pearson bound, e.g. 0.99
	MinMetShare     float64       // (a) the bound on the share of requests meeting the tier must reach this
	MinAgentShare   float64       // (b) share of the N agents that must meet the tier on their median request
	MaxErrorShare   float64       // (c) largest share of errored window requests
	ActiveTolerance float64       // (d) largest relative deviation of time-averaged active sessions from N
	MaxIdleGap      time.Duration // longest gap between an agent's requests still counted as active; 0 = any
	MinWindow       time.Duration // the profile's minimum window duration
	MinRequests     int           // the profile's minimum number of window requests
	Health          HealthLimits  // (e) client health limits
}

// ProbeInput is what one probe is judged on.
type ProbeInput struct {
	Agents        int   // N: root agent sessions held during the probe
	WindowStartNs int64 // the measurement window [start, end) on the run's monotonic clock
	WindowEndNs   int64
	// Records holds every request record that may overlap the window: the
	// run's records, or at least this probe's (settle, warm-up, window) and
	// the following ones. The requests that count are those sent in
	// [WindowStartNs, WindowEndNs); the others serve the session-activity and
	// token-rate measures at the window's edges.
	Records []Request
	Client  ClientHealth // the load generator's self-check over the window
	// TheoreticalCache, when set, gives a record's theoretical prefix-cache
	// hit in tokens and its target prompt length, from the workload alone
	// (workload.CacheTable.Turn); ok false leaves the record out. Nil: the
	// result has no TheoreticalCacheShare.
	TheoreticalCache func(r *Request) (hit, prompt int64, ok bool)
}

// ProbeResult is the evaluation of one probe. Quantiles over an empty set are
// reported as 0.
type ProbeResult struct {
	Agents          int     `json:"agents"`
	WindowS         float64 `json:"window_s"`
	Requests        int     `json:"requests"`  // sent in the window
	Errors          int     `json:"errors"`    // status error
	Truncated       int     `json:"truncated"` // status truncated
	ErrorShare      float64 `json:"error_share"`
	AgentsSeen      int     `json:"agents_seen"`      // agents with a window request
	AgentsCompleted int     `json:"agents_completed"` // agents with a successful window request
	ActiveSessions  float64 `json:"active_sessions"`  // time-averaged, AgentActivity over the window
	InFlight        float64 `json:"in_flight"`        // time-averaged streams in flight, sub-agents included
	TTFTP50S        float64 `json:"ttft_p50_s"`       // over successful window requests
	TTFTP90S        float64 `json:"ttft_p90_s"`
	DecodeTPSP10    float64 `json:"decode_tps_p10"` // over successful window requests with a decode rate
	DecodeTPSP50    float64 `json:"decode_tps_p50"`
	// CachedTokenShare is Σ cached_tokens / Σ prompt_tokens over the window
	// requests that reported cached_tokens; CachedReported counts them (0:
	// the server never reported, the share is unknown).
	CachedTokenShare float64 `json:"cached_token_share"`
	CachedReported   int     `json:"cached_reported"`
	// TheoreticalCacheShare is Σ theoretical hit / Σ target prompt tokens
	// over the window requests that did not error (ProbeInput.
	// TheoreticalCache): what a working prefix cache would serve. Nil when
	// not computed (bundles of runners before it).
	TheoreticalCacheShare *float64 `json:"theoretical_cache_share,omitempty"`
	OutputTokensPerS      float64  `json:"output_tokens_per_s"` // OutputTokensPerSecond over the window

	Valid               bool         `json:"valid"` // client healthy and active sessions held at N
	InvalidReasons      []string     `json:"invalid_reasons"`
	Conclusive          bool         `json:"conclusive"` // window long enough with enough requests
	InconclusiveReasons []string     `json:"inconclusive_reasons"`
	FailReasons         []string     `json:"fail_reasons"` // probe-level failures shared by every tier
	Tiers               []TierResult `json:"tiers"`
}

// TierResult is one tier's verdict within a probe.
type TierResult struct {
	Tier          string   `json:"tier"`
	Met           int      `json:"met"`             // window requests meeting the tier
	MetShare      float64  `json:"met_share"`       // Met / Requests
	MetShareLower float64  `json:"met_share_lower"` // ClopperPearsonLower(Met, Requests, Confidence)
	AgentsMeeting int      `json:"agents_meeting"`  // agents meeting the tier on their median request
	AgentShare    float64  `json:"agent_share"`     // AgentsMeeting / N
	Passed        bool     `json:"passed"`
	Reasons       []string `json:"reasons"` // why it did not pass, probe-level reasons included
}

// EvaluateProbe judges a probe at N agents against each tier, as DESIGN.md's
// "Benchmark rules v1" say. The probe passes a tier iff it is valid and
// conclusive and
//
//	(a) ClopperPearsonLower(met, requests, Confidence) ≥ MinMetShare;
//	(b) at least MinAgentShare of the N agents meet the tier on their median
//	    request, and every agent completed a request in the window;
//	(c) errors / requests ≤ MaxErrorShare.
//
// It is valid iff (d) the time-averaged active sessions are within
// ActiveTolerance·N of N and (e) the client was healthy. It is conclusive iff
// the window lasted MinWindow and holds MinRequests requests.
//
// An agent's median request: over the agent's window requests (its
// sub-agents' included), the nearest-rank median TTFT and, separately, the
// nearest-rank median decode rate; an errored or truncated request enters
// both as the worst value (+Inf TTFT, zero rate), a successful request without
// a decode interval enters the TTFT median only. The agent meets the tier iff
// median TTFT ≤ T and, when it has decode rates, median rate ≥ S — the same
// joint test as MeetsTier.
//
// EvaluateProbe is NewProbeAccumulator(in, rules, tiers).Result(): the
// formulas live once, in ProbeAccumulator, whether the records come as a
// slice or one at a time.
func EvaluateProbe(in ProbeInput, rules ProbeRules, tiers []Tier) ProbeResult {
	return NewProbeAccumulator(in, rules, tiers).Result()
}

// CacheGapNote is the gap between the theoretical and the reported
// prefix-cache shares above which a result notes that the engine's cache
// served less than the workload allows. It is a note, never a failure:
// engines cache whole blocks and may evict under load.
const CacheGapNote = 0.2

// CacheGap is theoretical − reported when both are known and the engine
// fell short of the theory by more than CacheGapNote; ok is false
// otherwise.
func CacheGap(r *ProbeResult) (gap float64, ok bool) {
	if r.TheoreticalCacheShare == nil || r.CachedReported == 0 {
		return 0, false
	}
	gap = *r.TheoreticalCacheShare - r.CachedTokenShare
	return gap, gap > CacheGapNote
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
