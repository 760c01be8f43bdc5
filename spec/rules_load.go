package spec

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
)

// RulesVersions lists the rules versions built into this binary.
func RulesVersions() []string {
	ents, _ := rulesFS.ReadDir("rules")
	var vs []string
	for _, e := range ents {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		if name != e.Name() && name != "models" {
			vs = append(vs, name)
		}
	}
	slices.Sort(vs)
	return vs
}

var rulesCache sync.Map // version → *Rules (never handed out; cloned)

// LoadRules returns the rules of version (e.g. "v1"), from the files built
// into the binary. Each call returns its own copy.
func LoadRules(version string) (*Rules, error) {
	r, err := loadRulesShared(version)
	if err != nil {
		return nil, err
	}
	return r.clone(), nil
}

// loadRulesShared returns the cached rules; callers must not modify them.
func loadRulesShared(version string) (*Rules, error) {
	if r, ok := rulesCache.Load(version); ok {
		return r.(*Rules), nil
	}
	if !slices.Contains(RulesVersions(), version) {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownRules, version, strings.Join(RulesVersions(), ", "))
	}
	name := path.Join("rules", version+".yaml")
	data, err := rulesFS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("rules %s: %w", version, err)
	}
	r, err := DecodeRules(name, data)
	if err != nil {
		return nil, err
	}
	if r.Version != version {
		return nil, fmt.Errorf("%s: version %q does not match the file name", name, r.Version)
	}
	rulesCache.Store(version, r)
	return r, nil
}

// DecodeRules reads and validates a rules file. Embedded rules come through
// LoadRules; this is for checking a proposed rules file.
func DecodeRules(filename string, data []byte) (*Rules, error) {
	d := newDecoder(filename, KindRules)
	var r Rules
	d.decodeDocument(data, &r)
	if len(d.probs) > 0 {
		sortProblems(d.probs)
		return nil, d.probs
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return &r, nil
}

func (r *Rules) clone() *Rules {
	c := *r
	c.Tiers = slices.Clone(r.Tiers)
	c.Profiles = slices.Clone(r.Profiles)
	return &c
}
