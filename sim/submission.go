package sim

import (
	"fmt"
	"slices"

	"github.com/agentwatt/agentwatt/spec"
)

// CheckSubmission checks a sim submission against the built-in profiles the
// runners launch: its engine.sim_profile must be one, and its system must be
// what that profile simulates (CheckSystem). The intake calls it so that a
// sim submission no runner could run is refused at once, not queued.
func CheckSubmission(sub *spec.Submission) error {
	if !sub.Engine.Sim() {
		return nil
	}
	p, err := DefaultProfile(sub.Engine.SimProfile)
	if err != nil {
		return fmt.Errorf("engine.sim_profile: %w", err)
	}
	return CheckSystem(p, sub.System)
}

// CheckSystem checks a sim submission's system against the profile it
// names: a rack profile (Rack) runs only as a multi-node or rack-scale
// system of all its GPUs, disaggregated as the profile splits its members; a
// single-host profile only as a single-node system. The spec cannot check
// this itself (it does not know the profiles); runners check it before they
// start anything.
func CheckSystem(p Profile, sys spec.System) error {
	multi := sys.Topology == spec.TopologyMultiNode || sys.Topology == spec.TopologyRackScale
	r := p.Rack
	switch {
	case r == nil && multi:
		return fmt.Errorf("system.topology %s: sim profile %s simulates one host; a multi-node sim needs a rack profile (see 'agentwatt sim profiles')", sys.Topology, p.Name)
	case r == nil && sys.Disaggregation != nil:
		return fmt.Errorf("system.disaggregation: sim profile %s is not disaggregated; a rack profile is", p.Name)
	case r == nil:
		return nil
	case !multi:
		return fmt.Errorf("system.topology %s: sim profile %s is a rack of %d member nodes: declare topology %s (or %s)",
			sys.Topology, p.Name, r.Members, spec.TopologyRackScale, spec.TopologyMultiNode)
	case sys.Accelerators != p.GPUs:
		return fmt.Errorf("system.accelerators %d: sim profile %s simulates %d GPUs (%d members × %d)", sys.Accelerators, p.Name, p.GPUs, r.Members, r.GPUsPerMember)
	case sys.Disaggregation == nil:
		return fmt.Errorf("system.disaggregation: sim profile %s is disaggregated: declare prefill_workers %d and decode_workers %d (its members)",
			p.Name, r.PrefillMembers, r.DecodeMembers())
	case sys.Disaggregation.PrefillWorkers != r.PrefillMembers || sys.Disaggregation.DecodeWorkers != r.DecodeMembers():
		return fmt.Errorf("system.disaggregation: prefill_workers %d, decode_workers %d: sim profile %s has %d prefill and %d decode members",
			sys.Disaggregation.PrefillWorkers, sys.Disaggregation.DecodeWorkers, p.Name, r.PrefillMembers, r.DecodeMembers())
	}
	return nil
}

// Pool is the queue pool of a submission that fits the profile
// (CheckSystem), as spec.Submission.Pool derives it: spec.Sim for a single
// host, "simx<GPUs>" for a rack.
func (p Profile) Pool() string {
	if p.Rack == nil {
		return spec.Sim
	}
	return fmt.Sprintf("%sx%d", spec.Sim, p.GPUs)
}

// Pools lists the pools of profiles, each once, sorted: the pools a key
// that signs results of every one of them is enrolled for.
func Pools(profiles []Profile) []string {
	var out []string
	for _, p := range profiles {
		out = append(out, p.Pool())
	}
	slices.Sort(out)
	return slices.Compact(out)
}
