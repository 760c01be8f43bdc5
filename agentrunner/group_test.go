package agentrunner

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/agentrunner/accuracy"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/group"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifyd"
	"github.com/agentwatt/agentwatt/workload"
)

// simRackFile is the sim rack example a group runs.
const simRackFile = "submissions/sim-rack.yaml"

// rack is a sim rack of runner processes' runners, in this process: one
// runner per member, each with its own work dir, all on the test's NATS.
type rack struct {
	e       *testEnv
	profile string
	size    int
	gpus    int // per member
	gs      *group.Groups
	stops   map[string]func()
	runners map[string]*Runner
}

func newRack(e *testEnv, profile string, size, gpus int) *rack {
	gs, err := group.Open(context.Background(), e.nc, e.q.JetStream(), rackGroupConfig(), testLog())
	if err != nil {
		e.t.Fatal(err)
	}
	return &rack{e: e, profile: profile, size: size, gpus: gpus, gs: gs, stops: map[string]func(){}, runners: map[string]*Runner{}}
}

// rackGroupConfig: TTLs short for the tests, long enough that a busy
// machine's late refresh does not break a job (a member stopped leaves at
// once).
func rackGroupConfig() group.Config {
	return group.Config{Replicas: 1, MemberTTL: 6 * time.Second, LeaseTTL: 6 * time.Second, RequestTimeout: 5 * time.Second}
}

func (rk *rack) pool() string { return fmt.Sprintf("simx%d", rk.size*rk.gpus) }

// config is member k's runner config.
func (rk *rack) config(k int) Config {
	name := fmt.Sprintf("node-%d", k)
	cfg := rk.e.config(name)
	cfg.Pool = rk.pool()
	cfg.Group = &GroupConfig{Conn: rk.e.nc, Groups: rackGroupConfig(), Name: "rack", Size: rk.size, Member: name,
		Host: "rack-host", SimRackProfile: rk.profile, GPUs: rk.gpus}
	return cfg
}

// start runs member k's runner, changed by mod.
func (rk *rack) start(k int, mod func(*Config)) {
	cfg := rk.config(k)
	if mod != nil {
		mod(&cfg)
	}
	r, stop := rk.e.startRunner(cfg)
	rk.stops[cfg.Group.Member], rk.runners[cfg.Group.Member] = stop, r
}

// waitLeader waits until member leads the group.
func (rk *rack) waitLeader(member string) {
	t := rk.e.t
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if l, ok, err := rk.gs.Leader(context.Background(), "rack"); err == nil && ok && l.Member == member {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s does not lead the group", member)
}

// submit enqueues the sim rack example for this rack's profile.
func (rk *rack) submit(trigger string, memberArgs string) *queue.Job {
	return rk.e.submitFile(simRackFile, trigger, func(s *spec.Submission) {
		s.Engine.SimProfile = rk.profile
		s.System.Accelerators = rk.size * rk.gpus
		if d := s.System.Disaggregation; d != nil {
			d.PrefillWorkers, d.DecodeWorkers = 1, rk.size-1
		}
		if memberArgs != "" {
			s.Engine.Env[nodeArgsEnv] = memberArgs
		}
	})
}

// verdict runs the verifier on a stored bundle as the verifier daemon
// would (verify), and returns its verdict whatever it is.
func (e *testEnv) verdict(job string, attempt int) *bundle.Verdict {
	t := e.t
	t.Helper()
	ctx := context.Background()
	path, _, err := e.reg.Resolve(ctx, e.wlName+"@"+string(e.wlDigest))
	if err != nil {
		t.Fatal(err)
	}
	wl, err := workload.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	qs, err := accuracy.GSM8K()
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]verifier.Reference, len(qs))
	for i, q := range qs {
		refs[i] = verifier.Reference{ID: q.ID, Expected: q.Expected}
	}
	v, err := verifier.Verify(ctx, verifyd.StoreSource(e.store, bundle.Prefix(job, attempt)), verifier.Options{
		Trusted: bundle.Trusted(e.key.Public().(ed25519.PublicKey)), Workload: wl, References: refs, Jobs: verifyd.Jobs{Queue: e.q}, Log: testLog(),
	})
	if err != nil {
		t.Fatalf("verify runs/%s/%d: %v", job, attempt, err)
	}
	return v
}

// storedKeys are the keys under a bundle's prefix, relative to it.
func (e *testEnv) storedKeys(job string, attempt int) map[string]int64 {
	infos, err := e.store.List(context.Background(), bundle.Prefix(job, attempt))
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, i := range infos {
		out[strings.TrimPrefix(i.Key, bundle.Prefix(job, attempt))] = i.Size
	}
	return out
}

