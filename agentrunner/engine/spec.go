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

// FromRole is FromSpec for one role of the engine (spec engine.roles): the
// role's image (or engine.image), its args, and engine.env with the role's
// env added (the spec lets a variable be set in only one of the two). The
// runner adds the replica's name, GPUs, ranks and the job's network.
func FromRole(e spec.Engine, r spec.Role) Config {
	env := maps.Clone(e.Env)
	if len(r.Env) > 0 && env == nil {
		env = map[string]string{}
	}
	maps.Copy(env, r.Env)
	return Config{
		Image:        e.RoleImage(r),
		Args:         slices.Clone(r.Args),
		Env:          env,
		HealthPath:   e.HealthPath,
		ReadyTimeout: e.ReadyTimeout.Duration,
	}
}
