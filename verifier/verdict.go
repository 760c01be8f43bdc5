package verifier

import (
	"fmt"
	"strings"

	"github.com/agentwatt/agentwatt/bundle"
)

// Names of the checks, in the order Verify runs them. Tests and the site
// branch on them; the values are stable.
const (
	CheckIntegrity    = "integrity"     // files, digests, signature by an enrolled key
	CheckKeyScope     = "key_scope"     // the signing key may sign results of this pool; sim agrees with inventory and power
	CheckAttempt      = "attempt"       // the bundle's attempt is the job's current one
	CheckJob          = "job"           // the manifest matches the job's record: spec, pool, profile, workload, rules, runner
	CheckRecords      = "records"       // records decode, clock order, chunk timings agree
	CheckTargets      = "prompt_tokens" // prompt_tokens within tolerance of the workload's target
	CheckForced       = "forced_lengths"
	CheckProbes       = "probes" // per-probe recomputation equals the summary
	CheckTiers        = "tiers"  // max agents, confirmation, headline figures
	CheckWindows      = "window_lengths"
	CheckErrorShare   = "error_share"
	CheckClientHealth = "client_health" // in-flight fidelity and the client's self-check
	CheckPower        = "power"         // gaps, resets, cross-check, bounds
	CheckAccuracy     = "accuracy"
	CheckCachedShare  = "cached_token_share" // reported, never judged
	// CheckEngineMetrics: engine-metrics.jsonl.zst decodes; the
	// speculative-decoding acceptance it yields is reported, never judged.
	CheckEngineMetrics = "engine_metrics"
)

// checkList builds the verdict's checks.
type checkList struct{ checks []bundle.Check }

// add records a check that passed iff fails is empty; note describes a pass.
func (l *checkList) add(name string, fails []string, note string) {
	c := bundle.Check{Name: name, Passed: len(fails) == 0, Reasons: fails}
	if c.Passed {
		c.Reason = note
	} else {
		c.Reason = joinCapped(fails, 20)
	}
	l.checks = append(l.checks, c)
}

// has reports whether a check called name was recorded.
func (l *checkList) has(name string) bool {
	for _, c := range l.checks {
		if c.Name == name {
			return true
		}
	}
	return false
}

// failed lists the judged checks that failed so far.
func (l *checkList) failed() []bundle.Check {
	return (&bundle.Verdict{Checks: l.checks}).Failed()
}

func (l *checkList) info(name, note string) {
	l.checks = append(l.checks, bundle.Check{Name: name, Passed: true, Reason: note, Informational: true})
}

// joinCapped joins at most n reasons and says how many more there were.
func joinCapped(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, "; ")
	}
	return strings.Join(s[:n], "; ") + fmt.Sprintf("; … and %d more", len(s)-n)
}

// capped keeps a failure list bounded: a bundle with a million bad records
// does not produce a million reasons.
type capped struct {
	list  []string
	extra int
	max   int
}

func (c *capped) addf(format string, args ...any) {
	if c.max == 0 {
		c.max = 50
	}
	if len(c.list) >= c.max {
		c.extra++
		return
	}
	c.list = append(c.list, fmt.Sprintf(format, args...))
}

func (c *capped) reasons() []string {
	if c.extra == 0 {
		return c.list
	}
	return append(c.list, fmt.Sprintf("… and %d more", c.extra))
}
