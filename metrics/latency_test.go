package metrics

import (
	"testing"
	"time"
)

func TestInterTokenLatency(t *testing.T) {
	tests := []struct {
		name        string
		tokens      int
		first, last int64
		want        time.Duration
		ok          bool
	}{
		{"eleven tokens over a second", 11, 1e9, 2e9, 100 * time.Millisecond, true},
		{"one token", 1, 1e9, 1e9, 0, false},
		{"one event", 5, 1e9, 1e9, 0, false},
	}
	for _, tc := range tests {
		got, ok := InterTokenLatency(tc.tokens, tc.first, tc.last)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
		if rate, rok := DecodeRate(tc.tokens, tc.first, tc.last); rok && (rate*got.Seconds() < 0.999 || rate*got.Seconds() > 1.001) {
			t.Errorf("%s: ITL %v is not the inverse of the decode rate %v", tc.name, got, rate)
		}
	}
}

// TestWindowRequestStats: window requests only; errors and truncated ones
// counted but not in the percentiles; nearest-rank percentiles.
func TestWindowRequestStats(t *testing.T) {
	var recs []Request
	for i := range 100 {
		// TTFT (i+1) ms, then 11 tokens over (i+1)·10 ms.
		send := int64(10e9 + i*1e6)
		first := send + int64(i+1)*1e6
		recs = append(recs, Request{TSendNs: send, TFirstNs: first, TLastNs: first + int64(i+1)*1e7, CompletionTokens: 11, Status: StatusOK})
	}
	recs = append(recs,
		Request{TSendNs: 10e9, Status: StatusError},
		Request{TSendNs: 10e9, TFirstNs: 10e9 + 1, TLastNs: 11e9, CompletionTokens: 2, Status: StatusTruncated},
		Request{TSendNs: 9e9, TFirstNs: 9e9 + 1, TLastNs: 9e9 + 2, CompletionTokens: 2, Status: StatusOK},    // before the window
		Request{TSendNs: 20e9, TFirstNs: 20e9 + 1, TLastNs: 20e9 + 2, CompletionTokens: 2, Status: StatusOK}, // at its end: outside
	)
	s := WindowRequestStats(recs, 10e9, 20e9)
	if s.Requests != 102 || s.OK != 100 || s.Errors != 1 || s.Truncated != 1 {
		t.Fatalf("counts %+v", s)
	}
	near := func(got, want float64) bool { return got > want*0.999999 && got < want*1.000001 }
	if !near(s.TTFTS.P50, 0.050) || !near(s.TTFTS.P90, 0.090) || !near(s.TTFTS.P99, 0.099) {
		t.Errorf("TTFT %+v, want 50/90/99 ms", s.TTFTS)
	}
	if !near(s.ITLS.P50, 0.050/1) || !near(s.ITLS.P99, 0.099) {
		t.Errorf("ITL %+v, want 50 and 99 ms", s.ITLS)
	}
	if !near(s.E2ES.P90, 0.090*11) {
		t.Errorf("E2E %+v, want p90 990 ms", s.E2ES)
	}
	// Decode rate: 10 tokens / ((i+1)·10 ms) = 1000/(i+1); p50 is the 50th
	// smallest: i = 50 → 1000/51.
	if !near(s.DecodeTPS.P50, 1000.0/51) || !near(s.DecodeTPS.P99, 1000.0/2) {
		t.Errorf("decode %+v", s.DecodeTPS)
	}
	if z := WindowRequestStats(nil, 0, 1); z != (RequestStats{}) {
		t.Errorf("empty window: %+v", z)
	}
}
