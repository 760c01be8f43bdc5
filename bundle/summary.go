package bundle

import (
	"fmt"
	"strconv"
	"time"

	"github.com/agentwatt/agentwatt/metrics"
)

// SummarySchemaVersion is the version of Summary this build writes and
// reads.
const SummarySchemaVersion = 1

// Summary is summary.json: the runner's claim of what it measured — what
// `agentwatt bench` reports per probe and per tier, plus, where power was
// sampled, the energy of every probe window, the idle baseline and the
// headline figures. The verifier recomputes every number from the raw
// records and compares; it never takes one from here.
//
// Shape (issue 4 §4, then the runner's additions):
//
//	{"schema_version": 1, "simulated": false, "profile": "official",
//	 "power_boundary": "gpu-board", "gpus": 8,
//	 "idle_baseline": {"duration_s": …, "energy_j": …, "avg_power_w": …, …},
//	 "tiers": {"t20": {"max_agents": N, "confirmed": true, "confirm_probe": 7,
//	           "agents_per_mw": …, "agents_per_gpu": …, "output_tokens_per_s": …,
//	           "joules_per_token": …, "avg_power_w": …, "energy_counter_j": …, …}},
//	 "probes": [{"index": 0, "agents": N, "window_s": …, "requests": …, "errors": …,
//	            "ttft_p50_s": …, "ttft_p90_s": …, "decode_tps_p10": …, "decode_tps_p50": …,
//	            "cached_token_share": …, "client": {"sched_lag_p99_ms": …, "cpu_share": …},
//	            "tiers": {"t20": {"met_share": …, "met_share_lower99": …, "passed": true}},
//	            "valid": true, "invalid_reasons": [],
//	            "energy": {"counter_j": …, "instant_j": …, "avg_power_w": …}}]}
type Summary struct {
	SchemaVersion int  `json:"schema_version"`
	Simulated     bool `json:"simulated"` // measured against the sim engine: never a hardware result
	// Profile is the rules profile (official, quick, test).
	Profile string `json:"profile,omitempty"`
	// PowerBoundary is what the energy covers: "gpu-board" (NVML), "sim";
	// empty when power was not sampled (bench against a remote endpoint).
	PowerBoundary string `json:"power_boundary,omitempty"`
	// GPUs is the number of GPUs whose power is summed; agents per GPU
	// divides by it.
	GPUs         int                    `json:"gpus,omitempty"`
	IdleBaseline *IdleBaseline          `json:"idle_baseline,omitempty"`
	Tiers        map[string]TierSummary `json:"tiers"`
	Probes       []ProbeSummary         `json:"probes"`
}

// TierSummary is the outcome of one tier's capacity search. The figures
// after Reason come from the confirmation window (ConfirmProbe) at
// MaxAgents, the one that counts; they are zero (omitted) without one.
type TierSummary struct {
	MaxAgents int  `json:"max_agents"` // 0: no N passed
	Confirmed bool `json:"confirmed"`  // a second window at MaxAgents passed
	// MinDecodeTPS and MaxTTFTS define the tier: S tok/s, T seconds.
	MinDecodeTPS float64 `json:"min_decode_tps,omitempty"`
	MaxTTFTS     float64 `json:"max_ttft_s,omitempty"`
	// ConfirmProbe is the index (ProbeSummary.Index) of the confirmation
	// window; nil without one.
	ConfirmProbe *int   `json:"confirm_probe,omitempty"`
	Reason       string `json:"reason,omitempty"` // why there is no confirmed maximum

	OutputTokensPerS float64 `json:"output_tokens_per_s,omitempty"`
	EnergyCounterJ   float64 `json:"energy_counter_j,omitempty"` // Σ GPUs counter change over the window
	EnergyInstantJ   float64 `json:"energy_instant_j,omitempty"` // integral of instantaneous power (cross-check)
	AvgPowerW        float64 `json:"avg_power_w,omitempty"`      // EnergyCounterJ / window
	AgentsPerMW      float64 `json:"agents_per_mw,omitempty"`    // MaxAgents × 10⁶ / AvgPowerW
	AgentsPerGPU     float64 `json:"agents_per_gpu,omitempty"`   // MaxAgents / GPUs
	JoulesPerToken   float64 `json:"joules_per_token,omitempty"` // EnergyCounterJ / output tokens in the window

	// Repeats is the spread over the windows at MaxAgents
	// (benchmark.repeats > 1); nil for a run of one.
	Repeats *RepeatSpread `json:"repeats,omitempty"`
}