// storedJSON decodes a stored bundle file.
func (e *testEnv) storedJSON(job string, attempt int, name string, v any) {
	b, err := e.store.GetBytes(context.Background(), bundle.Key(job, attempt, name), 16<<20)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
}

// TestGroupJobEndToEnd runs a sim rack's job on a group of four runners:
// while one member is missing the group takes no job; once all four are
// alive the leader takes it, every member runs its node and samples its
// power, one member's clock runs 2 s ahead, and the one bundle holds
// members.json and the four power files, verified with the energy summed
// across members and that member's samples aligned by its measured
// offsets.
func TestGroupJobEndToEnd(t *testing.T) {
	e := newEnv(t, envOpts{})
	rk := newRack(e, "gb300-nvl72-like", 4, 18)
	rk.start(0, nil)
	rk.waitLeader("node-0")
	rk.start(1, nil)
	rk.start(2, func(c *Config) { c.Group.ClockSkew = 2 * time.Second })

	j := rk.submit("group-e2e", "")
	time.Sleep(3 * time.Second)
	if got, err := e.q.Get(context.Background(), j.ID); err != nil || got.State != queue.Queued || got.Attempt != 0 {
		t.Fatalf("with 3 of 4 members alive: job %+v (err %v), want it queued and untaken", got, err)
	}

	rk.start(3, nil)
	done := e.waitState(j.ID, 3*time.Minute, queue.Uploaded, queue.Failed)
	if done.State != queue.Uploaded {
		t.Fatalf("job %s: %s (%s)", j.ID, done.State, done.Reason)
	}
	keys := e.storedKeys(j.ID, done.Attempt)
	for k := range 4 {
		if _, ok := keys[bundle.MemberPowerFile(fmt.Sprintf("node-%d", k))]; !ok {
			t.Errorf("stored bundle has no %s: %v", bundle.MemberPowerFile(fmt.Sprintf("node-%d", k)), keys)
		}
	}
	if _, ok := keys[bundle.PowerFile]; ok {
		t.Errorf("a group bundle with %s", bundle.PowerFile)
	}
	var ms bundle.Members
	e.storedJSON(j.ID, done.Attempt, bundle.MembersFile, &ms)
	if ms.Leader != "node-0" || len(ms.Members) != 4 {
		t.Fatalf("members.json: leader %s, %d members", ms.Leader, len(ms.Members))
	}
	skewed, _ := ms.Member("node-2")
	if len(skewed.Offsets) < 4 {
		t.Fatalf("node-2: %d clock measurements, want the baseline's and every window's", len(skewed.Offsets))
	}
	// Its clock is the leader's, less the time between their starts, plus
	// the 2 s skew.
	want := rk.runners["node-0"].zero.Sub(rk.runners["node-2"].zero) + 2*time.Second
	for _, o := range skewed.Offsets {
		if d := time.Duration(o.OffsetNs) - want; d > 20*time.Millisecond || d < -20*time.Millisecond {
			t.Errorf("node-2 offset at probe %d %s: %v, want %v", o.Probe, o.At, time.Duration(o.OffsetNs), want)
		}
	}
	v := e.verdict(j.ID, done.Attempt)
	if !v.Verified() {
		for _, c := range v.Failed() {
			t.Errorf("check %s failed: %s", c.Name, c.Reason)
		}
		t.Fatalf("verdict %s, want verified", v.Status)
	}
	var sum bundle.Summary
	e.storedJSON(j.ID, done.Attempt, bundle.SummaryFile, &sum)
	if sum.GPUs != 72 {
		t.Errorf("summary: %d GPUs, want 72 (4 members × 18)", sum.GPUs)
	}
	for id, tier := range sum.Tiers {
		t.Logf("tier %s: %+v", id, tier)
	}
}

