package verifier

import (
	"fmt"
	"slices"
	"time"

	"github.com/agentwatt/agentwatt/spec"
)

// KeyScope is what an enrolled key may sign: results of its pools; a sim
// key only simulated results of its sim pools ("sim", "simx<N>",
// spec.SimPool). A key without a scope (enrolled before pools existed, a
// runners.json of version 1, a bare public key) vouches for simulated
// results of sim pools only.
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
		if pool != "" && !spec.SimPool(pool) {
			return fmt.Sprintf("the key has no published scope (pools): it vouches for sim pools only, the result is of pool %s", pool)
		}
	case !simulated && spec.SimPool(pool):
		return fmt.Sprintf("a result of the simulated pool %s that is not simulated", pool)
	case s.Sim && !simulated:
		return "a sim runner's key signed a result that is not simulated"
	case s.Sim && pool != "" && !spec.SimPool(pool):
		return fmt.Sprintf("a sim runner's key signed a result of pool %s", pool)
	case pool != "" && !slices.Contains(s.Pools, pool):
		return fmt.Sprintf("the key is enrolled for pools %v, the result is of pool %s", s.Pools, pool)
	}
	return ""
}

// Revocation is when and why a trusted key was revoked. The bundles it
// signed before stay trusted (they were verified while the key was); one
// whose attempt started, or whose manifest was signed, at or after At is
// rejected. Offline, without the job record, the signing time is the
// manifest's own claim: a thief of the key could backdate it, which is
// why the daemon judges by the queue's record of when the attempt started.
type Revocation struct {
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// revokedFails says why a bundle signed at signed by key name, for an
// attempt started at started (zero: no job record), may not be trusted
// given rev; nil when it was made before the revocation.
func revokedFails(name string, rev Revocation, signed, started time.Time, online bool) []string {
	at := rev.At.UTC().Format(time.RFC3339)
	who := fmt.Sprintf("key %s was revoked at %s by %s (%s)", name, at, firstOf(rev.By, "?"), firstOf(rev.Reason, "no reason given"))
	var fails []string
	switch {
	case online && started.IsZero():
		fails = append(fails, who+": the job record does not say when the attempt started, so the bundle cannot be shown to predate it")
	case !started.IsZero() && !started.Before(rev.At):
		fails = append(fails, fmt.Sprintf("%s: the attempt started at %s, after the revocation", who, started.UTC().Format(time.RFC3339)))
	}
	if !signed.Before(rev.At) {
		fails = append(fails, fmt.Sprintf("%s: the manifest was signed at %s, after the revocation", who, signed.UTC().Format(time.RFC3339)))
	}
	return fails
}
