package replay

import "fmt"

// Seeded choices. Everything an agent decides (its trajectories, start turn,
// sessions, which requests keep chunk timings) is a pure function of the
// run's seed and the agent's id, so that a run can be repeated.

// mix hashes values into one 64-bit number (SplitMix64 over a running
// state; not cryptographic, only well spread).
func mix(vals ...uint64) uint64 {
	h := uint64(0x6a09e667f3bcc909)
	for _, v := range vals {
		h ^= v
		h = splitmix(h)
	}
	return h
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// Domain tags keep the seeded streams apart.
const (
	tagOrder   = 0x6f72646572 // "order"
	tagStart   = 0x7374617274 // "start"
	tagSession = 0x73657373   // "sess"
	tagChunks  = 0x63686e6b   // "chnk"
	tagSub     = 0x737562     // "sub"
)

// permutation returns a seeded permutation of 0..n-1 (Fisher–Yates).
func permutation(n int, seed uint64) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(mix(seed, tagOrder, uint64(i)) % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// sessionID is the id of agent's seq-th trajectory session.
func sessionID(seed uint64, agent, seq int) uint64 {
	return mix(seed, tagSession, uint64(agent), uint64(seq))
}

// subSessionID is the id of a sub-agent's session within its parent's.
func subSessionID(parent uint64, path int) uint64 { return mix(parent, tagSub, uint64(path)) }

func sessionName(id uint64) string { return fmt.Sprintf("%016x", id) }

// sampled reports whether a request keeps the arrival of every chunk: a
// seeded share of requests.
func sampled(seed, session uint64, turn int, share float64) bool {
	if share <= 0 {
		return false
	}
	if share >= 1 {
		return true
	}
	return unit(mix(seed, tagChunks, session, uint64(turn))) < share
}

// startChoice is where agent id begins: a position in the run's trajectory
// order and a turn of that trajectory.
func startChoice(seed uint64, agent, trajectories int) (pos int, draw uint64) {
	h := mix(seed, tagStart, uint64(agent))
	return int(h % uint64(trajectories)), mix(h, 1)
}

// pick maps a hash to [0, n).
func pick(h uint64, n int) int {
	if n <= 1 {
		return 0
	}
	return int(h % uint64(n))
}
