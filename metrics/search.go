package metrics

import "math"

// The capacity search's resolution, shared by the runner (which stops its
// bisection with it) and the verifier (which checks that a published N_max
// was resolved this finely).
//
//   - search step at N = max(minStep, ⌈precision · N⌉);
//   - a bracket [lo, hi) — lo the largest N known to pass, hi the smallest
//     known to fail — is resolved when hi − lo ≤ the search step at lo. The
//     result is lo.

// SearchStep is the search's resolution at n: max(minStep, ⌈precision·n⌉),
// at least 1.
func SearchStep(n int, precision float64, minStep int) int {
	s := int(math.Ceil(precision*float64(max(n, 0)) - 1e-9))
	return max(s, minStep, 1)
}

// SearchResolved reports whether the bracket [lo, hi) is resolved: hi − lo ≤
// SearchStep(lo).
func SearchResolved(lo, hi int, precision float64, minStep int) bool {
	return hi-lo <= SearchStep(lo, precision, minStep)
}
