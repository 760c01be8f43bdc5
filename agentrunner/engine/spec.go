package engine

import (
	"maps"
	"slices"

	"github.com/agentwatt/agentwatt/spec"
)

// FromSpec is the part of a Config that the spec's engine section decides:
// never a command. The runner adds the command of its own sim (the spec's
// sim_profile), the secrets' values, the job, port, CPUs, log path, state
// dir, directory, user and grace period.
func FromSpec(e spec.Engine) Config {
	return Config{
		Image:        e.Image,
		Args:         slices.Clone(e.Args),
		Env:          maps.Clone(e.Env),
		HealthPath:   e.HealthPath,
		ReadyTimeout: e.ReadyTimeout.Duration,
	}
}
