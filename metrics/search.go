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

// SearchStepDown is where the search goes after N=hi failed a confirmation:
// the smallest N whose bracket [N, hi) is still resolved, one search step
// below hi as seen from N. Stepping down by SearchStep(hi) instead can land
// one below it (the step shrinks with N), on an N_max whose bracket is wider
// than its own step: unresolved, as the verifier rightly says.
func SearchStepDown(hi int, precision float64, minStep int) int {
	lo := max(hi-SearchStep(hi, precision, minStep), 0)
	for lo < hi && !SearchResolved(lo, hi, precision, minStep) {
		lo++
	}
	return lo
}
