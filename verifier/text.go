package verifier

import (
	"fmt"
	"io"
	"strings"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/internal/termtext"
)

// WriteText writes the verdict for people: the outcome, each check with
// pass or fail and its reason, then the recomputed figures. Text that comes
// from the bundle (reasons quote it) is shown with its control characters
// escaped, one line per check.
func WriteText(w io.Writer, v *bundle.Verdict) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: job %s attempt %d (runner %s, rules %s/%s", termtext.Escape(strings.ToUpper(v.Status)), termtext.Escape(v.Job), v.Attempt, termtext.Escape(v.Runner), termtext.Escape(v.RulesVersion), termtext.Escape(v.Profile))
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
		fmt.Fprintf(&b, "  %s %-18s %s\n", mark, termtext.Escape(c.Name), termtext.Escape(c.Reason))
	}
	if r := v.Results; r != nil {
		fmt.Fprintf(&b, "recomputed: model %s, %d GPUs (%s), %d requests, accuracy %.4f\n", termtext.Escape(r.Model), r.GPUs, termtext.Escape(r.PowerBoundary), r.Requests, r.Accuracy)
		for _, t := range r.Tiers {
			if !t.Confirmed {
				fmt.Fprintf(&b, "  %-5s no confirmed N_max\n", termtext.Escape(t.Tier))
				continue
			}
			fmt.Fprintf(&b, "  %-5s N_max %d (probe %d): %.0f Agents/MW, %.2f agents/GPU, %.1f tok/s, %.4f J/token, %.1f W\n",
				termtext.Escape(t.Tier), t.MaxAgents, t.ConfirmProbe, t.AgentsPerMW, t.AgentsPerGPU, t.OutputTokensPerS, t.JoulesPerToken, t.AvgPowerW)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
