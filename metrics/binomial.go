package metrics

import "math"

// ClopperPearsonLower is the one-sided lower confidence bound of a binomial
// proportion after `successes` out of n trials: the largest p such that
// P(X ≥ successes | n, p) ≤ 1 − confidence. It equals the (1 − confidence)
// quantile of Beta(successes, n − successes + 1); 0 when successes = 0 (or
// n = 0) and (1 − confidence)^(1/n) when successes = n. It returns NaN for
// successes outside [0, n] or confidence outside (0, 1).
func ClopperPearsonLower(successes, n int, confidence float64) float64 {
	if !(confidence > 0 && confidence < 1) || successes < 0 || successes > n {
		return math.NaN()
	}
	if n == 0 || successes == 0 {
		return 0
	}
	alpha := 1 - confidence
	if successes == n {
		return math.Pow(alpha, 1/float64(n))
	}
	return BetaQuantile(alpha, float64(successes), float64(n-successes+1))
}

// BetaQuantile is the inverse of the regularized incomplete beta function in
// x: the x in [0, 1] with I_x(a, b) = p. It bisects, since I_x is monotone in
// x, to an interval of 1e-15 or the float64 resolution. NaN for p outside
// [0, 1] or non-positive a, b.
func BetaQuantile(p, a, b float64) float64 {
	if !(p >= 0 && p <= 1) || !(a > 0) || !(b > 0) {
		return math.NaN()
	}
	if p == 0 {
		return 0
	}
	if p == 1 {
		return 1
	}
	lo, hi := 0.0, 1.0
	for range 200 {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi || hi-lo < 1e-15 {
			break
		}
		if RegularizedIncompleteBeta(a, b, mid) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + (hi-lo)/2
}

// RegularizedIncompleteBeta is I_x(a, b) = B(x; a, b) / B(a, b), computed with
// the continued fraction of Numerical Recipes (betai/betacf, modified Lentz),
// using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction
// converges faster. NaN for non-positive a, b or x outside [0, 1], or when the
// fraction does not converge.
func RegularizedIncompleteBeta(a, b, x float64) float64 {
	if !(a > 0) || !(b > 0) || !(x >= 0 && x <= 1) {
		return math.NaN()
	}
	if x == 0 {
		return 0
	}
	if x == 1 {
		return 1
	}
	lab, _ := math.Lgamma(a + b)
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaContinuedFraction(a, b, x) / a
	}
	return 1 - front*betaContinuedFraction(b, a, 1-x)/b
}

// betaContinuedFraction evaluates the continued fraction for I_x(a, b) by the
// modified Lentz method. It needs O(√max(a, b)) terms; the cap is generous
// for windows of millions of requests.
func betaContinuedFraction(a, b, x float64) float64 {
	const (
		maxIter = 1_000_000
		eps     = 3e-16
		tiny    = 1e-300
	)
	qab, qap, qam := a+b, a+1, a-1
	c := 1.0
	d := 1 - qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			return h
		}
	}
	return math.NaN()
}
