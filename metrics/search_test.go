package metrics

import "testing"

func TestSearchStep(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		precision float64
		minStep   int
		want      int
	}{
		{"small n uses the minimum step", 10, 0.02, 1, 1},
		{"zero", 0, 0.02, 1, 1},
		{"2% of 1000", 1000, 0.02, 1, 20},
		{"2% of 1001 rounds up", 1001, 0.02, 1, 21},
		{"exact product is not rounded up", 50, 0.02, 1, 1},
		{"minimum step above the share", 100, 0.02, 5, 5},
		{"zero minimum still steps by one", 10, 0, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SearchStep(tc.n, tc.precision, tc.minStep); got != tc.want {
				t.Errorf("SearchStep(%d, %g, %d) = %d, want %d", tc.n, tc.precision, tc.minStep, got, tc.want)
			}
		})
	}
}

func TestSearchResolved(t *testing.T) {
	tests := []struct {
		name   string
		lo, hi int
		want   bool
	}{
		{"adjacent", 10, 11, true},
		{"gap of two at small n", 10, 12, false},
		{"nothing passes, 1 fails", 0, 1, true},
		{"within 2% at 1000", 1000, 1020, true},
		{"beyond 2% at 1000", 1000, 1021, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SearchResolved(tc.lo, tc.hi, 0.02, 1); got != tc.want {
				t.Errorf("SearchResolved(%d, %d) = %v, want %v", tc.lo, tc.hi, got, tc.want)
			}
		})
	}
}
