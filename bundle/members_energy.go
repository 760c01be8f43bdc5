package bundle

import (
	"slices"
	"strings"

	"github.com/agentwatt/agentwatt/metrics"
)

// MemberEnergy is one member's energy over a window.
type MemberEnergy struct {
	Member string
	Energy *WindowEnergy
}

// SumWindowEnergy is a group's energy over a window of windowS seconds in
// which outputTokens were generated: the sum of its members' window
// energies (each WindowEnergyFrom over the member's samples aligned on the
// leader's clock). Counter and instant energy and resets add up, the gap
// is the largest member's, the average power and joules per token follow
// from the summed counter energy, and each GPU is keyed
// "<member>/<gpu>". nil when any member's energy is nil: a window one
// member did not measure has no group energy.
func SumWindowEnergy(parts []MemberEnergy, windowS, outputTokens float64) *WindowEnergy {
	if len(parts) == 0 {
		return nil
	}
	parts = slices.Clone(parts)
	slices.SortFunc(parts, func(a, b MemberEnergy) int { return strings.Compare(a.Member, b.Member) })
	var counter, instant metrics.Energy
	var resets int
	var gap float64
	perGPU := map[string]float64{}
	for _, p := range parts {
		e := p.Energy
		if e == nil {
			return nil
		}
		counter.Joules += e.CounterJ
		instant.Joules += e.InstantJ
		resets += e.CounterResets
		gap = max(gap, e.MaxGapS)
		for g, j := range e.PerGPUCounterJ {
			perGPU[p.Member+"/"+g] = j
		}
	}
	sum := WindowEnergyOf(counter, instant, windowS, outputTokens, gap)
	sum.CounterResets = resets
	if len(perGPU) > 0 {
		sum.PerGPUCounterJ = perGPU
	}
	return sum
}
