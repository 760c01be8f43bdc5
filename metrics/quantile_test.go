package metrics

import (
	"math"
	"testing"
)

func TestQuantileNearestRank(t *testing.T) {
	ten := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name   string
		values []float64
		q      float64
		want   float64
	}{
		{"q=0 is the minimum", ten, 0, 1},
		{"p10 of ten", ten, 0.1, 1},
		{"median of ten is the lower middle", ten, 0.5, 5},
		{"p70 of ten despite 0.7*10 rounding up", ten, 0.7, 7},
		{"p90 of ten", ten, 0.9, 9},
		{"p99 of ten", ten, 0.99, 10},
		{"q=1 is the maximum", ten, 1, 10},
		{"median of odd count", []float64{3, 1, 2}, 0.5, 2},
		{"single value", []float64{42}, 0.9, 42},
		{"p90 of 20 is the 18th", seq(20), 0.9, 18},
		{"p99 of 1000 is the 990th", seq(1000), 0.99, 990},
		{"p50 of 7 is the 4th", seq(7), 0.5, 4},
		{"p1 of 7 is the 1st", seq(7), 0.01, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := QuantileOf(tc.values, tc.q); got != tc.want {
				t.Fatalf("QuantileOf(q=%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestQuantileInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []float64
		q      float64
	}{{"empty", nil, 0.5}, {"q below 0", seq(3), -0.1}, {"q above 1", seq(3), 1.1}, {"q NaN", seq(3), math.NaN()}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Quantile(tc.values, tc.q); !math.IsNaN(got) {
				t.Fatalf("Quantile = %v, want NaN", got)
			}
		})
	}
}

func TestQuantileOfDoesNotReorderInput(t *testing.T) {
	in := []float64{3, 1, 2}
	QuantileOf(in, 0.5)
	if in[0] != 3 || in[1] != 1 || in[2] != 2 {
		t.Fatalf("input reordered: %v", in)
	}
}

func TestQuantileInt64Of(t *testing.T) {
	if got, want := QuantileInt64Of([]int64{50, 10, 40, 20, 30}, 0.99), int64(50); got != want {
		t.Fatalf("p99 = %d, want %d", got, want)
	}
	if got, want := QuantileInt64Of([]int64{50, 10, 40, 20, 30}, 0.5), int64(30); got != want {
		t.Fatalf("p50 = %d, want %d", got, want)
	}
	if got := QuantileInt64Of(nil, 0.5); got != 0 {
		t.Fatalf("empty = %d, want 0", got)
	}
}

func TestMeanAndMedian(t *testing.T) {
	if got, want := Mean([]float64{1, 2, 3, 10}), 4.0; got != want {
		t.Fatalf("Mean = %v, want %v", got, want)
	}
	if !math.IsNaN(Mean(nil)) {
		t.Fatal("Mean(nil) is not NaN")
	}
	if got, want := Median([]float64{1, 2, 3, 10}), 2.0; got != want {
		t.Fatalf("Median = %v, want %v", got, want)
	}
}

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(n - i) // descending, so QuantileOf must sort
	}
	return out
}
