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
	Name string
	Rows [][2]string // setting, value
}

// RenderMethod renders the method page from the embedded rules file: the
// tiers, then every section's settings as the file states them, so the
// page cannot drift from the rules the verifier applies.
func RenderMethod(l links) ([]byte, error) {
	r, err := spec.LoadRules(MethodRules)
	if err != nil {
		return nil, fmt.Errorf("method page: %w", err)
	}
	p := methodPage{pageBase: pageBase{CSP: SiteCSP, Links: l, Title: "agentwatt method (rules " + MethodRules + ")"}, Rules: r}
	for _, s := range []struct {
		name string
		v    any
	}{{"probe", r.Probe}, {"sampling", r.Sampling}, {"search", r.Search}, {"power", r.Power}, {"verify", r.Verify}, {"accuracy", r.Accuracy}} {
		p.Sections = append(p.Sections, methodSection{Name: s.name, Rows: flatten(s.v)})
	}
	for _, pr := range r.Profiles {
		p.Sections = append(p.Sections, methodSection{Name: "profile " + pr.Name, Rows: flatten(pr)})
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
