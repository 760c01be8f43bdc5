package metrics

import (
	"math"
	"testing"
)

func TestRegularizedIncompleteBeta(t *testing.T) {
	tests := []struct {
		name    string
		a, b, x float64
		want    float64
	}{
		// I_x(1, 1) = x.
		{"uniform", 1, 1, 0.37, 0.37},
		// I_x(a, 1) = x^a.
		{"b=1 is a power", 3.5, 1, 0.6, math.Pow(0.6, 3.5)},
		// I_x(1, b) = 1 − (1 − x)^b.
		{"a=1", 1, 7, 0.2, 1 - math.Pow(0.8, 7)},
		// I_x(½, ½) = (2/π) arcsin √x.
		{"arcsine", 0.5, 0.5, 0.3, 2 / math.Pi * math.Asin(math.Sqrt(0.3))},
		// I_x(2, 2) = 3x² − 2x³.
		{"a=b=2", 2, 2, 0.75, 3*0.5625 - 2*0.421875},
		// Values computed with mpmath.betainc(a, b, 0, x, regularized=True), 30 digits.
		{"mpmath 2.5,7.25", 2.5, 7.25, 0.2, 0.38444272519976461},
		{"mpmath 100,200", 100, 200, 0.33, 0.4566181633339974},
		{"x=0", 2, 3, 0, 0},
		{"x=1", 2, 3, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RegularizedIncompleteBeta(tc.a, tc.b, tc.x)
			if math.Abs(got-tc.want) > 1e-13 {
				t.Fatalf("I_%v(%v, %v) = %.17g, want %.17g", tc.x, tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// TestIncompleteBetaIsBinomialTail checks P(X ≥ k) for X ~ Binomial(n, p),
// summed term by term, against I_p(k, n − k + 1).
func TestIncompleteBetaIsBinomialTail(t *testing.T) {
	for _, n := range []int{1, 2, 5, 17, 60} {
		for _, p := range []float64{0.01, 0.3, 0.5, 0.9, 0.999} {
			for k := 1; k <= n; k++ {
				var tail float64
				for j := k; j <= n; j++ {
					lc := lchoose(n, j)
					tail += math.Exp(lc + float64(j)*math.Log(p) + float64(n-j)*math.Log1p(-p))
				}
				got := RegularizedIncompleteBeta(float64(k), float64(n-k+1), p)
				if math.Abs(got-tail) > 1e-12*math.Max(1, tail) {
					t.Fatalf("n=%d k=%d p=%v: I = %.15g, binomial tail = %.15g", n, k, p, got, tail)
				}
			}
		}
	}
}

func TestRegularizedIncompleteBetaInvalid(t *testing.T) {
	for _, c := range [][3]float64{{0, 1, 0.5}, {1, -1, 0.5}, {1, 1, -0.1}, {1, 1, 1.1}, {math.NaN(), 1, 0.5}} {
		if got := RegularizedIncompleteBeta(c[0], c[1], c[2]); !math.IsNaN(got) {
			t.Fatalf("I(%v) = %v, want NaN", c, got)
		}
	}
}

func TestClopperPearsonLower(t *testing.T) {
	tests := []struct {
		name       string
		x, n       int
		confidence float64
		want       float64
		tol        float64
	}{
		{"no successes", 0, 50, 0.99, 0, 0},
		{"no trials", 0, 0, 0.99, 0, 0},
		// x = n: (1 − c)^(1/n).
		{"all of 1", 1, 1, 0.99, 0.01, 1e-15},
		{"all of 100", 100, 100, 0.99, math.Pow(0.01, 0.01), 1e-15},
		{"all of 459", 459, 459, 0.99, math.Pow(0.01, 1.0/459), 1e-15},
		// x = 1: the α quantile of Beta(1, n) is 1 − c^(1/n).
		{"one of 10", 1, 10, 0.95, 1 - math.Pow(0.95, 0.1), 1e-13},
		{"one of 2 at 50%", 1, 2, 0.5, 1 - math.Sqrt(0.5), 1e-13},
		// Values computed with mpmath (bisection on betainc at 40 digits,
		// or on the exact binomial tail for n = 100000).
		{"90 of 100", 90, 100, 0.99, 0.808669714613969, 1e-12},
		{"950 of 1000", 950, 1000, 0.99, 0.93159510630436898, 1e-12},
		{"9 of 10 at 95%", 9, 10, 0.95, 0.60583669756349529, 1e-12},
		{"5 of 20 at 90%", 5, 20, 0.9, 0.12692605993580871, 1e-12},
		{"300 of 400", 300, 400, 0.99, 0.69602923024806016, 1e-12},
		{"9990 of 10000", 9990, 10000, 0.99, 0.99798655367800057, 1e-12},
		{"99500 of 100000", 99500, 100000, 0.99, 0.994456148769873, 1e-11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ClopperPearsonLower(tc.x, tc.n, tc.confidence)
			if math.Abs(got-tc.want) > tc.tol {
				t.Fatalf("ClopperPearsonLower(%d, %d, %v) = %.17g, want %.17g", tc.x, tc.n, tc.confidence, got, tc.want)
			}
		})
	}
}

// TestClopperPearsonDefinition checks the defining property on a grid: at the
// bound, P(X ≥ x | n, L) = 1 − c, and the bound increases with x.
func TestClopperPearsonDefinition(t *testing.T) {
	for _, n := range []int{3, 10, 57, 400} {
		prev := -1.0
		for x := 0; x <= n; x++ {
			l := ClopperPearsonLower(x, n, 0.99)
			if !(l > prev) && x > 0 {
				t.Fatalf("n=%d: bound not increasing at x=%d: %v after %v", n, x, l, prev)
			}
			prev = l
			if x == 0 {
				continue
			}
			if tail := RegularizedIncompleteBeta(float64(x), float64(n-x+1), l); math.Abs(tail-0.01) > 1e-9 {
				t.Fatalf("n=%d x=%d: P(X ≥ x | L=%v) = %v, want 0.01", n, x, l, tail)
			}
		}
	}
}

// TestBetaQuantileMatchesClosedFormAtAllSuccesses checks the general inverse
// (not the x = n shortcut) against (1 − c)^(1/n).
func TestBetaQuantileMatchesClosedFormAtAllSuccesses(t *testing.T) {
	for _, n := range []float64{1, 7, 100, 5000} {
		got := BetaQuantile(0.01, n, 1)
		if want := math.Pow(0.01, 1/n); math.Abs(got-want) > 1e-13 {
			t.Fatalf("n=%v: BetaQuantile = %.17g, want %.17g", n, got, want)
		}
	}
}

func TestClopperPearsonInvalid(t *testing.T) {
	for _, c := range []struct {
		x, n int
		conf float64
	}{{-1, 10, 0.99}, {11, 10, 0.99}, {5, 10, 0}, {5, 10, 1}, {5, 10, math.NaN()}} {
		if got := ClopperPearsonLower(c.x, c.n, c.conf); !math.IsNaN(got) {
			t.Fatalf("ClopperPearsonLower(%+v) = %v, want NaN", c, got)
		}
	}
}

func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

func BenchmarkClopperPearsonLower(b *testing.B) {
	for b.Loop() {
		ClopperPearsonLower(95_000, 100_000, 0.99)
	}
}
