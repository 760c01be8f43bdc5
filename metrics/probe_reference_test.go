package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// The slice-based evaluation as it was before ProbeAccumulator, kept
// verbatim as the reference the accumulator must reproduce.

// refAgentScores are one agent's window requests reduced to what its median
// request is judged on.
type refAgentScores struct {
	ttft      []float64 // seconds; +Inf for a failed request
	rate      []float64 // tokens/s; 0 for a failed request; absent without a decode interval
	completed bool
}

func referenceEvaluateProbe(in ProbeInput, rules ProbeRules, tiers []Tier) ProbeResult {
	start, end := in.WindowStartNs, in.WindowEndNs
	res := ProbeResult{Agents: in.Agents, WindowS: float64(end-start) / 1e9}

	var window []Request
	for i := range in.Records {
		if t := in.Records[i].TSendNs; t >= start && t < end {
			window = append(window, in.Records[i])
		}
	}
	res.Requests = len(window)

	agents := make(map[int]*refAgentScores)
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
			a = &refAgentScores{}
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
		refSortScores(a)
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
	res.ActiveSessions = refTimeAveraged(refAgentActivity(in.Records, int64(rules.MaxIdleGap)), start, end)
	res.InFlight = refTimeAveraged(RequestIntervals(in.Records), start, end)
	res.OutputTokensPerS = refOutputTokensPerSecond(in.Records, start, end)

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

func refSortScores(a *refAgentScores) {
	slices.Sort(a.ttft)
	slices.Sort(a.rate)
}

// meets applies the joint tier test to the agent's median request.
func (a *refAgentScores) meets(tier Tier) bool {
	if len(a.ttft) == 0 {
		return false
	}
	if Median(a.ttft) > tier.MaxTTFT.Seconds() {
		return false
	}
	return len(a.rate) == 0 || Median(a.rate) >= tier.MinDecodeTPS
}

func refTimeAveraged(intervals []Interval, start, end int64) float64 {
	if end <= start {
		return 0
	}
	var covered float64
	for _, iv := range intervals {
		lo, hi := max(iv.Start, start), min(iv.End, end)
		if hi > lo {
			covered += float64(hi - lo)
		}
	}
	return covered / float64(end-start)
}
func refAgentActivity(records []Request, maxGapNs int64) []Interval {
	byAgent := make(map[int][]Interval)
	for i := range records {
		r := &records[i]
		if r.Subagent != "" {
			continue
		}
		byAgent[r.Agent] = append(byAgent[r.Agent], Interval{r.TSendNs, r.EndNs()})
	}
	agents := make([]int, 0, len(byAgent))
	for a := range byAgent {
		agents = append(agents, a)
	}
	slices.Sort(agents)
	var out []Interval
	for _, a := range agents {
		ivs := byAgent[a]
		slices.SortFunc(ivs, func(x, y Interval) int { return cmp.Compare(x.Start, y.Start) })
		cur := ivs[0]
		for _, iv := range ivs[1:] {
			if iv.Start <= cur.End || maxGapNs <= 0 || iv.Start-cur.End <= maxGapNs {
				cur.End = max(cur.End, iv.End)
				continue
			}
			out = append(out, cur)
			cur = iv
		}
		out = append(out, cur)
	}
	return out
}

func refOutputTokensPerSecond(records []Request, start, end int64) float64 {
	if end <= start {
		return 0
	}
	var tokens float64
	for i := range records {
		r := &records[i]
		if r.CompletionTokens <= 0 || r.TFirstNs <= 0 {
			continue
		}
		if r.TFirstNs >= start && r.TFirstNs < end {
			tokens++
		}
		rest := float64(r.CompletionTokens - 1)
		if rest == 0 {
			continue
		}
		if r.TLastNs <= r.TFirstNs {
			if r.TFirstNs >= start && r.TFirstNs < end {
				tokens += rest
			}
			continue
		}
		lo, hi := max(r.TFirstNs, start), min(r.TLastNs, end)
		if hi > lo {
			tokens += rest * float64(hi-lo) / float64(r.TLastNs-r.TFirstNs)
		}
	}
	return tokens / (float64(end-start) / 1e9)
}
