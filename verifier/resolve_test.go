package verifier

import (
	"github.com/agentwatt/agentwatt/bundle"

	"testing"

	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/spec"
)

// TestSearchOutcomeUnservedProbeResolves: the runner's search takes a probe
// whose warm-up never completed (no window) as a failure at that N, so it
// bounds N_max from above for the verifier too; without one, a search that
// stops below an untested N does not resolve.
func TestSearchOutcomeUnservedProbeResolves(t *testing.T) {
	window := func(probe, n int, purpose string, pass bool) evaluated {
		return evaluated{
			rec: bundle.ProbeRecord{Probe: probe, Agents: n, Purpose: purpose, WindowStartNs: 10, WindowEndNs: 20},
			res: metrics.ProbeResult{Valid: true, Conclusive: true, Requests: 100, Tiers: []metrics.TierResult{{Tier: "t20", Passed: pass}}},
		}
	}
	warmupTimeout := evaluated{rec: bundle.ProbeRecord{Probe: 1, Agents: 9, Purpose: "search", WindowStartNs: -1, WindowEndNs: -1}}
	sr := spec.SearchRules{Precision: 0.02, MinStep: 1, Confirmations: 1}
	for _, tc := range []struct {
		name     string
		ev       []evaluated
		resolved bool
	}{
		{"warm-up timeout above", []evaluated{window(0, 8, "search", true), warmupTimeout, window(2, 8, "confirm", true)}, true},
		{"failed window above", []evaluated{window(0, 8, "search", true), window(1, 9, "search", false), window(2, 8, "confirm", true)}, true},
		{"nothing above", []evaluated{window(0, 8, "search", true), window(2, 8, "confirm", true)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := searchOutcome("t20", tc.ev, sr)
			if out.maxAgents != 8 || !out.confirmed || out.resolved != tc.resolved {
				t.Errorf("outcome %+v, want N_max 8 confirmed, resolved %v", out, tc.resolved)
			}
		})
	}
}
