package publish

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/agentwatt/agentwatt/spec"
)

// MethodRules is the rules version the method page describes.
const MethodRules = "v1"

type methodPage struct {
	pageBase
	Rules    *spec.Rules
	Sections []methodSection
}

type methodSection struct {
	Name, About string
	Rows        [][2]string // setting, value
}

// methodAbout says in a sentence what each section of the rules decides,
// as the rules file's own comments do.
var methodAbout = map[string]string{
	"probe": "A probe at N agents passes a tier when the one-sided Clopper-Pearson lower bound (at confidence) of the share of window requests meeting the tier is at least min_met_share, " +
		"at least agent_median_share of agents meet it on their median request and every agent completed one, errors are at most max_error_share, " +
		"the time-averaged active sessions stay within active_session_tolerance of N, and the client was healthy (the profile's client limits).",
	"sampling": "Sent on every request; output lengths are forced to the recorded ones.",
	"search":   "Double N until a probe fails, bisect until the bracket is at most max(min_step, precision × N), then confirm N_max with `confirmations` more windows, stepping down when one fails.",
	"power":    "The power of the confirmation window: the change of each GPU's cumulative energy counter, cross-checked against the integral of sampled instantaneous power.",
	"verify":   "How closely the verifier holds the runner to what it recomputes from the raw records.",
	"accuracy": "Before the performance phase, greedy answers to the dataset's first questions; the score must reach min_fraction of the model's reference score.",
	"regression": "Publication only, no run is judged by it: each published result is compared, per tier, with the latest earlier result of the same configuration at a different framework version (same rules, profile, workload and power boundary); " +
		"change = (new − previous) / previous of Agents/MW, a regression below −max(threshold, spread) and an improvement above +max(threshold, spread), where spread is the results' spread across repeated runs (0 for a single run).",
}

// renderMethod renders the method page from the embedded rules file: the
// tiers, then every section's settings as the file states them, so the
// page cannot drift from the rules the verifier applies.
func renderMethod(l links) ([]byte, error) {
	r, err := spec.LoadRules(MethodRules)
	if err != nil {
		return nil, fmt.Errorf("method page: %w", err)
	}
	p := methodPage{pageBase: pageBase{CSP: SiteCSP, Links: l, Title: "agentwatt method (rules " + MethodRules + ")"}, Rules: r}
	for _, s := range []struct {
		name string
		v    any
	}{{"probe", r.Probe}, {"sampling", r.Sampling}, {"search", r.Search}, {"power", r.Power}, {"verify", r.Verify}, {"accuracy", r.Accuracy}, {"regression", r.Regression}} {
		p.Sections = append(p.Sections, methodSection{Name: s.name, About: methodAbout[s.name], Rows: flatten(s.v)})
	}
	for _, pr := range r.Profiles {
		p.Sections = append(p.Sections, methodSection{Name: "profile " + pr.Name, Rows: flatten(pr),
			About: "A window lasts at least `window` and holds at least `min_requests` requests, extended up to `max_window`; the search probes at most `max_agents`."})
	}
	return execute("method.html.tmpl", p)
}

// flatten lists a section's settings as dotted names and values, in the
// rules file's JSON spelling.
func flatten(v any) [][2]string {
	b, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil
		}
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	var out [][2]string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			switch x := m[k].(type) {
			case map[string]any:
				walk(prefix+k+".", x)
			default:
				var s string
				if str, ok := x.(string); ok {
					s = str
				} else {
					b, _ := json.Marshal(x)
					s = string(b)
				}
				out = append(out, [2]string{prefix + k, s})
			}
		}
	}
	walk("", m)
	return out
}
