package metrics

import (
	"math"
	"slices"
)

// Spread is the spread of one figure over a tier's repeated windows at
// N_max (benchmark.repeats): its smallest, nearest-rank median and largest
// value.
type Spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

// SpreadOf is the spread of values; ok is false when there are none or one
// is not a finite number.
func SpreadOf(values []float64) (s Spread, ok bool) {
	if len(values) == 0 {
		return Spread{}, false
	}
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Spread{}, false
		}
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return Spread{Min: sorted[0], Median: Median(sorted), Max: sorted[len(sorted)-1]}, true
}

// Relative is (Max − Min) / Median: the relative spread a change between
// framework versions must exceed (VersionChange's spread); 0 when the
// median is not positive.
func (s Spread) Relative() float64 {
	if !(s.Median > 0) {
		return 0
	}
	return (s.Max - s.Min) / s.Median
}
