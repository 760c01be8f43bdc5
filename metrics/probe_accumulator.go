package metrics

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// ProbeAccumulator evaluates one probe from its records fed one at a time,
// in any order, keeping only what the formulas need: counts (per tier, the
// window requests that pass the joint tier test), two float64 values (TTFT
// and decode rate) per successful window request for the quantiles, and
// per agent its merged session-activity spans and the counts its median
// request is judged on. It never holds a record. EvaluateProbe is NewProbeAccumulator(…).Result(), so a
// runner that evaluates a slice and a verifier that streams a file compute
// the same numbers with the same code.
type ProbeAccumulator struct {
	in     ProbeInput // Records unused after NewProbeAccumulator
	rules  ProbeRules
	tiers  []Tier
	ttftS  []float64 // each tier's MaxTTFT in seconds
	maxGap int64

	requests, errors, truncated int
	cachedReported              int
	cached, cachedPrompt        int64
	theoryHit, theoryPrompt     int64
	met                         []int // window requests meeting each tier

	ttfts, rates valueList // successful window requests

	spill   spill    // the agents' earlier activity spans
	ids     agentIDs // agent id → index into agents
	lastID  int      // the agent agentIndex found last
	lastIdx int32
	agents  []agentTally
	// within and slow hold, per agent and tier (index agent·len(tiers) +
	// tier), the agent's window requests with TTFT ≤ the tier's T and
	// those with a decode rate below its S: the median tests need no more.
	within, slow []int32

	inFlight wideSum // Σ |[t_send, end) ∩ window| over the records, ns
	tokens   float64 // output tokens in the window

	done   bool
	result ProbeResult
}

// maxAgentHint bounds the agents room is made for in advance.
const maxAgentHint = 1 << 14

// agentTally is one root agent's share of a probe: when its session was
// active, and its window requests (its sub-agents' included) reduced to
// counts. A probe's accumulator touches one per record, in whatever order
// the agents' records come: at 32 bytes, many stay in cache.
type agentTally struct {
	last      Interval // the latest activity span; valid when has
	more      int32    // 1 + the index in the spill of the earlier spans; 0: none
	n, nRate  int32    // window requests; those with a decode rate
	has       bool     // any activity span
	unsorted  bool     // the earlier spans are in arrival order
	completed bool     // a successful window request
}

// NewProbeAccumulator starts evaluating the probe in; in.Records (often
// nil) are added at once. Feed the rest with Add and read the evaluation
// with Result. The tiers slice is kept, not copied.
func NewProbeAccumulator(in ProbeInput, rules ProbeRules, tiers []Tier) *ProbeAccumulator {
	// Room for the N agents the probe holds (up to a bound: N is the
	// caller's claim), so that adding them grows the tables less often.
	n := min(max(in.Agents, 0), maxAgentHint)
	a := &ProbeAccumulator{
		in: in, rules: rules, tiers: tiers, maxGap: int64(rules.MaxIdleGap),
		ttftS: make([]float64, len(tiers)), met: make([]int, len(tiers)),
		agents: make([]agentTally, 0, n),
		within: make([]int32, 0, n*len(tiers)), slow: make([]int32, 0, n*len(tiers)),
	}
	a.in.Records = nil
	for i, t := range tiers {
		a.ttftS[i] = t.MaxTTFT.Seconds()
	}
	for i := range in.Records {
		a.Add(&in.Records[i])
	}
	return a
}

// Add counts one record: a window request (sent in [start, end)) for every
// per-request measure, and any record for session activity, streams in
// flight and output tokens at the window's edges (see ProbeInput.Records
// for which records to add). Add reads r and keeps nothing of it.
func (a *ProbeAccumulator) Add(r *Request) {
	if a.done {
		panic("metrics: ProbeAccumulator.Add after Result")
	}
	start, end := a.in.WindowStartNs, a.in.WindowEndNs
	iv := Interval{r.TSendNs, r.EndNs()}
	a.inFlight.add(overlap(iv, start, end))
	addOutputTokens(&a.tokens, r, start, end)
	root, inWindow := r.Subagent == "", r.TSendNs >= start && r.TSendNs < end
	if !root && !inWindow {
		return
	}
	idx := a.agentIndex(r.Agent)
	ag := &a.agents[idx]
	if root {
		ag.addSpan(iv, a.maxGap, &a.spill)
	}
	if !inWindow {
		return
	}

	a.requests++
	switch r.Status {
	case StatusError:
		a.errors++
	case StatusTruncated:
		a.truncated++
	}
	if r.CachedTokens.Known {
		a.cachedReported++
		a.cached += int64(r.CachedTokens.Value)
		a.cachedPrompt += int64(r.PromptTokens)
	}
	if a.in.TheoreticalCache != nil && r.Status != StatusError {
		if hit, prompt, ok := a.in.TheoreticalCache(r); ok {
			a.theoryHit += hit
			a.theoryPrompt += prompt
		}
	}
	t := r.Timing()
	ttft, rate, hasRate := requestScores(t)
	ag.n++
	if hasRate {
		ag.nRate++
	}
	if r.Status == StatusOK && r.TFirstNs > 0 {
		ag.completed = true
		a.ttfts.add(ttft)
		if hasRate {
			a.rates.add(rate)
		}
	}
	base := int(idx) * len(a.tiers)
	for i, tier := range a.tiers {
		if MeetsTier(t, tier) {
			a.met[i]++
		}
		if ttft <= a.ttftS[i] {
			a.within[base+i]++
		}
		if hasRate && rate < tier.MinDecodeTPS {
			a.slow[base+i]++
		}
	}
}

