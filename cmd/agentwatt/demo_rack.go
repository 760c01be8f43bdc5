package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/agentrunner"
	"github.com/agentwatt/agentwatt/bots"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/group"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/workload/blobstore"
)

// The demo's sim rack: the example's profile, a group of one runner per
// member, in this process.
const (
	demoRackFile    = "submissions/sim-rack.yaml"
	demoRackProfile = "gb300-nvl72-like"
	demoRackGroup   = "demo-rack"
)

// runDemoRack is 'agentwatt demo --rack': the local stack without its sim
// runner, and a SIMULATED rack of runner group members instead (one
// runner per member of the rack profile, each with its own key and work
// dir under DIR/rack/), which runs the sim rack example; it follows the
// job to its verdict and tells where each member's power file is and the
// summed Agents/MW. Nothing is published.
func runDemoRack(ctx context.Context, a *app, cfg stackConfig, timeout time.Duration, say func(string, ...any), log zerolog.Logger) error {
	p, err := sim.DefaultProfile(demoRackProfile)
	if err != nil || p.Rack == nil {
		return fmt.Errorf("sim rack profile %s: %v", demoRackProfile, err)
	}
	cfg.Runner = false
	say("==> starting the local stack in %s (embedded NATS, embedded S3, intake API) and a SIMULATED rack: %d runner group members of %s, %d GPUs each",
		cfg.Dir, p.Rack.Members, demoRackProfile, p.Rack.GPUsPerMember)
	s, err := openLocalStack(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer s.Close()
	g := runGroup{log: log}
	s.addServices(ctx, &g)
	for k := range p.Rack.Members {
		r, err := newDemoRackMember(ctx, s, p, k, log)
		if err != nil {
			return fmt.Errorf("rack member %d: %w", k, err)
		}
		g.add(ctx, r)
	}
	storyCtx, endStory := context.WithCancel(ctx)
	g.Add(func() error { return runDemoRackStory(storyCtx, a, s, p, timeout, say) }, func(error) { endStory() })
	return g.Run()
}

// newDemoRackMember is member k's runner: its key enrolled for the rack's
// pool, the group declared with the rack's members.
func newDemoRackMember(ctx context.Context, s *localStack, p sim.Profile, k int, log zerolog.Logger) (*agentrunner.Runner, error) {
	name := fmt.Sprintf("node-%d", k)
	id := demoRackGroup + "-" + name
	dir := filepath.Join(s.cfg.Dir, "rack", name)
	key, err := bundle.LoadOrCreateKey(filepath.Join(dir, "runner.key"))
	if err != nil {
		return nil, err
	}
	pool := fmt.Sprintf("simx%d", p.Rack.Members*p.Rack.GPUsPerMember)
	if err := s.fleet.TrustKey(ctx, id, key.Public().(ed25519.PublicKey), "agentwatt demo --rack", []string{pool}); err != nil {
		return nil, fmt.Errorf("enrol %s's key: %w", id, err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return agentrunner.New(agentrunner.Config{
		ID: id, Pool: pool, Version: agentwattVersion(), WorkDir: dir, Key: key,
		Queue: s.queue, Fleet: s.fleet, Store: s.store, Workloads: blobstore.NewRegistry(s.store, filepath.Join(dir, "cache")),
		FixedAgents: s.cfg.RunnerFixedAgents, IdleBaseline: 2 * time.Second, GracePeriod: 10 * time.Second,
		Self: self, Log: log.With().Str("component", "runner").Str("member", name).Logger(),
		Group: &agentrunner.GroupConfig{Conn: s.nc, Groups: group.Config{Replicas: 1}, Name: demoRackGroup,
			Size: p.Rack.Members, Member: name, SimRackProfile: p.Name, GPUs: p.Rack.GPUsPerMember},
	})
}

// runDemoRackStory submits the sim rack example and follows it to its
// verdict.
func runDemoRackStory(ctx context.Context, a *app, s *localStack, p sim.Profile, timeout time.Duration, say func(string, ...any)) error {
	body, err := examples.Submissions.ReadFile(demoRackFile)
	if err != nil {
		return err
	}
	trigger := bots.NewTrigger("demo-rack")
	say("==> submitting examples/%s as vendor %s (trigger %s)", demoRackFile, s.vendor, trigger)
	client := bots.Client{BaseURL: s.httpURL, Token: s.token}
	resp, err := client.Submit(ctx, body, trigger, demoRackFile)
	if err != nil {
		return fmt.Errorf("submit the sim rack example: %w", err)
	}
	say("    job %s accepted: pool %s", resp.ID, resp.Pool)
	say("==> the group's leader takes it once all %d members are alive; each member runs its sim node and samples its power", p.Rack.Members)
	var bars *jobBars
	if !a.json() {
		bars = newJobBars(a.out)
	}
	final, err := followDemoJob(ctx, s, resp.ID, timeout, say, bars)
	if err != nil {
		return err
	}
	prefix := bundle.Prefix(final.ID, final.Attempt)
	say("==> job %s is %s (attempt %d)%s", final.ID, final.State, final.Attempt, reasonSuffix(final.Reason))
	objs, err := s.store.List(ctx, prefix)
	if err != nil {
		return fmt.Errorf("list the bundle: %w", err)
	}
	say("    one bundle, sealed by the leader, in s3://%s/%s; each member's own power file:", s.cfg.Bucket, prefix)
	for _, o := range objs {
		name := strings.TrimPrefix(o.Key, prefix)
		if _, ok := bundle.MemberOfPowerFile(name); ok {
			say("      %s  (%s)", s.store.URL(prefix+name), filepath.Join(s.cfg.Dir, "s3", "data", s.cfg.Bucket, filepath.FromSlash(prefix+name)))
		}
	}
	if final.State != queue.Verified {
		return demoJobError(final)
	}
	data, err := s.store.GetBytes(ctx, bundle.Key(final.ID, final.Attempt, bundle.VerdictFile), 64<<20)
	if err != nil {
		return fmt.Errorf("verdict: %w", err)
	}
	v, err := bundle.DecodeVerdict(data)
	if err != nil {
		return err
	}
	say("==> the verifier aligned every member's samples by its measured clock offsets, summed their energy: VERIFIED")
	if v.Results != nil {
		for _, t := range v.Results.Tiers {
			say("    tier %s: %d agents on %d GPUs, %.0f W summed over %d members: %.1f Agents/MW (SIMULATED)",
				t.Tier, t.MaxAgents, v.Results.GPUs, t.AvgPowerW, p.Rack.Members, t.AgentsPerMW)
		}
	}
	say("\n    Everything above is SIMULATED: sim nodes stood in for a rack's hosts and GPUs; nothing was published.")
	return nil
}