// TestGroupMemberKilled stops a member mid-job: the leader sees the group
// break, stops the job and releases it, with nothing of the broken attempt
// stored; once the member is back the job is redelivered and completes.
func TestGroupMemberKilled(t *testing.T) {
	e := newEnv(t, envOpts{})
	rk := newRack(e, "tiny-rack", 2, 2)
	rk.start(0, nil)
	rk.waitLeader("node-0")
	rk.start(1, nil)
	j := rk.submit("group-kill", "")
	e.waitEvent(j.ID, time.Minute, inSearch)
	rk.stops["node-1"]()

	released := e.waitState(j.ID, time.Minute, queue.Queued, queue.Uploaded, queue.Failed)
	if released.State != queue.Queued || released.Attempt != 1 || !strings.Contains(released.Reason, "group broke") {
		t.Fatalf("after node-1 stopped: job %s attempt %d (%s), want queued again after attempt 1, released as the group broke",
			released.State, released.Attempt, released.Reason)
	}
	if keys := e.storedKeys(j.ID, 1); len(keys) > 0 {
		t.Errorf("the broken attempt stored %v, want nothing", keys)
	}

	rk.start(1, nil)
	done := e.waitState(j.ID, 2*time.Minute, queue.Uploaded, queue.Failed)
	if done.State != queue.Uploaded || done.Attempt < 2 {
		t.Fatalf("job %s attempt %d (%s), want uploaded by a later attempt", done.State, done.Attempt, done.Reason)
	}
	for a := 1; a < done.Attempt; a++ { // a busy machine may break one more
		if keys := e.storedKeys(j.ID, a); len(keys) > 0 {
			t.Errorf("broken attempt %d stored %v, want nothing", a, keys)
		}
	}
	if v := e.verdict(j.ID, done.Attempt); !v.Verified() {
		for _, c := range v.Failed() {
			t.Errorf("check %s failed: %s", c.Name, c.Reason)
		}
	}
}

// TestGroupMemberPowerGap gives one member's node a power gap (the sim
// node's fault) across the measured windows: the job completes, and the
// verifier refuses its windows naming that member.
func TestGroupMemberPowerGap(t *testing.T) {
	e := newEnv(t, envOpts{})
	rk := newRack(e, "tiny-rack", 2, 2)
	rk.start(0, nil)
	rk.waitLeader("node-0")
	rk.start(1, nil)
	j := rk.submit("group-gap", "1:--fault-power-gap-after 3s --fault-power-gap-for 4s")
	done := e.waitState(j.ID, 2*time.Minute, queue.Uploaded, queue.Failed)
	if done.State != queue.Uploaded {
		t.Fatalf("job %s (%s), want uploaded", done.State, done.Reason)
	}
	v := e.verdict(j.ID, done.Attempt)
	if v.Verified() {
		t.Fatal("verified with a member's power gap across its windows")
	}
	c, ok := v.Check(verifier.CheckPower)
	if !ok || c.Passed || !strings.Contains(c.Reason, "member node-1: power sample gap") {
		for _, c := range v.Failed() {
			t.Logf("check %s failed: %s", c.Name, c.Reason)
		}
		t.Fatalf("power check %+v, want it failed naming member node-1's gap", c)
	}
	if strings.Contains(c.Reason, "member node-0") {
		t.Errorf("power check %q names node-0, whose samples have no gap", c.Reason)
	}
}

// TestGroupLeaderLeaseLost deletes the leader's lease mid-job (as when its
// refreshes stopped reaching NATS for a lease TTL): the leader stops the
// job and releases it, the members tear their parts down, a leader of a
// later term takes the job again and completes it.
func TestGroupLeaderLeaseLost(t *testing.T) {
	e := newEnv(t, envOpts{})
	rk := newRack(e, "tiny-rack", 2, 2)
	rk.start(0, nil)
	rk.waitLeader("node-0")
	rk.start(1, nil)
	j := rk.submit("group-lease", "")
	e.waitEvent(j.ID, time.Minute, inSearch)
	l, _, err := rk.gs.Leader(context.Background(), "rack")
	if err != nil {
		t.Fatal(err)
	}
	kv, err := e.q.JetStream().KeyValue(context.Background(), group.BucketLeaders)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(context.Background(), "rack"); err != nil {
		t.Fatal(err)
	}

	done := e.waitState(j.ID, 2*time.Minute, queue.Uploaded, queue.Failed)
	if done.State != queue.Uploaded || done.Attempt < 2 {
		t.Fatalf("job %s attempt %d (%s), want uploaded by a later attempt", done.State, done.Attempt, done.Reason)
	}
	for a := 1; a < done.Attempt; a++ {
		if keys := e.storedKeys(j.ID, a); len(keys) > 0 {
			t.Errorf("attempt %d, whose leader lost its lease, stored %v, want nothing", a, keys)
		}
	}
	now, _, err := rk.gs.Leader(context.Background(), "rack")
	if err != nil {
		t.Fatal(err)
	}
	if now.Term <= l.Term {
		t.Errorf("the job completed under term %d, the lost lease's was %d", now.Term, l.Term)
	}
	if v := e.verdict(j.ID, done.Attempt); !v.Verified() {
		for _, c := range v.Failed() {
			t.Errorf("check %s failed: %s", c.Name, c.Reason)
		}
	}
}
