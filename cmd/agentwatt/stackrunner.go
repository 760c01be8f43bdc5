package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

// localRunnerID is the local stack's runner and the name its key is
// enrolled under.
const localRunnerID = "local-sim"

// newStackRunner enrols the stack's runner key (DIR/runner/runner.key,
// created on first start) and returns the stack's one runner of pool sim,
// in process; the stack's run group runs it. A sim job's
// engine is this binary's own `sim serve` with the job's sim_profile, run
// apart from the stack (its own directory and environment; nobody when the
// stack runs as root), as on any runner.
func newStackRunner(ctx context.Context, s *localStack) (*agentrunner.Runner, error) {
	dir := filepath.Join(s.cfg.Dir, "runner")
	key, err := bundle.LoadOrCreateKey(filepath.Join(dir, "runner.key"))
	if err != nil {
		return nil, err
	}
	if err := agentrunner.CheckKeyOwner(filepath.Join(dir, "runner.key")); err != nil {
		return nil, err
	}
	// The key signs the sim pool's results and the simulated racks' (each
	// embedded rack profile's simx<N>), never a hardware pool's.
	if err := s.fleet.TrustKey(ctx, localRunnerID, key.Public().(ed25519.PublicKey), "agentwatt local", sim.Pools(sim.DefaultProfiles())); err != nil {
		return nil, fmt.Errorf("enrol the local runner's key: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return agentrunner.New(agentrunner.Config{
		ID: localRunnerID, Pool: spec.Sim, Version: agentwattVersion(), WorkDir: dir, Key: key,
		Queue: s.queue, Fleet: s.fleet, Store: s.store, Workloads: blobstore.NewRegistry(s.store, filepath.Join(dir, "cache")),
		FixedAgents: s.cfg.RunnerFixedAgents, IdleBaseline: 2 * time.Second, GracePeriod: 10 * time.Second,
		Self: self, Metrics: s.metrics, Log: s.log.With().Str("component", "runner").Logger(),
	})
}
