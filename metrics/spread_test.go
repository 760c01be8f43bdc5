package metrics

import (
	"math"
	"testing"
)

func TestSpreadOf(t *testing.T) {
	tests := []struct {
		name     string
		values   []float64
		want     Spread
		ok       bool
		relative float64
	}{
		{"one run", []float64{5}, Spread{5, 5, 5}, true, 0},
		{"odd count", []float64{9, 3, 6}, Spread{3, 6, 9}, true, 1},
		{"even count takes the lower middle", []float64{4, 1, 3, 2}, Spread{1, 2, 4}, true, 1.5},
		{"none", nil, Spread{}, false, 0},
		{"not a number", []float64{1, math.NaN()}, Spread{}, false, 0},
		{"infinite", []float64{1, math.Inf(1)}, Spread{}, false, 0},
		{"zero median", []float64{0, 0, 1}, Spread{0, 0, 1}, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := SpreadOf(tt.values)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("SpreadOf(%v) = %+v, %v; want %+v, %v", tt.values, got, ok, tt.want, tt.ok)
			}
			if r := got.Relative(); r != tt.relative {
				t.Errorf("Relative() = %v, want %v", r, tt.relative)
			}
		})
	}
}

func TestSpreadOfLeavesInputAlone(t *testing.T) {
	in := []float64{3, 1, 2}
	SpreadOf(in)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Fatalf("SpreadOf reordered its input: %v", in)
	}
}
