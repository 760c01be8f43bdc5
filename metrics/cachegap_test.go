package metrics

import (
	"math"
	"testing"
)

// The theoretical share is Σ hit / Σ target prompt over the window
// requests that did not error; records outside the window or unknown to
// the workload do not count.
func TestTheoreticalCacheShare(t *testing.T) {
	hits := map[int][2]int64{0: {60, 100}, 1: {0, 100}, 2: {100, 100}, 3: {90, 100}}
	in := ProbeInput{Agents: 1, WindowStartNs: 0, WindowEndNs: 100e9,
		TheoreticalCache: func(r *Request) (int64, int64, bool) {
			h, ok := hits[r.Turn]
			return h[0], h[1], ok
		}}
	rec := func(turn int, send int64, status string, cached int) Request {
		return Request{Agent: 1, Turn: turn, TSendNs: send, TFirstNs: send + 1e8, TLastNs: send + 2e8, Status: status,
			PromptTokens: 100, CachedTokens: Int(cached), CompletionTokens: 2}
	}
	in.Records = []Request{
		rec(0, 1e9, StatusOK, 10), rec(1, 2e9, StatusOK, 0), rec(2, 3e9, StatusError, 0),
		rec(3, 200e9, StatusOK, 0), // after the window
		rec(9, 4e9, StatusOK, 0),   // not in the workload
	}
	res := EvaluateProbe(in, ProbeRules{}, nil)
	if res.TheoreticalCacheShare == nil || math.Abs(*res.TheoreticalCacheShare-0.3) > 1e-12 {
		t.Fatalf("theoretical share: got %v, want 0.3 = 60/200", res.TheoreticalCacheShare)
	}
	if gap, noted := CacheGap(&res); !noted || math.Abs(gap-(0.3-res.CachedTokenShare)) > 1e-12 {
		t.Errorf("gap 0.3 − %.3f: got %v noted=%v, want noted", res.CachedTokenShare, gap, noted)
	}
	in.TheoreticalCache = nil
	if res := EvaluateProbe(in, ProbeRules{}, nil); res.TheoreticalCacheShare != nil {
		t.Errorf("without a workload: got a theoretical share %v", *res.TheoreticalCacheShare)
	}
}

func TestCacheGap(t *testing.T) {
	share := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		name string
		r    ProbeResult
		want bool
	}{
		{"close", ProbeResult{TheoreticalCacheShare: share(0.9), CachedTokenShare: 0.85, CachedReported: 10}, false},
		{"far", ProbeResult{TheoreticalCacheShare: share(0.9), CachedTokenShare: 0.1, CachedReported: 10}, true},
		{"engine above the theory", ProbeResult{TheoreticalCacheShare: share(0.2), CachedTokenShare: 0.9, CachedReported: 10}, false},
		{"not reported", ProbeResult{TheoreticalCacheShare: share(0.9)}, false},
		{"no theory (older bundle)", ProbeResult{CachedTokenShare: 0.1, CachedReported: 10}, false},
	} {
		if _, got := CacheGap(&c.r); got != c.want {
			t.Errorf("%s: noted %v, want %v", c.name, got, c.want)
		}
	}
}
