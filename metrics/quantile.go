package metrics

import (
	"math"
	"slices"
)

// Quantile is the nearest-rank q-quantile of an ascending slice: the value of
// rank ⌈q·n⌉ (1-based), and the smallest value for q = 0. It returns NaN for an
// empty slice or q outside [0, 1]. q·n within 1e-9 of an integer counts as
// that integer, so that Quantile(x, 0.7) on ten values is the 7th, not the 8th,
// despite 0.7·10 = 7.000000000000001 in floating point.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	return sorted[nearestRank(n, q)-1]
}

// QuantileOf sorts a copy of values and returns its nearest-rank q-quantile.
func QuantileOf(values []float64, q float64) float64 {
	s := slices.Clone(values)
	slices.Sort(s)
	return Quantile(s, q)
}

// QuantileInt64Of is QuantileOf for integers (nanosecond durations); it
// returns 0 for an empty slice.
func QuantileInt64Of(values []int64, q float64) int64 {
	n := len(values)
	if n == 0 || !(q >= 0 && q <= 1) {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	return s[nearestRank(n, q)-1]
}

// Median is the nearest-rank median of an ascending slice: for an even count
// the lower of the two middle values.
func Median(sorted []float64) float64 { return Quantile(sorted, 0.5) }

// Mean is the arithmetic mean; NaN for an empty slice.
func Mean(values []float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	var s float64
	for _, v := range values {
		s += v
	}
	return s / float64(len(values))
}

// nearestRank is ⌈q·n⌉ clamped to [1, n], with a tolerance of 1e-9 for
// floating-point products that land just above an integer.
func nearestRank(n int, q float64) int {
	x := q * float64(n)
	r := math.Round(x)
	if math.Abs(x-r) > 1e-9 {
		r = math.Ceil(x)
	}
	k := int(r)
	return min(max(k, 1), n)
}