// OutputTokens is the number of output tokens generated inside the window
// by the records added so far (OutputTokensInWindow).
func (a *ProbeAccumulator) OutputTokens() float64 { return a.tokens }

// agentIndex finds or adds the agent's tally. Records often come in runs
// of one agent, so the last agent found is tried first.
func (a *ProbeAccumulator) agentIndex(id int) int32 {
	if len(a.agents) > 0 && a.lastID == id {
		return a.lastIdx
	}
	i, ok := a.ids.get(id)
	if !ok {
		i = a.newAgent(id)
	}
	a.lastID, a.lastIdx = id, i
	return i
}

func (a *ProbeAccumulator) newAgent(id int) int32 {
	i := int32(len(a.agents))
	a.ids.put(id, i)
	a.agents = extend(a.agents, 1)
	a.within = extend(a.within, len(a.tiers))
	a.slow = extend(a.slow, len(a.tiers))
	return i
}

// meets applies the joint tier test to the agent's median request: the
// nearest-rank median TTFT is ≤ T iff at least rank(n) of its n TTFTs are,
// and the median decode rate is ≥ S iff fewer than rank(nRate) of its rates
// are below S.
func (a *ProbeAccumulator) meets(idx, tier int) bool {
	ag := &a.agents[idx]
	if ag.n == 0 {
		return false
	}
	k := idx*len(a.tiers) + tier
	if int(a.within[k]) < nearestRank(int(ag.n), 0.5) {
		return false
	}
	return ag.nRate == 0 || int(a.slow[k]) < nearestRank(int(ag.nRate), 0.5)
}

// Result is the probe's evaluation, as EvaluateProbe documents it. It ends
// the accumulation: Add after Result panics; Result again returns the same
// evaluation.
func (a *ProbeAccumulator) Result() ProbeResult {
	if a.done {
		return a.result
	}
	a.done = true
	in, rules := a.in, a.rules
	start, end := in.WindowStartNs, in.WindowEndNs
	res := ProbeResult{Agents: in.Agents, WindowS: float64(end-start) / 1e9,
		Requests: a.requests, Errors: a.errors, Truncated: a.truncated, CachedReported: a.cachedReported}

	var active wideSum
	var spans []Interval
	for i := range a.agents {
		ag := &a.agents[i]
		if ag.n > 0 {
			res.AgentsSeen++
		}
		if ag.completed {
			res.AgentsCompleted++
		}
		spans = ag.spans(a.maxGap, &a.spill, spans[:0])
		for _, iv := range spans {
			active.add(overlap(iv, start, end))
		}
	}
	if res.Requests > 0 {
		res.ErrorShare = float64(res.Errors) / float64(res.Requests)
	}
	res.TTFTP50S, res.TTFTP90S = a.ttfts.quantiles(0.5, 0.9)
	res.DecodeTPSP10, res.DecodeTPSP50 = a.rates.quantiles(0.1, 0.5)
	if a.cachedPrompt > 0 {
		res.CachedTokenShare = float64(a.cached) / float64(a.cachedPrompt)
	}
	if a.in.TheoreticalCache != nil {
		share := 0.0
		if a.theoryPrompt > 0 {
			share = float64(a.theoryHit) / float64(a.theoryPrompt)
		}
		res.TheoreticalCacheShare = &share
	}
	if end > start {
		res.ActiveSessions = active.float() / float64(end-start)
		res.InFlight = a.inFlight.float() / float64(end-start)
		res.OutputTokensPerS = a.tokens / (float64(end-start) / 1e9)
	}

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
	for ti, tier := range a.tiers {
		tr := TierResult{Tier: tier.Name, Met: a.met[ti], Reasons: []string{}}
		if res.Requests > 0 {
			tr.MetShare = float64(tr.Met) / float64(res.Requests)
		}
		tr.MetShareLower = zeroNaN(ClopperPearsonLower(tr.Met, res.Requests, rules.Confidence))
		for i := range a.agents {
			if a.meets(i, ti) {
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

	// What the evaluation no longer needs is let go; the result stays.
	a.agents, a.within, a.slow, a.ids, a.spill = nil, nil, nil, agentIDs{}, nil
	a.result = res
	return res
}

// extend lengthens s by n zero elements, doubling its capacity when full
// (append grows large slices by a quarter, copying them more often).
func extend[T any](s []T, n int) []T {
	if len(s)+n > cap(s) {
		grown := make([]T, len(s), max(2*cap(s), len(s)+n, 64))
		copy(grown, s)
		s = grown
	}
	return s[:len(s)+n]
}

// wideSum adds non-negative int64 values in 128 bits: exact and
// independent of the order of the additions.
type wideSum struct{ hi, lo uint64 }

func (s *wideSum) add(v int64) {
	var c uint64
	s.lo, c = bits.Add64(s.lo, uint64(v), 0)
	s.hi += c
}

func (s *wideSum) float() float64 { return float64(s.hi)*0x1p64 + float64(s.lo) }

// overlap is |iv ∩ [start, end)|, in ns.
func overlap(iv Interval, start, end int64) int64 {
	lo, hi := max(iv.Start, start), min(iv.End, end)
	if hi > lo {
		return hi - lo
	}
	return 0
}
