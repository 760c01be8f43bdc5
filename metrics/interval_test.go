package metrics

import (
	"math"
	"testing"
)

func TestTimeAveraged(t *testing.T) {
	tests := []struct {
		name       string
		ivs        []Interval
		start, end int64
		want       float64
	}{
		{"one covering", []Interval{{0, 100}}, 10, 20, 1},
		{"two covering half each", []Interval{{0, 15}, {15, 30}}, 10, 20, 1},
		{"overlapping pair", []Interval{{0, 30}, {0, 30}}, 10, 20, 2},
		{"half covered", []Interval{{15, 40}}, 10, 20, 0.5},
		{"outside", []Interval{{0, 10}, {20, 30}}, 10, 20, 0},
		{"empty window", []Interval{{0, 10}}, 10, 10, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TimeAveraged(tc.ivs, tc.start, tc.end); math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("TimeAveraged = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAgentActivity(t *testing.T) {
	req := func(agent int, sub string, send, last int64) Request {
		return Request{Agent: agent, Subagent: sub, TSendNs: send, TLastNs: last, Status: StatusOK, TFirstNs: send + 1}
	}
	records := []Request{
		req(1, "", 0, 10),
		req(1, "", 15, 30), // 5 ns of think time: joined
		req(1, "", 100, 120),
		req(2, "", 5, 8),
		req(2, "explore", 0, 500), // sub-agent: ignored
		{Agent: 3, TSendNs: 40, TLastNs: 0, Status: StatusError}, // no output: [40, 40)
	}
	got := AgentActivity(records, 20)
	want := []Interval{{0, 30}, {100, 120}, {5, 8}, {40, 40}}
	if len(got) != len(want) {
		t.Fatalf("AgentActivity = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("AgentActivity = %v, want %v", got, want)
		}
	}
	joined := AgentActivity(records, 0)
	if joined[0] != (Interval{0, 120}) {
		t.Fatalf("maxGap 0 must join every gap, got %v", joined)
	}
	if got := TimeAveraged(joined, 0, 120); math.Abs(got-(120+3)/120.0) > 1e-12 {
		t.Fatalf("active sessions = %v", got)
	}
}

func TestRequestIntervals(t *testing.T) {
	got := RequestIntervals([]Request{{TSendNs: 5, TLastNs: 9}, {TSendNs: 7, TLastNs: 0}})
	if got[0] != (Interval{5, 9}) || got[1] != (Interval{7, 7}) {
		t.Fatalf("RequestIntervals = %v", got)
	}
}
