package main

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/agentwatt/agentwatt/agentrunner"
	"github.com/agentwatt/agentwatt/group"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
)

// groupFlags make the runner a member of a runner group: one runner per
// host of a rack or multi-node system (agentrunner.GroupConfig).
type groupFlags struct {
	name, member, simRack string
	size                  int
}

func addGroupFlags(fl *pflag.FlagSet, f *groupFlags) {
	fl.StringVar(&f.name, "group", "", "runner group this runner is a member of (one runner per host of a rack or multi-node system); only the group's leader takes jobs, of the group's pool <accelerator>x<Σ GPUs>")
	fl.IntVar(&f.size, "group-size", 0, "the group's number of members (declares the group; every member may give it, they must agree); the group takes no job unless all are alive")
	fl.StringVar(&f.member, "member", "", "this runner's name in the group (default --id)")
	fl.StringVar(&f.simRack, "sim-rack-profile", "", "make this member one node of a SIMULATED rack of this sim profile (e.g. gb300-nvl72-like); with --group")
}

// hardwarePool is the pool the node is opened with: a sim rack member has
// no GPUs of its own.
func (f *groupFlags) hardwarePool(pool string) string {
	if f.simRack != "" {
		return spec.Sim
	}
	return pool
}

// setPool checks the flags and sets cfg's pool to the group's: the rack
// profile's "simx<GPUs>", or <accelerator>x<GPUs × size> of this node.
func (f *groupFlags) setPool(cfg *agentrunner.Config) error {
	if f.name == "" {
		if f.size != 0 || f.member != "" || f.simRack != "" {
			return fmt.Errorf("--group-size, --member and --sim-rack-profile need --group")
		}
		return nil
	}
	if f.simRack == "" {
		if f.size < 1 {
			return fmt.Errorf("--group %s: --group-size is needed to name the group's pool", f.name)
		}
		cfg.Pool = fmt.Sprintf("%sx%d", cfg.Accelerator, cfg.GPUs*f.size)
		return nil
	}
	p, err := sim.DefaultProfile(f.simRack)
	if err != nil {
		return fmt.Errorf("--sim-rack-profile: %w", err)
	}
	if p.Rack == nil {
		return fmt.Errorf("--sim-rack-profile %s: not a rack profile (no rack section; see 'agentwatt sim profiles')", f.simRack)
	}
	if f.size != 0 && f.size != p.Rack.Members {
		return fmt.Errorf("--group-size %d: sim rack profile %s has %d members", f.size, f.simRack, p.Rack.Members)
	}
	f.size = p.Rack.Members
	cfg.Pool, cfg.Accelerator = fmt.Sprintf("%sx%d", spec.Sim, p.Rack.Members*p.Rack.GPUsPerMember), spec.Sim
	return nil
}

// apply puts the runner in its group, on the queue's connection nc.
func (f *groupFlags) apply(cfg *agentrunner.Config, nc *nats.Conn, replicas int) {
	if f.name == "" {
		return
	}
	gc := &agentrunner.GroupConfig{Conn: nc, Groups: group.Config{Replicas: replicas}, Name: f.name, Size: f.size, Member: f.member}
	if f.simRack != "" {
		p, _ := sim.DefaultProfile(f.simRack) // setPool checked it
		gc.SimRackProfile, gc.GPUs = f.simRack, p.Rack.GPUsPerMember
	}
	cfg.Group = gc
}
