package verifier

import (
	"fmt"
	"slices"

	"github.com/agentwatt/agentwatt/spec"
)

// KeyScope is what an enrolled key may sign: results of its pools; a sim
// key only simulated results of pool sim. A key without a scope (enrolled
// before pools existed, a runners.json of version 1, a bare public key)
// vouches for simulated results only.
type KeyScope struct {
	Pools []string `json:"pools"`
	Sim   bool     `json:"sim"`
}

// allows says why a key of scope s (nil: unknown) may not sign a result of
// pool (empty: not named) that is simulated or not; "" when it may.
func (s *KeyScope) allows(pool string, simulated bool) string {
	switch {
	case s == nil && !simulated:
		return "the key has no published scope (pools): it vouches for simulated results only; re-enrol it with 'agentwatt runner trust --pool' or use the current runners.json"
	case s == nil:
		if pool != "" && pool != spec.Sim {
			return fmt.Sprintf("the key has no published scope (pools): it vouches for pool %s only, the result is of pool %s", spec.Sim, pool)
		}
	case s.Sim && !simulated:
		return "a sim runner's key signed a result that is not simulated"
	case s.Sim && pool != "" && pool != spec.Sim:
		return fmt.Sprintf("a sim runner's key signed a result of pool %s", pool)
	case pool != "" && !slices.Contains(s.Pools, pool):
		return fmt.Sprintf("the key is enrolled for pools %v, the result is of pool %s", s.Pools, pool)
	}
	return ""
}
