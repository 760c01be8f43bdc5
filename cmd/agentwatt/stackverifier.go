package main

import (
	"path/filepath"

	"github.com/agentwatt/agentwatt/verifier"
)

// newStackVerifier returns the local stack's verifier daemon: every uploaded
// bundle is recomputed and the job moved to verified or rejected. The
// stack's run group runs it.
func newStackVerifier(s *localStack) (*verifier.Daemon, error) {
	refs, err := gsm8kReferences()
	if err != nil {
		return nil, err
	}
	return verifier.NewDaemon(verifier.DaemonConfig{
		Queue: s.queue, Keys: s.fleet, Store: s.store, References: refs,
		Workloads: registryWorkloads(s.store, filepath.Join(s.cfg.Dir, "verifier", "cache")),
		Log:       s.log.With().Str("component", "verifier").Logger(),
	}), nil
}
