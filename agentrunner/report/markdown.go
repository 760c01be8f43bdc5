package report

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// energyNote labels the energy figures: the bundle's own claim.
const energyNote = "The confirmation window's energy as the runner's summary.json claims it (not verified here: `agentwatt verify DIR` recomputes it from the raw power samples)."

// Markdown writes the report as Markdown: a heading line, the tiers
// table and the probes table. Latencies in ms (TTFT, ITL) and s (E2E).
func (r *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# agentwatt %s report\n\n", r.Kind)
	var facts []string
	if r.Model != "" {
		facts = append(facts, "model "+md(r.Model))
	}
	if r.Workload != "" {
		facts = append(facts, "workload "+md(r.Workload))
	}
	if r.Rules != "" || r.Profile != "" {
		facts = append(facts, "rules "+md(r.Rules)+"/"+md(r.Profile))
	}
	if r.Mode != "" {
		facts = append(facts, "mode "+md(r.Mode))
	}
	if r.Simulated {
		facts = append(facts, "**simulated engine**")
	}
	facts = append(facts, fmt.Sprintf("%d probes, %d request records", len(r.Probes), r.Records))
	if r.Interrupted {
		facts = append(facts, "**interrupted**")
	}
	b.WriteString(strings.Join(facts, ", ") + "\n")
	if r.Error != "" {
		fmt.Fprintf(&b, "\nThe run ended early: %s\n", md(r.Error))
	}

	b.WriteString("\n## Tiers\n\n")
	b.WriteString("Statistics of each tier's confirmation window. TTFT and ITL in ms, E2E in s, decode in tok/s; p50 / p90 / p99.\n\n")
	b.WriteString("| Tier | Target | N_max | Confirmed | Probe | Requests | Errors | TTFT | ITL | E2E | Decode | Note |\n")
	b.WriteString("|---|---|--:|---|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, t := range r.Tiers {
		probe := "–"
		if t.ConfirmProbe >= 0 {
			probe = fmt.Sprint(t.ConfirmProbe)
		}
		s := t.Stats
		stats := "– | – | – | – | – | –"
		if t.ConfirmProbe >= 0 {
			stats = fmt.Sprintf("%d | %d | %s | %s | %s | %s", s.Requests, s.Errors,
				triple(s.TTFTS.P50*1e3, s.TTFTS.P90*1e3, s.TTFTS.P99*1e3, 0), triple(s.ITLS.P50*1e3, s.ITLS.P90*1e3, s.ITLS.P99*1e3, 1),
				triple(s.E2ES.P50, s.E2ES.P90, s.E2ES.P99, 2), triple(s.DecodeTPS.P50, s.DecodeTPS.P90, s.DecodeTPS.P99, 1))
		}
		fmt.Fprintf(&b, "| %s | ≥%g tok/s, TTFT ≤%gs | %d | %v | %s | %s | %s |\n",
			md(t.ID), t.MinDecodeTPS, t.MaxTTFTS, t.MaxAgents, yesNo(t.Confirmed), probe, stats, md(t.Reason))
	}

	if r.HasEnergy() {
		b.WriteString("\n## Energy\n\n")
		b.WriteString(energyNote + "\n\n")
		b.WriteString("| Tier | N_max | Avg power W | Agents/MW | J/token |\n|---|--:|--:|--:|--:|\n")
		for _, t := range r.Tiers {
			if t.AvgPowerW > 0 {
				fmt.Fprintf(&b, "| %s | %d | %.0f | %.0f | %.3f |\n", md(t.ID), t.MaxAgents, t.AvgPowerW, t.AgentsPerMW, t.JoulesPerToken)
			}
		}
	}

	b.WriteString("\n## Probes\n\n")
	b.WriteString("| Probe | N | Role | Window s | Requests | Errors | TTFT ms | ITL ms | E2E s | Decode tok/s |")
	ids := r.tierIDs()
	for _, id := range ids {
		fmt.Fprintf(&b, " %s |", md(id))
	}
	b.WriteString(" Validity |\n|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|")
	for range ids {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	for _, p := range r.Probes {
		s := p.Stats
		role := md(p.Role)
		if p.Tier != "" {
			role += " " + md(p.Tier)
		}
		fmt.Fprintf(&b, "| %d | %d | %s | %.1f | %d | %d | %s | %s | %s | %s |", p.Index, p.Agents, role, p.WindowS, s.Requests, s.Errors,
			triple(s.TTFTS.P50*1e3, s.TTFTS.P90*1e3, s.TTFTS.P99*1e3, 0), triple(s.ITLS.P50*1e3, s.ITLS.P90*1e3, s.ITLS.P99*1e3, 1),
			triple(s.E2ES.P50, s.E2ES.P90, s.E2ES.P99, 2), triple(s.DecodeTPS.P50, s.DecodeTPS.P90, s.DecodeTPS.P99, 1))
		for _, id := range ids {
			fmt.Fprintf(&b, " %s |", p.tierCell(id))
		}
		fmt.Fprintf(&b, " %s |\n", md(p.Validity()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// tierIDs are the tiers in the report's order, then any only the probes
// name.
func (r *Report) tierIDs() []string {
	var ids []string
	seen := map[string]bool{}
	for _, t := range r.Tiers {
		ids, seen[t.ID] = append(ids, t.ID), true
	}
	for _, p := range r.Probes {
		for _, t := range p.Tiers {
			if !seen[t.ID] {
				ids, seen[t.ID] = append(ids, t.ID), true
			}
		}
	}
	return ids
}

// tierCell is "pass 98.2%" or "fail 71.0%" ("–" when the probe did not
// judge the tier).
func (p *Probe) tierCell(id string) string {
	for _, t := range p.Tiers {
		if t.ID == id {
			mark := "fail"
			if t.Passed {
				mark = "pass"
			}
			return fmt.Sprintf("%s %.1f%%", mark, 100*t.MetShare)
		}
	}
	return "–"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// triple renders p50 / p90 / p99 with prec decimals.
func triple(a, b, c float64, prec int) string {
	return fmt.Sprintf("%.*f / %.*f / %.*f", prec, a, prec, b, prec, c)
}

// md makes a run's text safe in a Markdown table cell and on a terminal:
// control characters become spaces, and | < > ` \ are escaped, so that a
// hostile model name can neither break the table nor inject HTML or
// terminal escapes.
func md(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case unicode.IsControl(c) || c == '\u2028' || c == '\u2029':
			b.WriteByte(' ')
		case c == '|' || c == '`' || c == '\\' || c == '*' || c == '_' || c == '[' || c == ']':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '<':
			b.WriteString("&lt;")
		case c == '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}
