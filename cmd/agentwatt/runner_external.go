package main

import (
	"github.com/spf13/pflag"

	"github.com/agentwatt/agentwatt/agentrunner"
)

// externalFlags point a runner at an engine its operator deployed
// (engine.deployment: external).
type externalFlags struct{ endpoint string }

func addExternalFlags(fl *pflag.FlagSet, f *externalFlags) {
	fl.StringVar(&f.endpoint, "external-endpoint", "", "base URL of an engine this runner's operator deployed (e.g. http://10.0.0.5:8000): the runner then takes only jobs with engine.deployment external, launches nothing and drives this endpoint")
}

// apply sets the runner's external endpoint; agentrunner.Config.Validate
// checks it.
func (f *externalFlags) apply(cfg *agentrunner.Config) { cfg.ExternalEndpoint = f.endpoint }
