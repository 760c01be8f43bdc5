package verifier

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/spec"
)

// The binding of a bundle to its job. The signed manifest names the job,
// attempt, spec digest, pool, runner, rules version and profile, workload
// digest and whether it is simulated; with the queue's record of the job
// each is compared with the record (bindJob), and the signing key's scope
// is checked against the record's pool (checkKeyScope). Without a queue
// (offline) the key's published scope is checked against what the manifest
// claims, and the claims against each other: the inventory, the simulated
// flag and the power samples' source must agree.

// recordSpec is the part of a job record's spec the binding reads.
type recordSpec struct {
	Benchmark struct {
		Rules    string `json:"rules"`
		Profile  string `json:"profile"`
		Workload string `json:"workload"` // name@sha256:… once pinned
		Repeats  int    `json:"repeats"`
	} `json:"benchmark"`
	Engine struct {
		Deployment string `json:"deployment"`
	} `json:"engine"`
}

// JobTerms are what a job's record says its bundle must be. Publication
// reads a result's profile and whether it is simulated from them too.
type JobTerms struct {
	Pool, Profile, Rules, WorkloadDigest, Runner, SpecDigest string
	Simulated                                                bool
	// Repeats is the windows the spec asks for at each N_max
	// (benchmark.repeats, defaulted); 0 when the record holds no spec.
	Repeats int
	// Deployment is the spec's engine.deployment: "external", or "" for an
	// engine the runner launched.
	Deployment string
}

// TermsOf reads a job record's terms: the profile is the record's, else the
// spec's (as the runner chooses it); the workload digest the record's,
// else the spec's pinned one.
func TermsOf(j *Job) JobTerms {
	var sp recordSpec
	if len(j.Spec) > 0 {
		_ = json.Unmarshal(j.Spec, &sp) // a record without a readable spec binds nothing of it: compared as empty
	}
	t := JobTerms{Pool: j.Pool, Profile: j.Profile, Rules: sp.Benchmark.Rules, WorkloadDigest: j.WorkloadDigest,
		Runner: j.Runner, SpecDigest: j.SpecDigest, Simulated: spec.SimPool(j.Pool)}
	if t.Profile == "" {
		t.Profile = sp.Benchmark.Profile
	}
	if sp.Engine.Deployment == spec.DeploymentExternal {
		t.Deployment = spec.DeploymentExternal
	}
	if len(j.Spec) > 0 {
		t.Repeats = spec.Benchmark{Repeats: sp.Benchmark.Repeats}.RepeatCount()
	}
	if t.WorkloadDigest == "" {
		if _, d, ok := strings.Cut(sp.Benchmark.Workload, "@"); ok {
			t.WorkloadDigest = d
		}
	}
	return t
}

// bindJob compares the signed manifest with the job's record. A field the
// record does not hold cannot bind the bundle and is a failure too.
func bindJob(m *bundle.Manifest, j *Job) []string {
	t := TermsOf(j)
	var fails []string
	cmp := func(what, record, bundle string) {
		switch {
		case record == "":
			fails = append(fails, fmt.Sprintf("%s: the job record names none, so the bundle's %q cannot be bound to it", what, bundle))
		case record != bundle:
			fails = append(fails, fmt.Sprintf("%s: the bundle says %q, the job record %q", what, bundle, record))
		}
	}
	cmp("spec digest", t.SpecDigest, m.SpecDigest)
	if m.Pool != "" || m.SchemaVersion >= bundle.ManifestSchemaVersion {
		cmp("pool", t.Pool, m.Pool)
	}
	cmp("profile", t.Profile, m.Rules.Profile)
	cmp("rules version", t.Rules, m.Rules.Version)
	cmp("workload digest", t.WorkloadDigest, m.Workload.Digest)
	cmp("runner", t.Runner, m.Runner.ID)
	if m.Repeats != 0 && t.Repeats != 0 && m.Repeats != t.Repeats {
		fails = append(fails, fmt.Sprintf("repeats: the bundle says %d, the job record's spec %d", m.Repeats, t.Repeats))
	}
	if m.Simulated != t.Simulated {
		fails = append(fails, fmt.Sprintf("simulated: the bundle says %v, the job's pool %s says %v", m.Simulated, t.Pool, t.Simulated))
	}
	return fails
}

// hardwareClaim describes the hardware an inventory claims: NVML as its
// source, or any GPU with a name, accelerator or UUID. "" for none (a sim
// runner's inventory, "none" or "sim").
func hardwareClaim(raw json.RawMessage) string {
	inv, err := bundle.DecodeInventory(raw)
	if err != nil {
		return "an inventory that does not decode"
	}
	var names []string
	for _, g := range inv.GPUs {
		if g.Name != "" || g.Accelerator != "" || g.UUID != "" {
			names = append(names, firstOf(g.Accelerator, g.Name, g.UUID))
		}
	}
	switch {
	case len(names) > 0:
		return fmt.Sprintf("an inventory of %d GPUs (%s)", len(names), summarize(names))
	case inv.Source != "" && inv.Source != "none" && inv.Source != "sim":
		return fmt.Sprintf("an inventory from %s", inv.Source)
	}
	return ""
}