// SetFigures fills the figures of the tier's confirmation window from
// its output rate, its energy e (nil when the power samples do not cover
// it: then only the rate is set) and the GPUs summed. The runner claims
// them and the verifier recomputes them with this one function.
func (t *TierSummary) SetFigures(outputTokensPerS float64, e *WindowEnergy, gpus int) {
	t.OutputTokensPerS = outputTokensPerS
	if e == nil {
		return
	}
	t.EnergyCounterJ, t.EnergyInstantJ, t.AvgPowerW = e.CounterJ, e.InstantJ, e.AvgPowerW
	t.JoulesPerToken = e.JoulesPerToken
	if t.MaxAgents > 0 && e.AvgPowerW > 0 {
		t.AgentsPerMW = metrics.AgentsPerMW(t.MaxAgents, e.AvgPowerW)
	}
	t.AgentsPerGPU = metrics.AgentsPerGPU(t.MaxAgents, gpus)
}

// ProbeSummary is one probe: N agents held for a measurement window.
type ProbeSummary struct {
	// Index is the probe field of the probe's request records.
	Index int `json:"index"`
	// Tier is the search the probe belongs to ("" for a fixed --agents
	// probe); Role is "calibration", "search", "confirm" or "fixed".
	Tier          string  `json:"tier,omitempty"`
	Role          string  `json:"role,omitempty"`
	Agents        int     `json:"agents"`
	WindowStartNs int64   `json:"window_start_ns"` // the run's monotonic clock
	WindowEndNs   int64   `json:"window_end_ns"`
	WindowS       float64 `json:"window_s"`
	Requests      int     `json:"requests"`
	Errors        int     `json:"errors"`
	Truncated     int     `json:"truncated"`

	TTFTP50S         float64 `json:"ttft_p50_s"`
	TTFTP90S         float64 `json:"ttft_p90_s"`
	DecodeTPSP10     float64 `json:"decode_tps_p10"`
	DecodeTPSP50     float64 `json:"decode_tps_p50"`
	CachedTokenShare float64 `json:"cached_token_share"`
	// TheoreticalCacheShare is metrics.ProbeResult.TheoreticalCacheShare:
	// what a working prefix cache would serve; absent in older bundles.
	TheoreticalCacheShare *float64 `json:"theoretical_cache_share,omitempty"`
	OutputTokensPerS      float64  `json:"output_tokens_per_s"`
	ActiveSessions        float64  `json:"active_sessions"`
	InFlight              float64  `json:"in_flight"`

	Client              ClientSummary               `json:"client"`
	Tiers               map[string]ProbeTierSummary `json:"tiers"`
	Valid               bool                        `json:"valid"`
	InvalidReasons      []string                    `json:"invalid_reasons"`
	Conclusive          bool                        `json:"conclusive"`
	InconclusiveReasons []string                    `json:"inconclusive_reasons"`
	// Energy is the window's energy; nil when power was not sampled.
	Energy *WindowEnergy `json:"energy,omitempty"`
}

// ClientSummary is the load generator's health over the window.
type ClientSummary struct {
	SchedLagP99Ms float64 `json:"sched_lag_p99_ms"`
	CPUShare      float64 `json:"cpu_share"`
}

// ClientSummaryOf is the summary of the client's health over a window.
func ClientSummaryOf(h metrics.ClientHealth) ClientSummary {
	return ClientSummary{SchedLagP99Ms: float64(h.SchedLagP99Ns) / 1e6, CPUShare: h.CPUShare}
}

// ProbeTierSummary is one tier's verdict in one probe.
type ProbeTierSummary struct {
	MetShare float64 `json:"met_share"`
	// MetShareLower99 is the one-sided Clopper–Pearson lower bound of
	// MetShare at the rules' confidence (99% in rules v1).
	MetShareLower99 float64  `json:"met_share_lower99"`
	AgentShare      float64  `json:"agent_share"` // agents meeting the tier on their median request / N
	Passed          bool     `json:"passed"`
	Reasons         []string `json:"reasons,omitempty"` // why it did not pass
}

// WindowEnergy is the energy of one window, summed over GPUs.
type WindowEnergy struct {
	CounterJ       float64            `json:"counter_j"`   // metrics.EnergyFromCounters
	InstantJ       float64            `json:"instant_j"`   // metrics.EnergyFromPowerIntegral
	AvgPowerW      float64            `json:"avg_power_w"` // CounterJ / window
	JoulesPerToken float64            `json:"joules_per_token"`
	CounterResets  int                `json:"counter_resets"`
	MaxGapS        float64            `json:"max_gap_s"`                   // metrics.MaxGap
	PerGPUCounterJ map[string]float64 `json:"per_gpu_counter_j,omitempty"` // by GPU index
}

// IdleBaseline is the power drawn before load: GPUs idle before the engine
// starts, or, for the sim (whose power exists only while it runs), the
// loaded engine with no requests.
type IdleBaseline struct {
	State     string             `json:"state"` // "gpus-idle" or "engine-idle"
	StartNs   int64              `json:"start_ns"`
	EndNs     int64              `json:"end_ns"`
	DurationS float64            `json:"duration_s"`
	EnergyJ   float64            `json:"energy_j"`
	AvgPowerW float64            `json:"avg_power_w"`
	PerGPUW   map[string]float64 `json:"per_gpu_w,omitempty"` // average watts by GPU index
}

