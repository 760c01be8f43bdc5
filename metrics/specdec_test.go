package metrics

import (
	"math"
	"testing"
)

func TestSpecAcceptance(t *testing.T) {
	m := func(d, a float64) map[string]float64 {
		return map[string]float64{SpecDraftTokens: d, SpecAcceptedTokens: a}
	}
	tests := []struct {
		name       string
		start, end map[string]float64
		want       float64
		ok         bool
	}{
		{"window", m(300, 210), m(3300, 2310), 0.7, true},
		{"no drafts in window", m(300, 210), m(300, 210), 0, false},
		{"counter reset", m(300, 210), m(30, 21), 0, false},
		{"accepted above drafted", m(0, 0), m(10, 11), 0, false},
		{"missing at start", map[string]float64{}, m(10, 7), 0, false},
		{"nil", nil, nil, 0, false},
		{"infinite", m(0, 0), m(math.Inf(1), 1), 0, false},
	}
	for _, tt := range tests {
		got, ok := SpecAcceptance(tt.start, tt.end)
		if ok != tt.ok || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: got %g, %v, want %g, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