func summarize(names []string) string {
	seen := map[string]int{}
	var order []string
	for _, n := range names {
		if seen[n] == 0 {
			order = append(order, n)
		}
		seen[n]++
	}
	parts := make([]string, len(order))
	for i, n := range order {
		parts[i] = fmt.Sprintf("%d×%s", seen[n], n)
	}
	return strings.Join(parts, ", ")
}

// signerName is the trusted name of the key that signed m (integrity
// checked that one of them did).
func signerName(m *bundle.Manifest, opts Options) string {
	for _, name := range sortedKeys(opts.Trusted) {
		if bundle.KeyID(opts.Trusted[name]) == m.Runner.KeyID {
			return name
		}
	}
	return ""
}

// checkKeyScope judges what the signing key may vouch for, and whether the
// manifest's claims agree with each other: a simulated bundle with a
// hardware inventory, or a hardware one without, is rejected whoever
// signed it. pool is the job record's pool when there is one, else the
// manifest's.
// A revoked key's bundle is judged by when it was made (revokedFails):
// started is the job record's start of the attempt (zero offline).
func checkKeyScope(m *bundle.Manifest, opts Options, pool string, started time.Time) (fails []string, note string) {
	hw := hardwareClaim(m.Inventory)
	switch {
	case m.Simulated && hw != "":
		fails = append(fails, fmt.Sprintf("the manifest says simulated, yet lists %s", hw))
	case !m.Simulated && hw == "":
		fails = append(fails, "the manifest says not simulated, yet its inventory lists no hardware GPU")
	}
	if pool == "" && !(m.Simulated && hw == "") {
		// A version 1 manifest names no pool: a hardware claim is judged
		// against the pool its inventory makes, or not at all.
		if pool = inventoryPool(m.Inventory); pool == "" {
			fails = append(fails, "the manifest names no pool and its inventory makes none: a hardware result must name its pool")
		}
	}
	name := signerName(m, opts)
	var scope *KeyScope
	if s, ok := opts.Scopes[name]; ok {
		scope = &s
	}
	if why := scope.allows(pool, m.Simulated && hw == ""); why != "" {
		fails = append(fails, fmt.Sprintf("key %s (%s): %s", name, m.Runner.KeyID, why))
	}
	switch {
	case scope == nil:
		note = fmt.Sprintf("key %s has no published scope; a simulated result of pool %s", name, firstOf(pool, spec.Sim))
	case scope.Sim:
		note = fmt.Sprintf("key %s is a sim runner's key; a simulated result", name)
	default:
		note = fmt.Sprintf("key %s is enrolled for pools %v; a result of pool %s", name, scope.Pools, pool)
	}
	if rev, ok := opts.Revoked[name]; ok {
		if rf := revokedFails(name, rev, m.CreatedAt, started, opts.Jobs != nil); len(rf) > 0 {
			fails = append(fails, rf...)
		} else {
			note += fmt.Sprintf("; the key was revoked at %s, after this bundle was made", rev.At.UTC().Format(time.RFC3339))
		}
	}
	return fails, note
}

// checkPowerSource judges the power samples' source against the claimed
// hardware: the sim engine's power with a hardware claim, or NVML's with a
// simulated one, is a contradiction.
func checkPowerSource(m *bundle.Manifest, sources map[string]int) []string {
	hw := hardwareClaim(m.Inventory)
	claimsHW := !m.Simulated || hw != ""
	var fails []string
	for _, src := range sortedKeys(sources) {
		n := sources[src]
		switch {
		case claimsHW && !hardwareSource(src):
			fails = append(fails, fmt.Sprintf("%d power samples from source %q, but the manifest claims hardware (simulated=%v, %s): hardware power is read through NVML, amdgpu, a BMC (Redfish) or a meter",
				n, src, m.Simulated, firstOf(hw, "no inventory")))
		case !claimsHW && src != "sim":
			fails = append(fails, fmt.Sprintf("%d power samples from source %q in a simulated run: its power comes from the sim engine", n, src))
		}
	}
	return fails
}

// inventoryPool is the pool an inventory of one accelerator makes,
// "<accelerator>x<count>" as runners derive it; "" for none or a mix.
func inventoryPool(raw json.RawMessage) string {
	inv, err := bundle.DecodeInventory(raw)
	if err != nil || len(inv.GPUs) == 0 {
		return ""
	}
	acc := inv.GPUs[0].Accelerator
	for _, g := range inv.GPUs {
		if g.Accelerator == "" || g.Accelerator != acc {
			return ""
		}
	}
	return fmt.Sprintf("%sx%d", acc, len(inv.GPUs))
}

// firstOf is the first non-empty string.
func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
