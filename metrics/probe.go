package metrics

import (
	"fmt"
	"math"
	"slices"
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
	OutputTokensPerS float64 `json:"output_tokens_per_s"` // OutputTokensPerSecond over the window

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

// agentScores are one agent's window requests reduced to what its median
// request is judged on.
type agentScores struct {
	ttft      []float64 // seconds; +Inf for a failed request
	rate      []float64 // tokens/s; 0 for a failed request; absent without a decode interval
	completed bool
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
func EvaluateProbe(in ProbeInput, rules ProbeRules, tiers []Tier) ProbeResult {
	start, end := in.WindowStartNs, in.WindowEndNs
	res := ProbeResult{Agents: in.Agents, WindowS: float64(end-start) / 1e9}

	var window []Request
	for i := range in.Records {
		if t := in.Records[i].TSendNs; t >= start && t < end {
			window = append(window, in.Records[i])
		}
	}
	res.Requests = len(window)

	agents := make(map[int]*agentScores)
	var ttfts, rates []float64
	var cached, cachedPrompt int64
	for i := range window {
		r := &window[i]
		switch r.Status {
		case StatusError:
			res.Errors++
		case StatusTruncated:
			res.Truncated++
		}
		a := agents[r.Agent]
		if a == nil {
			a = &agentScores{}
			agents[r.Agent] = a
		}
		t := r.Timing()
		ttft, rate, hasRate := requestScores(t)
		a.ttft = append(a.ttft, ttft)
		if hasRate {
			a.rate = append(a.rate, rate)
		}
		if r.Status == StatusOK && r.TFirstNs > 0 {
			a.completed = true
			ttfts = append(ttfts, ttft)
			if hasRate {
				rates = append(rates, rate)
			}
		}
		if r.CachedTokens.Known {
			res.CachedReported++
			cached += int64(r.CachedTokens.Value)
			cachedPrompt += int64(r.PromptTokens)
		}
	}
	res.AgentsSeen = len(agents)
	for _, a := range agents {
		if a.completed {
			res.AgentsCompleted++
		}
		sortScores(a)
	}
	if res.Requests > 0 {
		res.ErrorShare = float64(res.Errors) / float64(res.Requests)
	}
	slices.Sort(ttfts)
	slices.Sort(rates)
	res.TTFTP50S = zeroNaN(Quantile(ttfts, 0.5))
	res.TTFTP90S = zeroNaN(Quantile(ttfts, 0.9))
	res.DecodeTPSP10 = zeroNaN(Quantile(rates, 0.1))
	res.DecodeTPSP50 = zeroNaN(Quantile(rates, 0.5))
	if cachedPrompt > 0 {
		res.CachedTokenShare = float64(cached) / float64(cachedPrompt)
	}
	res.ActiveSessions = TimeAveraged(AgentActivity(in.Records, int64(rules.MaxIdleGap)), start, end)
	res.InFlight = TimeAveraged(RequestIntervals(in.Records), start, end)
	res.OutputTokensPerS = OutputTokensPerSecond(in.Records, start, end)

	// Validity: (d) and (e).
	res.InvalidReasons = append([]string{}, CheckClientHealth(in.Client, rules.Health)...)
	if n := float64(in.Agents); math.Abs(res.ActiveSessions-n) > rules.ActiveTolerance*n || in.Agents <= 0 {
		res.InvalidReasons = append(res.InvalidReasons, fmt.Sprintf(
			"time-averaged active sessions %.2f not within %.1f%% of N=%d",
			res.ActiveSessions, 100*rules.ActiveTolerance, in.Agents))
	}
	res.Valid = len(res.InvalidReasons) == 0

	// Conclusiveness: window duration and request count.
	res.InconclusiveReasons = []string{}
	if w := time.Duration(end - start); w < rules.MinWindow {
		res.InconclusiveReasons = append(res.InconclusiveReasons,
			fmt.Sprintf("window %v shorter than %v", w, rules.MinWindow))
	}
	if res.Requests < rules.MinRequests || res.Requests == 0 {
		res.InconclusiveReasons = append(res.InconclusiveReasons,
			fmt.Sprintf("window holds %d requests, fewer than %d", res.Requests, max(rules.MinRequests, 1)))
	}
	res.Conclusive = len(res.InconclusiveReasons) == 0

	// Probe-level failures: (c) and the completion half of (b).
	res.FailReasons = []string{}
	if res.ErrorShare > rules.MaxErrorShare {
		res.FailReasons = append(res.FailReasons, fmt.Sprintf("error share %.4f (%d of %d) exceeds %.4f",
			res.ErrorShare, res.Errors, res.Requests, rules.MaxErrorShare))
	}
	if res.AgentsCompleted < in.Agents {
		res.FailReasons = append(res.FailReasons, fmt.Sprintf(
			"%d of %d agents completed no request in the window", in.Agents-res.AgentsCompleted, in.Agents))
	}

	denom := max(in.Agents, res.AgentsSeen)
	for _, tier := range tiers {
		tr := TierResult{Tier: tier.Name, Reasons: []string{}}
		for i := range window {
			if MeetsTier(window[i].Timing(), tier) {
				tr.Met++
			}
		}
		if res.Requests > 0 {
			tr.MetShare = float64(tr.Met) / float64(res.Requests)
		}
		tr.MetShareLower = zeroNaN(ClopperPearsonLower(tr.Met, res.Requests, rules.Confidence))
		for _, a := range agents {
			if a.meets(tier) {
				tr.AgentsMeeting++
			}
		}
		if denom > 0 {
			tr.AgentShare = float64(tr.AgentsMeeting) / float64(denom)
		}
		if tr.MetShareLower < rules.MinMetShare {
			tr.Reasons = append(tr.Reasons, fmt.Sprintf(
				"%.0f%% lower bound of met share %.4f (%d of %d) below %.4f",
				100*rules.Confidence, tr.MetShareLower, tr.Met, res.Requests, rules.MinMetShare))
		}
		if tr.AgentShare < rules.MinAgentShare {
			tr.Reasons = append(tr.Reasons, fmt.Sprintf(
				"%d of %d agents (%.4f) meet the tier on their median request, below %.4f",
				tr.AgentsMeeting, denom, tr.AgentShare, rules.MinAgentShare))
		}
		tr.Reasons = append(tr.Reasons, res.FailReasons...)
		tr.Reasons = append(tr.Reasons, res.InvalidReasons...)
		tr.Reasons = append(tr.Reasons, res.InconclusiveReasons...)
		tr.Passed = len(tr.Reasons) == 0
		res.Tiers = append(res.Tiers, tr)
	}
	return res
}

func sortScores(a *agentScores) {
	slices.Sort(a.ttft)
	slices.Sort(a.rate)
}

// meets applies the joint tier test to the agent's median request.
func (a *agentScores) meets(tier Tier) bool {
	if len(a.ttft) == 0 {
		return false
	}
	if Median(a.ttft) > tier.MaxTTFT.Seconds() {
		return false
	}
	return len(a.rate) == 0 || Median(a.rate) >= tier.MinDecodeTPS
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
