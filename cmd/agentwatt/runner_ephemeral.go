package main

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/agentwatt/agentwatt/agentrunner"
)

// ephemeralFlags make a runner ephemeral (autoscaled capacity): --once,
// --idle-exit, and --instance for the scaler's runner ↔ instance map.
type ephemeralFlags struct {
	once     bool
	idleExit time.Duration
	instance string
}

func addEphemeralFlags(fs *pflag.FlagSet, f *ephemeralFlags) {
	fs.BoolVar(&f.once, "once", false, "take at most one job, finish it (upload included) and exit 0 (a Kubernetes Job, an autoscaled process)")
	fs.DurationVar(&f.idleExit, "idle-exit", 0, "exit 0 after this long without a job (e.g. 15m on an autoscaled instance); 0: never")
	fs.StringVar(&f.instance, "instance", "", "cloud instance this runner runs on (EC2 instance id, pod name): in its liveness entry (the scaler protects a busy runner's instance from scale-in), presented with an enrolment token and recorded with the key")
}

// apply checks the flags and sets them on cfg.
func (f *ephemeralFlags) apply(cfg *agentrunner.Config) error {
	if f.idleExit < 0 {
		return fmt.Errorf("--idle-exit %s: want a positive duration (0: never)", f.idleExit)
	}
	cfg.Once, cfg.IdleExit, cfg.Instance = f.once, f.idleExit, f.instance
	return nil
}
