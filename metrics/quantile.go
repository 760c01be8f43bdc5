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

// selectKth returns the k-th smallest (0-based) of values, reordering them
// so that values[:k] are ≤ it and values[k+1:] ≥ it: the value
// Quantile would read at rank k+1 of the sorted slice, found in linear
// expected time. Quickselect with a median-of-three pivot and a three-way
// partition; after 64 rounds the rest is sorted, which bounds the worst
// case. values must not hold NaN.
func selectKth(values []float64, k int) float64 {
	lo, hi := 0, len(values)
	for round := 0; hi-lo > 16; round++ {
		if round == 64 {
			break
		}
		p := median3(values[lo], values[lo+(hi-lo)/2], values[hi-1])
		// [lo, lt) < p, [lt, i) == p, [gt, hi) > p.
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch v := values[i]; {
			case v < p:
				values[lt], values[i] = v, values[lt]
				lt++
				i++
			case v > p:
				gt--
				values[i], values[gt] = values[gt], v
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return p
		}
	}
	slices.Sort(values[lo:hi])
	return values[k]
}

func median3(a, b, c float64) float64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}

// quantilePair is the nearest-rank p and q quantiles (p ≤ q) of values,
// which it reorders; 0 for an empty set or a non-finite quantile.
func quantilePair(values []float64, p, q float64) (float64, float64) {
	n := len(values)
	if n == 0 {
		return 0, 0
	}
	kp, kq := nearestRank(n, p)-1, nearestRank(n, q)-1
	vp := selectKth(values, kp)
	// values[kp+1:] now holds the values ranked above kp.
	vq := vp
	if kq > kp {
		vq = selectKth(values[kp+1:], kq-kp-1)
	}
	return zeroNaN(vp), zeroNaN(vq)
}
