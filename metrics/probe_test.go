package metrics

import (
	"math"
	"strings"
	"testing"
	"time"
)

var (
	t20 = Tier{Name: "t20", MinDecodeTPS: 20, MaxTTFT: 10 * time.Second}
	t50 = Tier{Name: "t50", MinDecodeTPS: 50, MaxTTFT: 5 * time.Second}

	testRules = ProbeRules{
		Confidence: 0.99, MinMetShare: 0.90, MinAgentShare: 0.90, MaxErrorShare: 0.01,
		ActiveTolerance: 0.02, MaxIdleGap: 30 * time.Second, MinWindow: 100 * time.Second, MinRequests: 100,
		Health: HealthLimits{MaxSchedLagP99: 5 * time.Millisecond, MaxCPUShare: 0.85},
	}
	healthy = ClientHealth{SchedLagP99Ns: int64(time.Millisecond), CPUShare: 0.3}
)

const sec = int64(time.Second)

// closedLoop builds records for agents that each send a request every
// period from before the window to after it. shape(agent, k) returns the
// request's TTFT, decode rate (tokens/s) and status.
func closedLoop(agents int, from, to, period int64, shape func(agent, k int) (ttft time.Duration, rate float64, status string)) []Request {
	var out []Request
	for a := range agents {
		k := 0
		for send := from + int64(a)*period/int64(agents); send < to; send += period {
			ttft, rate, status := shape(a, k)
			tokens := 101
			first := send + int64(ttft)
			last := first + int64(float64(tokens-1)/rate*1e9)
			out = append(out, Request{Agent: a, Turn: k, TSendNs: send, TFirstNs: first, TLastNs: last,
				CompletionTokens: tokens, TargetCompletionTokens: tokens, Status: status, Phase: PhaseWindow})
			k++
		}
	}
	return out
}

func fast(int, int) (time.Duration, float64, string) { return time.Second, 60, StatusOK }

func probe(agents int, records []Request) ProbeInput {
	return ProbeInput{Agents: agents, WindowStartNs: 0, WindowEndNs: 120 * sec, Records: records, Client: healthy}
}

func TestEvaluateProbePasses(t *testing.T) {
	res := EvaluateProbe(probe(20, closedLoop(20, -20*sec, 140*sec, 5*sec, fast)), testRules, []Tier{t20, t50})
	if !res.Valid || !res.Conclusive {
		t.Fatalf("valid=%v %v conclusive=%v %v", res.Valid, res.InvalidReasons, res.Conclusive, res.InconclusiveReasons)
	}
	for _, tr := range res.Tiers {
		if !tr.Passed || tr.Met != res.Requests || tr.AgentsMeeting != 20 {
			t.Fatalf("tier %s: %+v", tr.Tier, tr)
		}
	}
	if res.Requests != 20*24 {
		t.Fatalf("requests = %d, want %d", res.Requests, 20*24)
	}
	if res.ActiveSessions < 19.99 || res.ActiveSessions > 20.01 {
		t.Fatalf("active sessions = %v, want 20", res.ActiveSessions)
	}
	if res.TTFTP50S != 1 || res.DecodeTPSP50 < 59.99 || res.DecodeTPSP50 > 60.01 {
		t.Fatalf("ttft p50 %v decode p50 %v", res.TTFTP50S, res.DecodeTPSP50)
	}
	if res.CachedReported != 0 || res.CachedTokenShare != 0 {
		t.Fatalf("cached share without reports = %v (%d)", res.CachedTokenShare, res.CachedReported)
	}
}

func TestEvaluateProbeTiers(t *testing.T) {
	// 30 of 100 agents decode at 30 tok/s: they meet t20, not t50.
	shape := func(a, _ int) (time.Duration, float64, string) {
		if a < 30 {
			return time.Second, 30, StatusOK
		}
		return time.Second, 60, StatusOK
	}
	res := EvaluateProbe(probe(100, closedLoop(100, -20*sec, 140*sec, 10*sec, shape)), testRules, []Tier{t20, t50})
	if !res.Tiers[0].Passed {
		t.Fatalf("t20 should pass: %v", res.Tiers[0].Reasons)
	}
	if tr := res.Tiers[1]; tr.Passed || tr.AgentsMeeting != 70 || !hasReason(tr.Reasons, "lower bound") || !hasReason(tr.Reasons, "median request") {
		t.Fatalf("t50 = %+v", tr)
	}
}

