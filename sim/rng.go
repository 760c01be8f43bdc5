package sim

import "math"

// splitmix64 is the finaliser of SplitMix64: a cheap, well-mixed bijection on
// uint64. Everything seeded in the sim derives its stream from it, so that a
// seed and an arrival sequence give the same run.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// mix combines values into one seed.
func mix(vals ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc909)
	for _, v := range vals {
		h = splitmix64(h ^ v)
	}
	return h
}

// rng is a small deterministic generator (SplitMix64 sequence). Not safe for
// concurrent use; each request owns its own.
type rng struct{ s uint64 }

func newRNG(seed uint64) *rng { return &rng{s: seed} }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// intn returns a uniform int in [0, n); n must be > 0.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// chance reports true with probability p (p ≤ 0 never, p ≥ 1 always). It
// always consumes one draw, so later draws do not depend on p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// unitFloat maps a hash to [0, 1).
func unitFloat(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// expTokens draws 1 + floor(Exp(mean)): a natural output length.
func (r *rng) expTokens(mean float64) int {
	u := 1 - r.float() // (0, 1]
	v := -mean * math.Log(u)
	if v > 1e9 {
		v = 1e9
	}
	return 1 + int(v)
}