// ProbeSummaryOf is the summary of one evaluated probe: index is its probe
// number, [start, end) its window, client its load generator's health.
// Energy, Tier and Role are the caller's to fill.
func ProbeSummaryOf(index int, r metrics.ProbeResult, start, end int64, client metrics.ClientHealth) ProbeSummary {
	p := ProbeSummary{
		Index:                 index,
		Agents:                r.Agents,
		WindowStartNs:         start,
		WindowEndNs:           end,
		WindowS:               r.WindowS,
		Requests:              r.Requests,
		Errors:                r.Errors,
		Truncated:             r.Truncated,
		TTFTP50S:              r.TTFTP50S,
		TTFTP90S:              r.TTFTP90S,
		DecodeTPSP10:          r.DecodeTPSP10,
		DecodeTPSP50:          r.DecodeTPSP50,
		CachedTokenShare:      r.CachedTokenShare,
		TheoreticalCacheShare: r.TheoreticalCacheShare,
		OutputTokensPerS:      r.OutputTokensPerS,
		ActiveSessions:        r.ActiveSessions,
		InFlight:              r.InFlight,
		Client:                ClientSummaryOf(client),
		Tiers:                 make(map[string]ProbeTierSummary, len(r.Tiers)),
		Valid:                 r.Valid,
		InvalidReasons:        nonNil(r.InvalidReasons),
		Conclusive:            r.Conclusive,
		InconclusiveReasons:   nonNil(r.InconclusiveReasons),
	}
	for _, t := range r.Tiers {
		p.Tiers[t.Tier] = ProbeTierSummary{
			MetShare:        t.MetShare,
			MetShareLower99: t.MetShareLower,
			AgentShare:      t.AgentShare,
			Passed:          t.Passed,
			Reasons:         t.Reasons,
		}
	}
	return p
}

// WindowEnergyFrom is the energy of [start, end) by the cumulative
// counters and by the integral of instantaneous power, from the power
// samples of every GPU; nil when the samples do not bracket the window. The
// runner reports it and the verifier recomputes it with this one function.
func WindowEnergyFrom(samples []metrics.PowerSample, start, end int64, outputTokens float64) *WindowEnergy {
	counter, err := metrics.EnergyFromCounters(samples, start, end)
	if err != nil {
		return nil
	}
	instant, err := metrics.EnergyFromPowerIntegral(samples, start, end)
	if err != nil {
		return nil
	}
	gap := metrics.MaxGap(samples, start, end)
	return WindowEnergyOf(counter, instant, time.Duration(end-start).Seconds(), outputTokens, gap.Seconds())
}

// WindowEnergyOf is the energy of a window of windowS seconds in which
// outputTokens were generated, from the two integrals of its power samples.
func WindowEnergyOf(counter, instant metrics.Energy, windowS, outputTokens float64, maxGapS float64) *WindowEnergy {
	e := &WindowEnergy{
		CounterJ:       counter.Joules,
		InstantJ:       instant.Joules,
		CounterResets:  len(counter.Resets),
		MaxGapS:        maxGapS,
		JoulesPerToken: metrics.JoulesPerToken(counter.Joules, outputTokens),
	}
	if windowS > 0 {
		e.AvgPowerW = counter.Joules / windowS
	}
	if len(counter.PerGPU) > 0 {
		e.PerGPUCounterJ = make(map[string]float64, len(counter.PerGPU))
		for g, j := range counter.PerGPU {
			e.PerGPUCounterJ[strconv.Itoa(g)] = j
		}
	}
	return e
}

// DecodeSummary reads summary.json strictly (unknown fields, trailing data
// and other schema versions are errors), errors located as
// summary.json:line:col.
func DecodeSummary(data []byte) (*Summary, error) {
	var s Summary
	if err := decodeStrict(SummaryFile, data, &s); err != nil {
		return nil, err
	}
	if s.SchemaVersion != SummarySchemaVersion {
		return nil, fmt.Errorf("%s: schema_version %d: %w (want %d)", SummaryFile, s.SchemaVersion, ErrSchemaVersion, SummarySchemaVersion)
	}
	for i, p := range s.Probes {
		if p.WindowEndNs < p.WindowStartNs {
			return nil, fmt.Errorf("%s: probes[%d]: window ends (%d) before it starts (%d)", SummaryFile, i, p.WindowEndNs, p.WindowStartNs)
		}
	}
	for name, t := range s.Tiers {
		if t.MaxAgents < 0 {
			return nil, fmt.Errorf("%s: tiers.%s.max_agents %d: negative", SummaryFile, name, t.MaxAgents)
		}
	}
	return &s, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
