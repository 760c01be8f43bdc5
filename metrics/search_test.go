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

// After a failed confirmation the search steps down to an N whose bracket
// is resolved: from 352 at 2% that is 345 (344 would leave [344, 352), 8
// wide, against a step of 7 at 344).
func TestSearchStepDown(t *testing.T) {
	for _, tc := range []struct{ hi, min, want int }{{352, 1, 345}, {1000, 1, 980}, {10, 1, 9}, {1, 1, 0}, {100, 8, 92}, {5, 8, 0}} {
		got := SearchStepDown(tc.hi, 0.02, tc.min)
		if got != tc.want || (got > 0 && !SearchResolved(got, tc.hi, 0.02, tc.min)) {
			t.Errorf("SearchStepDown(%d, min %d) = %d, want %d", tc.hi, tc.min, got, tc.want)
		}
	}
}
