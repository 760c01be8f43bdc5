package metrics

import (
	"math"
	"testing"
)

func TestVersionChange(t *testing.T) {
	for _, c := range []struct {
		name                          string
		prev, next, threshold, spread float64
		wantChange                    float64
		wantKind                      ChangeKind
		wantOK                        bool
	}{
		{"20% worse", 100, 80, 0.05, 0, -0.2, Regression, true},
		{"20% better", 100, 120, 0.05, 0, 0.2, Improvement, true},
		{"within the threshold", 100, 96, 0.05, 0, -0.04, "", true},
		{"at the threshold is not flagged", 100, 95, 0.05, 0, -0.05, "", true},
		{"the spread widens the band", 100, 90, 0.05, 0.15, -0.1, "", true},
		{"beyond the spread", 100, 80, 0.05, 0.15, -0.2, Regression, true},
		{"no previous figure", 0, 80, 0.05, 0, 0, "", false},
		{"previous not a number", math.NaN(), 80, 0.05, 0, 0, "", false},
		{"next not a number", 100, math.NaN(), 0.05, 0, 0, "", false},
	} {
		change, kind, ok := VersionChange(c.prev, c.next, c.threshold, c.spread)
		if ok != c.wantOK || kind != c.wantKind || !near(change, c.wantChange) {
			t.Errorf("%s: got (%v, %q, %v), want (%v, %q, %v)", c.name, change, kind, ok, c.wantChange, c.wantKind, c.wantOK)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-12 && b-a < 1e-12 }

// FuzzVersionChange: whatever the figures, a flagged change lies outside
// the band, an unflagged one inside it, and nothing is flagged without a
// positive previous figure.
func FuzzVersionChange(f *testing.F) {
	for _, s := range [][4]float64{{100, 80, 0.05, 0}, {100, 120, 0.05, 0}, {100, 96, 0.05, 0.1}, {0, 1, 0.05, 0}, {-1, 1, 0.05, 0}, {1e-300, 1e300, 0.05, 0}} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, prev, next, threshold, spread float64) {
		change, kind, ok := VersionChange(prev, next, threshold, spread)
		if !ok {
			if kind != "" {
				t.Fatalf("not comparable but flagged %q", kind)
			}
			return
		}
		if !(prev > 0) {
			t.Fatalf("compared against a previous figure of %v", prev)
		}
		band := math.Max(threshold, spread)
		switch kind {
		case Regression:
			if !(change < -band) {
				t.Fatalf("regression at change %v, band %v", change, band)
			}
		case Improvement:
			if !(change > band) {
				t.Fatalf("improvement at change %v, band %v", change, band)
			}
		case "":
			if change < -band || change > band {
				t.Fatalf("change %v outside the band %v not flagged", change, band)
			}
		default:
			t.Fatalf("kind %q", kind)
		}
	})
}
