package metrics

import (
	"math"
	"testing"
)

func TestOutputTokensInWindow(t *testing.T) {
	tests := []struct {
		name       string
		r          Request
		start, end int64
		want       float64
	}{
		{"inside", Request{TFirstNs: 10, TLastNs: 20, CompletionTokens: 11}, 0, 100, 11},
		{"first token only inside", Request{TFirstNs: 10, TLastNs: 110, CompletionTokens: 101}, 0, 11, 1 + 1},
		{"second half of the decode", Request{TFirstNs: 100, TLastNs: 200, CompletionTokens: 101}, 150, 300, 50},
		{"one event", Request{TFirstNs: 10, TLastNs: 10, CompletionTokens: 7}, 0, 100, 7},
		{"one event outside", Request{TFirstNs: 10, TLastNs: 10, CompletionTokens: 7}, 11, 100, 0},
		{"single token", Request{TFirstNs: 10, TLastNs: 10, CompletionTokens: 1}, 0, 100, 1},
		{"no output", Request{TSendNs: 5, TLastNs: 9, CompletionTokens: 0}, 0, 100, 0},
		{"errored with output counts", Request{TFirstNs: 10, TLastNs: 20, CompletionTokens: 3, Status: StatusError}, 0, 100, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := OutputTokensInWindow([]Request{tc.r}, tc.start, tc.end); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("OutputTokensInWindow = %v, want %v", got, tc.want)
			}
		})
	}
	rate := OutputTokensPerSecond([]Request{{TFirstNs: 1, TLastNs: 2e9, CompletionTokens: 4000}}, 0, 2e9)
	if math.Abs(rate-2000) > 1e-3 {
		t.Fatalf("OutputTokensPerSecond = %v, want 2000", rate)
	}
}
