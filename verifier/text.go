package verifier

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the verdict for people: the outcome, each check with
// pass or fail and its reason, then the recomputed figures.
func WriteText(w io.Writer, v *Verdict) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: job %s attempt %d (runner %s, rules %s/%s", strings.ToUpper(v.Status), v.Job, v.Attempt, v.Runner, v.RulesVersion, v.Profile)
	if v.Simulated {
		b.WriteString(", simulated — not hardware")
	}
	b.WriteString(")\n")
	for _, c := range v.Checks {
		mark := "PASS"
		switch {
		case c.Informational:
			mark = "INFO"
		case !c.Passed:
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %-18s %s\n", mark, c.Name, c.Reason)
	}
	if r := v.Results; r != nil {
		fmt.Fprintf(&b, "recomputed: model %s, %d GPUs (%s), %d requests, accuracy %.4f\n", r.Model, r.GPUs, r.PowerBoundary, r.Requests, r.Accuracy)
		for _, t := range r.Tiers {
			if !t.Confirmed {
				fmt.Fprintf(&b, "  %-5s no confirmed N_max\n", t.Tier)
				continue
			}
			fmt.Fprintf(&b, "  %-5s N_max %d (probe %d): %.0f Agents/MW, %.2f agents/GPU, %.1f tok/s, %.4f J/token, %.1f W\n",
				t.Tier, t.MaxAgents, t.ConfirmProbe, t.AgentsPerMW, t.AgentsPerGPU, t.OutputTokensPerS, t.JoulesPerToken, t.AvgPowerW)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
