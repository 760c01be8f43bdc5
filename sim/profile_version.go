package sim

import (
	"fmt"
	"math"
	"strings"
)

// VersionScale changes a profile for one simulated framework version, so
// that a retest of the sim at a new framework.version can come out
// different (slower, hungrier) from the same profile. Like every number of
// a profile it is made up: it simulates a release, it measures none.
type VersionScale struct {
	// Version is the framework.version it applies to, exactly.
	Version string `yaml:"version" json:"version"`
	// Speed divides every step cost: 0.8 makes each step take 1/0.8 as
	// long; 1 leaves them as the profile says.
	Speed float64 `yaml:"speed" json:"speed"`
	// DynamicPower multiplies power.dynamic_w: 1.25 draws a quarter more
	// above idle while busy.
	DynamicPower float64 `yaml:"dynamic_power" json:"dynamic_power"`
}

// maxVersionLen bounds a version's length, as framework.version is bounded.
const maxVersionLen = 64

// checkVersions returns the first invalid field of p.Versions (YAML path
// below the profile) and why.
func (p *Profile) checkVersions() (field, msg string) {
	inRange := func(v float64) bool { return !math.IsNaN(v) && v >= 0.1 && v <= 10 }
	seen := map[string]bool{}
	for i, v := range p.Versions {
		at := fmt.Sprintf("versions[%d].", i)
		switch {
		case v.Version == "" || len(v.Version) > maxVersionLen || strings.ContainsFunc(v.Version, isSpaceOrControl):
			return at + "version", fmt.Sprintf("%q: want a framework version, 1 to %d characters without spaces", v.Version, maxVersionLen)
		case seen[v.Version]:
			return at + "version", fmt.Sprintf("%q listed twice", v.Version)
		case !inRange(v.Speed):
			return at + "speed", fmt.Sprintf("%g: want 0.1 to 10 (1: as the profile's step costs)", v.Speed)
		case !inRange(v.DynamicPower):
			return at + "dynamic_power", fmt.Sprintf("%g: want 0.1 to 10 (1: as power.dynamic_w)", v.DynamicPower)
		}
		seen[v.Version] = true
	}
	return "", ""
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// AtVersion returns p as it runs at framework version v: its step costs
// divided by the speed and its dynamic power multiplied by the factor of
// v's entry in Versions. A version with no entry runs p unchanged, so
// adding an entry for a new version changes no earlier version's numbers.
// The result keeps only v's entry in Versions, which says what was applied.
func (p Profile) AtVersion(v string) Profile {
	for _, vs := range p.Versions {
		if vs.Version != v {
			continue
		}
		p.Step.BaseUS /= vs.Speed
		p.Step.PerSeqUS /= vs.Speed
		p.Step.PerContextTokenNS /= vs.Speed
		p.Step.PerPrefillTokenUS /= vs.Speed
		p.Power.DynamicW *= vs.DynamicPower
		p.Versions = []VersionScale{vs}
		return p
	}
	p.Versions = nil
	return p
}