// TestEvaluateProbeAgentCriterion: most requests meet the tier, but 15% of
// agents miss it on their median request, so (b) fails while (a) holds.
func TestEvaluateProbeAgentCriterion(t *testing.T) {
	shape := func(a, k int) (time.Duration, float64, string) {
		if a < 15 && k%2 == 0 { // 7 of 12 requests slow: the median request is slow
			return time.Second, 10, StatusOK
		}
		return time.Second, 60, StatusOK
	}
	res := EvaluateProbe(probe(100, closedLoop(100, -20*sec, 140*sec, 10*sec, shape)), testRules, []Tier{t20})
	tr := res.Tiers[0]
	if tr.Passed || tr.AgentsMeeting != 85 {
		t.Fatalf("tier = %+v", tr)
	}
	if tr.MetShareLower < 0.9 || hasReason(tr.Reasons, "lower bound") {
		t.Fatalf("per-request share should pass: lower %v, reasons %v", tr.MetShareLower, tr.Reasons)
	}
	if !hasReason(tr.Reasons, "85 of 100 agents") {
		t.Fatalf("reasons = %v", tr.Reasons)
	}
}

func TestAgentMedianRequest(t *testing.T) {
	tests := []struct {
		name string
		reqs []RequestTiming
		want bool
	}{
		{"median TTFT and median rate both good", []RequestTiming{
			okT(1*sec, 30), okT(1*sec, 30), okT(20*sec, 5)}, true},
		{"median TTFT late", []RequestTiming{okT(11*sec, 30), okT(12*sec, 30), okT(1*sec, 30)}, false},
		{"medians taken separately", []RequestTiming{okT(1*sec, 5), okT(1*sec, 30), okT(20*sec, 30)}, true},
		{"errors count as worst", []RequestTiming{okT(1*sec, 30), {Status: StatusError}, {Status: StatusTruncated}}, false},
		// Nearest-rank takes the lower middle value: the faster TTFT but the slower rate.
		{"even count: lower middle TTFT", []RequestTiming{okT(1*sec, 30), okT(20*sec, 30)}, true},
		{"even count: lower middle rate", []RequestTiming{okT(1*sec, 30), okT(1*sec, 5)}, false},
		{"single-token requests judged on TTFT", []RequestTiming{
			{TSendNs: 0, TFirstNs: sec, TLastNs: sec, CompletionTokens: 1, Status: StatusOK}}, true},
		{"no requests", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewProbeAccumulator(ProbeInput{Agents: 1, WindowStartNs: 0, WindowEndNs: 1000 * sec}, testRules, []Tier{t20})
			idx := a.agentIndex(7)
			for _, r := range tc.reqs {
				a.Add(&Request{Agent: 7, TSendNs: r.TSendNs, TFirstNs: r.TFirstNs, TLastNs: r.TLastNs,
					CompletionTokens: r.CompletionTokens, Status: r.Status})
			}
			if got := a.meets(int(idx), 0); got != tc.want {
				t.Fatalf("meets = %v, want %v (%+v, within %v slow %v)", got, tc.want, a.agents[idx], a.within, a.slow)
			}
		})
	}
}

func okT(ttft int64, rate float64) RequestTiming {
	first := int64(1)*sec + ttft
	return RequestTiming{TSendNs: sec, TFirstNs: first, TLastNs: first + int64(100/rate*1e9), CompletionTokens: 101, Status: StatusOK}
}

func TestEvaluateProbeFailures(t *testing.T) {
	tests := []struct {
		name         string
		in           ProbeInput
		valid        bool
		conclusive   bool
		reason       string
		wantAnyTiers bool
	}{
		{
			name: "errors above 1%",
			in: probe(20, closedLoop(20, -20*sec, 140*sec, 5*sec, func(a, k int) (time.Duration, float64, string) {
				if a == 0 && k%4 == 0 {
					return time.Second, 60, StatusError
				}
				return fast(a, k)
			})),
			valid: true, conclusive: true, reason: "error share",
		},
		{
			name: "an agent completed nothing in the window",
			in: probe(20, closedLoop(20, -20*sec, 140*sec, 5*sec, func(a, k int) (time.Duration, float64, string) {
				if a == 3 {
					return time.Second, 60, StatusError
				}
				return fast(a, k)
			})),
			valid: true, conclusive: true, reason: "completed no request",
		},
		{
			name:  "active sessions short of N",
			in:    probe(21, closedLoop(20, -20*sec, 140*sec, 5*sec, fast)),
			valid: false, conclusive: true, reason: "active sessions",
		},
		{
			name: "unhealthy client",
			in: func() ProbeInput {
				p := probe(20, closedLoop(20, -20*sec, 140*sec, 5*sec, fast))
				p.Client.SchedLagP99Ns = int64(20 * time.Millisecond)
				return p
			}(),
			valid: false, conclusive: true, reason: "scheduling lag",
		},
		{
			name: "window too short",
			in: func() ProbeInput {
				p := probe(20, closedLoop(20, -20*sec, 140*sec, 5*sec, fast))
				p.WindowEndNs = 90 * sec
				return p
			}(),
			valid: true, conclusive: false, reason: "shorter than",
		},
		{
			name:  "too few requests",
			in:    probe(2, closedLoop(2, -20*sec, 140*sec, 5*sec, fast)),
			valid: true, conclusive: false, reason: "fewer than 100",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := EvaluateProbe(tc.in, testRules, []Tier{t20})
			if res.Valid != tc.valid || res.Conclusive != tc.conclusive {
				t.Fatalf("valid=%v conclusive=%v, want %v %v; %v %v", res.Valid, res.Conclusive,
					tc.valid, tc.conclusive, res.InvalidReasons, res.InconclusiveReasons)
			}
			tr := res.Tiers[0]
			if tr.Passed || !hasReason(tr.Reasons, tc.reason) {
				t.Fatalf("passed=%v reasons=%v, want a reason with %q", tr.Passed, tr.Reasons, tc.reason)
			}
		})
	}
}

