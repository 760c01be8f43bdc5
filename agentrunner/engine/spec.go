package engine

import (
	"maps"
	"slices"

	"github.com/agentwatt/agentwatt/spec"
)

// FromSpec is the part of a Config that the spec's engine section decides;
// the runner adds the job, port, CPUs, log path, state dir and grace period.
func FromSpec(e spec.Engine) Config {
	return Config{
		Command:      slices.Clone(e.Command),
		Image:        e.Image,
		Args:         slices.Clone(e.Args),
		Env:          maps.Clone(e.Env),
		HealthPath:   e.HealthPath,
		ReadyTimeout: e.ReadyTimeout.Duration,
	}
}
