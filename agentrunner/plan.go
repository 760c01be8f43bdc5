package agentrunner

import (
	"errors"

	"github.com/agentwatt/agentwatt/agentrunner/power"
	"github.com/agentwatt/agentwatt/spec"
)

// jobPlan is how this runner measures power, decided once from its config;
// the phases read it and never ask the pool again.
//
// A GPU node samples its GPUs (NVML) and measures them idle before the
// engine starts. A sim runner samples the sim engine it launched, whose
// power exists only while it runs: its baseline is the loaded engine with
// no requests, so the engine is launched first, and the engine's profile
// (not the node) says how many GPUs there are.
type jobPlan struct {
	// idleBeforeLaunch runs the baseline before the engine's launch.
	idleBeforeLaunch bool
	// baselineState is summary.json's idle_baseline.state.
	baselineState string
	// simulated: the GPUs are the sim's; bundles say so, and the spec's
	// accelerator count is checked against the engine's profile.
	simulated bool
	// source opens the power source; eng is the launched engine (nil
	// before launch, where idleBeforeLaunch).
	source func(eng *jobEngine) (power.Source, error)
}

// errNoSource: a group leader's power comes from its members.
var errNoSource = errors.New("a group's power is sampled by its members")

// planFor is the plan of a runner with config cfg (Validate keeps Pool sim
// and a nil Power together).
func planFor(cfg Config) jobPlan {
	if cfg.Group.simulated() {
		// A sim rack's power is its members' (groupleader.go): the leader
		// opens no source of its own.
		return jobPlan{baselineState: "engine-idle", simulated: true,
			source: func(*jobEngine) (power.Source, error) { return nil, errNoSource }}
	}
	if spec.SimPool(cfg.Pool) {
		return jobPlan{baselineState: "engine-idle", simulated: true,
			source: func(eng *jobEngine) (power.Source, error) { return power.NewSimSource(eng.url()), nil }}
	}
	open := cfg.Power
	return jobPlan{idleBeforeLaunch: true, baselineState: "gpus-idle",
		source: func(*jobEngine) (power.Source, error) { return open() }}
}
