package main

import (
	"path/filepath"

	"github.com/agentwatt/agentwatt/verifyd"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

// newStackVerifier returns the local stack's verifier daemon: every uploaded
// bundle is recomputed and the job moved to verified or rejected. The
// stack's run group runs it.
func newStackVerifier(s *localStack) (*verifyd.Daemon, error) {
	return verifyd.New(verifyd.Config{
		Queue: s.queue, Keys: s.fleet, Store: s.store,
		Workloads: verifyd.RegistryWorkloads(blobstore.NewRegistry(s.store, filepath.Join(s.cfg.Dir, "verifier", "cache"))),
		Log:       s.log.With().Str("component", "verifier").Logger(),
	})
}