func TestEvaluateProbeCountsOnlyWindowSends(t *testing.T) {
	recs := closedLoop(20, -20*sec, 140*sec, 5*sec, fast)
	// Slow requests sent before the window (warm-up) do not count.
	for i := range recs {
		if recs[i].TSendNs < 0 {
			recs[i].TFirstNs = recs[i].TSendNs + 30*sec
			recs[i].TLastNs = recs[i].TFirstNs + sec
		}
	}
	res := EvaluateProbe(probe(20, recs), testRules, []Tier{t20})
	if !res.Tiers[0].Passed {
		t.Fatalf("reasons %v", res.Tiers[0].Reasons)
	}
}

func TestEvaluateProbeCachedShare(t *testing.T) {
	recs := closedLoop(20, -20*sec, 140*sec, 5*sec, fast)
	for i := range recs {
		recs[i].PromptTokens = 1000
		if i%2 == 0 {
			recs[i].CachedTokens = Int(900)
		}
	}
	res := EvaluateProbe(probe(20, recs), testRules, []Tier{t20})
	if res.CachedTokenShare != 0.9 || res.CachedReported == 0 {
		t.Fatalf("cached share %v over %d", res.CachedTokenShare, res.CachedReported)
	}
}

func hasReason(reasons []string, sub string) bool {
	for _, r := range reasons {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

// TestTierNeedsLowerBoundNotShare pins the tier criterion to the one-sided
// Clopper–Pearson lower bound: 440 of 480 requests meeting the tier is an
// observed share of 0.9167, above min_met_share 0.90, but its 99% lower
// bound is 0.8827, so the tier fails. A criterion on the plain share would
// pass it. Every agent meets the tier on its median request, so only the
// bound can fail the tier.
func TestTierNeedsLowerBoundNotShare(t *testing.T) {
	// Sends at k = 4..27 fall in the window; two of them per agent are slow.
	shape := func(_, k int) (time.Duration, float64, string) {
		if k == 10 || k == 20 {
			return 20 * time.Second, 60, StatusOK
		}
		return time.Second, 60, StatusOK
	}
	res := EvaluateProbe(probe(20, closedLoop(20, -20*sec, 140*sec, 5*sec, shape)), testRules, []Tier{t20})
	if !res.Valid || !res.Conclusive {
		t.Fatalf("valid=%v %v conclusive=%v %v", res.Valid, res.InvalidReasons, res.Conclusive, res.InconclusiveReasons)
	}
	tr := res.Tiers[0]
	if tr.Met != 440 || res.Requests != 480 {
		t.Fatalf("met %d of %d, want 440 of 480", tr.Met, res.Requests)
	}
	if tr.AgentsMeeting != 20 {
		t.Fatalf("agents meeting = %d, want 20", tr.AgentsMeeting)
	}
	if got, want := tr.MetShare, 440.0/480; got != want {
		t.Fatalf("met share = %v, want %v", got, want)
	}
	// The bound is derived here from its definition, independently of
	// ClopperPearsonLower: the p at which P(X ≥ 440 | n=480, p) = 0.01.
	want := bisectUpperTail(440, 480, 0.01)
	if math.Abs(want-0.8827) > 5e-5 {
		t.Fatalf("independent bound = %.5f, want 0.8827", want)
	}
	if lo := tr.MetShareLower; math.Abs(lo-want) > 1e-6 {
		t.Fatalf("met share lower bound = %.6f, want %.6f", lo, want)
	}
	if tr.Passed {
		t.Fatalf("tier passed on an observed share of %.4f whose 99%% lower bound is %.4f", tr.MetShare, tr.MetShareLower)
	}
}

// bisectUpperTail finds p with P(X ≥ x | n, p) = alpha by summing the
// binomial pmf in log space: a derivation that shares no code with the
// incomplete-beta route of ClopperPearsonLower.
func bisectUpperTail(x, n int, alpha float64) float64 {
	tail := func(p float64) float64 {
		var s float64
		for k := x; k <= n; k++ {
			lc, _ := math.Lgamma(float64(n + 1))
			lk, _ := math.Lgamma(float64(k + 1))
			lnk, _ := math.Lgamma(float64(n - k + 1))
			s += math.Exp(lc - lk - lnk + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
		}
		return s
	}
	lo, hi := 0.0, float64(x)/float64(n)
	for range 200 {
		mid := (lo + hi) / 2
		if tail(mid) < alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}
