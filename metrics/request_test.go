package metrics

import (
	"math"
	"testing"
	"time"
)

func TestTTFT(t *testing.T) {
	if got, want := TTFT(1_000, 2_500_001_000), 2500*time.Millisecond; got != want {
		t.Fatalf("TTFT = %v, want %v", got, want)
	}
}

func TestDecodeRate(t *testing.T) {
	tests := []struct {
		name        string
		tokens      int
		first, last int64
		want        float64
		wantOK      bool
	}{
		{"101 tokens over one second", 101, 1e9, 2e9, 100, true},
		{"two tokens 50 ms apart", 2, 0 + 10, 50e6 + 10, 20, true},
		{"one token has no rate", 1, 1e9, 1e9, 0, false},
		{"zero tokens", 0, 1e9, 2e9, 0, false},
		{"all tokens in one event", 50, 3e9, 3e9, 0, false},
		{"clock backwards", 50, 3e9, 2e9, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := DecodeRate(tc.tokens, tc.first, tc.last)
			if ok != tc.wantOK || math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("DecodeRate = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestMeetsTier(t *testing.T) {
	tier := Tier{Name: "t20", MinDecodeTPS: 20, MaxTTFT: 10 * time.Second}
	ok := func(send, first, last int64, tokens int) RequestTiming {
		return RequestTiming{TSendNs: send, TFirstNs: first, TLastNs: last, CompletionTokens: tokens, Status: StatusOK}
	}
	tests := []struct {
		name string
		r    RequestTiming
		want bool
	}{
		{"fast on both", ok(0, 1e9, 2e9, 41), true},
		{"TTFT exactly T", ok(5, 10e9+5, 12e9+5, 41), true},
		{"TTFT 1 ns over T", ok(5, 10e9+6, 12e9+6, 41), false},
		{"decode exactly S", ok(0, 1e9, 3e9, 41), true},
		{"decode just under S", ok(0, 1e9, 3e9+1, 41), false},
		{"slow decode fast TTFT", ok(0, 1, 10e9, 41), false},
		{"single token judged on TTFT", ok(0, 9e9, 9e9, 1), true},
		{"single token late", ok(0, 11e9, 11e9, 1), false},
		{"whole answer in one event judged on TTFT", ok(0, 2e9, 2e9, 500), true},
		{"errored never meets", RequestTiming{0, 1e9, 2e9, 41, StatusError}, false},
		{"truncated never meets", RequestTiming{0, 1e9, 2e9, 41, StatusTruncated}, false},
		{"no output event never meets", ok(1e9, 0, 1e9, 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MeetsTier(tc.r, tier); got != tc.want {
				t.Fatalf("MeetsTier(%+v) = %v, want %v", tc.r, got, tc.want)
			}
		})
	}
}
