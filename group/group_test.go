package group

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNamesAreValidated(t *testing.T) {
	c := newCluster(t)
	g, _ := c.process(Config{})
	ctx := testCtx(t, time.Minute)
	if err := g.Define(ctx, Definition{Name: "rack-1", Size: 2}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"group with a dot", func() error { return g.Define(ctx, Definition{Name: "rack.1", Size: 2}) }()},
		{"group with a wildcard", func() error { return g.Define(ctx, Definition{Name: "rack-*", Size: 2}) }()},
		{"size 0", func() error { return g.Define(ctx, Definition{Name: "rack-2", Size: 0}) }()},
		{"member climbing out", func() error {
			_, err := g.Join(ctx, "rack-1", Member{Name: "../node", Accelerator: "gb300", GPUs: 1}, newRecorder())
			return err
		}()},
		{"member with a subject wildcard", func() error {
			_, err := g.Join(ctx, "rack-1", Member{Name: "node.>", Accelerator: "gb300", GPUs: 1}, newRecorder())
			return err
		}()},
		{"member without GPUs", func() error {
			_, err := g.Join(ctx, "rack-1", Member{Name: "node-1", Accelerator: "gb300"}, newRecorder())
			return err
		}()},
		{"lead as a bad name", func() error { _, err := g.TryLead(ctx, "rack-1", "Node"); return err }()},
	} {
		if !errors.Is(tt.err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tt.name, tt.err)
		}
	}
	join(t, g, "rack-1", "node-1", 4, newRecorder())
	if _, err := g.Join(ctx, "rack-1", Member{Name: "node-1", Host: "elsewhere", Accelerator: "gb300", GPUs: 4}, newRecorder()); !errors.Is(err, ErrMemberExists) {
		t.Errorf("a second host joining as node-1: %v, want ErrMemberExists", err)
	}
	if _, err := g.Join(ctx, "rack-9", Member{Name: "node-1", Accelerator: "gb300", GPUs: 1}, newRecorder()); !errors.Is(err, ErrNotDefined) {
		t.Errorf("join an undefined group: %v, want ErrNotDefined", err)
	}
}

// TestPoolOnlyWhileComplete: 4 members × 18 gb300 make gb300x72; with one
// missing the group offers no pool.
func TestPoolOnlyWhileComplete(t *testing.T) {
	c := newCluster(t)
	g, _ := c.process(Config{})
	ctx := testCtx(t, time.Minute)
	if err := g.Define(ctx, Definition{Name: "nvl72", Size: 4}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		join(t, g, "nvl72", n, 18, newRecorder())
	}
	if pool, err := g.Pool(ctx, "nvl72"); !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "3 of 4") {
		t.Fatalf("Pool with 3 of 4 = %q, %v, want ErrIncomplete", pool, err)
	}
	join(t, g, "nvl72", "node-d", 18, newRecorder())
	pool, err := g.Pool(ctx, "nvl72")
	if err != nil || pool != "gb300x72" {
		t.Fatalf("Pool = %q, %v, want gb300x72", pool, err)
	}
	ms, err := g.Members(ctx, "nvl72")
	if err != nil || len(ms) != 4 || ms[0].Name != "node-a" || ms[0].Host != "node-a.rack" {
		t.Errorf("Members = %+v, %v", ms, err)
	}
}

// TestMemberKilledPoolGone: a member whose process dies stops refreshing;
// its entry expires and the group's pool goes with it.
func TestMemberKilledPoolGone(t *testing.T) {
	c := newCluster(t)
	g, _ := c.process(fast)
	ctx := testCtx(t, time.Minute)
	if err := g.Define(ctx, Definition{Name: "rack", Size: 2}); err != nil {
		t.Fatal(err)
	}
	join(t, g, "rack", "node-a", 8, newRecorder())
	other, nc := c.process(fast)
	join(t, other, "rack", "node-b", 8, newRecorder())
	if pool, err := g.Pool(ctx, "rack"); err != nil || pool != "gb300x16" {
		t.Fatalf("Pool = %q, %v, want gb300x16", pool, err)
	}
	nc.Close() // node-b's process is gone
	eventually(t, 15*time.Second, "the pool outlives its dead member", func() bool {
		_, err := g.Pool(ctx, "rack")
		return errors.Is(err, ErrIncomplete)
	})
}

func TestLeaderElection(t *testing.T) {
	c := newCluster(t)
	g, _ := c.process(Config{})
	ctx := testCtx(t, time.Minute)
	if err := g.Define(ctx, Definition{Name: "rack", Size: 2}); err != nil {
		t.Fatal(err)
	}
	join(t, g, "rack", "node-a", 8, newRecorder())
	join(t, g, "rack", "node-b", 8, newRecorder())
	a, err := g.TryLead(ctx, "rack", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	resign(t, a)
	if _, err := g.TryLead(ctx, "rack", "node-b"); !errors.Is(err, ErrLeaderExists) {
		t.Fatalf("second TryLead = %v, want ErrLeaderExists", err)
	}
	if _, err := g.TryLead(ctx, "rack", "node-z"); err == nil {
		t.Fatal("a member that never joined took the lease")
	}
	l, ok, err := g.Leader(ctx, "rack")
	if err != nil || !ok || l.Member != "node-a" || l.Term != a.Term() {
		t.Errorf("Leader = %+v %v %v, want node-a at term %d", l, ok, err, a.Term())
	}
	st, ok, err := g.State(ctx, "rack")
	if err != nil || !ok || st.Term != a.Term() || st.Leader != "node-a" {
		t.Errorf("State = %+v %v %v, want the leader's term", st, ok, err)
	}
	// Resigning hands the lease on at once, under a higher term.
	a.Resign(ctx)
	b, err := g.TryLead(ctx, "rack", "node-b")
	if err != nil {
		t.Fatal(err)
	}
	resign(t, b)
	if b.Term() <= a.Term() {
		t.Errorf("term %d after %d, want higher", b.Term(), a.Term())
	}
}

// TestLeaderDeathFencesOldLeader: the leader's process loses NATS; its
// lease expires, another member leads under a higher term, and the old
// leader learns it lost the lease (a whole TTL without a refresh) and
// every write of its term is refused — by itself and by the group state
// and the members, which hold the new term.
func TestLeaderDeathFencesOldLeader(t *testing.T) {
	c := newCluster(t)
	g, _ := c.process(fast)
	ctx := testCtx(t, time.Minute)
	if err := g.Define(ctx, Definition{Name: "rack", Size: 2}); err != nil {
		t.Fatal(err)
	}
	old, oldNC := c.process(fast)
	join(t, old, "rack", "node-a", 8, newRecorder())
	rb := newRecorder()
	join(t, g, "rack", "node-b", 8, rb)
	a, err := old.TryLead(ctx, "rack", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stopAll)
	if err := a.Assign(ctx, "node-b", "job-1", 1, json.RawMessage(`{"role":"decode"}`)); err != nil {
		t.Fatal(err)
	}
	oldNC.Close() // node-a's process is cut off

	b, err := g.Campaign(testCtx(t, 20*time.Second), "rack", "node-b")
	if err != nil {
		t.Fatalf("Campaign: %v", err)
	}
	resign(t, b)
	if b.Term() <= a.Term() {
		t.Fatalf("new term %d, old %d: want higher", b.Term(), a.Term())
	}
	select {
	case <-a.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the old leader never learned it lost the lease")
	}
	if err := a.PutState(ctx, json.RawMessage(`{"job":"stale"}`)); !errors.Is(err, ErrFenced) {
		t.Errorf("old leader PutState = %v, want ErrFenced", err)
	}
	if _, err := a.Pool(ctx); !errors.Is(err, ErrFenced) {
		t.Errorf("old leader Pool = %v, want ErrFenced: no job taken", err)
	}
	// node-a's host is gone with its leader: the new leader has no pool
	// either until it comes back.
	eventually(t, 15*time.Second, "the new leader offers a pool without node-a", func() bool {
		_, err := b.Pool(ctx)
		return errors.Is(err, ErrIncomplete)
	})
	if err := a.Assign(ctx, "node-b", "job-2", 1, nil); !errors.Is(err, ErrFenced) {
		t.Errorf("old leader Assign = %v, want ErrFenced", err)
	}
	// node-b tore down the part the old leader had assigned.
	select {
	case reason := <-rb.tornDown:
		if !strings.Contains(reason, "lease was lost") {
			t.Errorf("teardown reason %q", reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the member kept the dead leader's part")
	}
}

// TestStaleTermRefused is the attack of a stale leader (or anyone on the
// bus) sending a member an assignment or a teardown under an old term,
// and of a stale leader writing the group state: all are refused by term.
func TestStaleTermRefused(t *testing.T) {
	c := newCluster(t)
	g, _ := c.process(Config{})
	ctx := testCtx(t, time.Minute)
	if err := g.Define(ctx, Definition{Name: "rack", Size: 2}); err != nil {
		t.Fatal(err)
	}
	join(t, g, "rack", "node-a", 8, newRecorder())
	rb := newRecorder()
	join(t, g, "rack", "node-b", 8, rb)
	a, err := g.TryLead(ctx, "rack", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	a.stopAll()
	// The lease is taken from under node-a (it expired, say) by node-b.
	if err := g.leader.Delete(ctx, "rack"); err != nil {
		t.Fatal(err)
	}
	b, err := g.TryLead(ctx, "rack", "node-b")
	if err != nil {
		t.Fatal(err)
	}
	resign(t, b)
	if err := b.Assign(ctx, "node-b", "job-new", 1, nil); err != nil {
		t.Fatalf("new leader Assign = %v", err)
	}
	stale := Assignment{Group: "rack", Term: a.Term(), Leader: "node-a", Job: "job-old", Attempt: 1}
	if _, err := g.request(ctx, memberSubject("rack", "node-b", "assign"), stale); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "fenced") {
		t.Errorf("stale assignment = %v, want refused as fenced", err)
	}
	if _, err := g.request(ctx, memberSubject("rack", "node-b", "teardown"), TeardownRequest{Term: a.Term(), Reason: "evil"}); !errors.Is(err, ErrRefused) {
		t.Errorf("stale teardown = %v, want refused", err)
	}
	if got := rb.tornReasons(); len(got) != 0 {
		t.Errorf("member tore down on a stale word: %v", got)
	}
	// The stale leader's refresh is refused by the server: it learns.
	if err := a.refresh(ctx); err == nil {
		t.Fatal("stale refresh accepted")
	}
	if err := a.PutState(ctx, json.RawMessage(`{}`)); !errors.Is(err, ErrFenced) {
		t.Errorf("stale PutState = %v, want ErrFenced", err)
	}
	if st, _, _ := g.State(ctx, "rack"); st.Term != b.Term() {
		t.Errorf("state term %d, want the new leader's %d", st.Term, b.Term())
	}
}

func TestAssignReadyTeardown(t *testing.T) {
	c := newCluster(t)
	g, _ := c.process(Config{})
	ctx := testCtx(t, time.Minute)
	if err := g.Define(ctx, Definition{Name: "rack", Size: 3}); err != nil {
		t.Fatal(err)
	}
	recs := map[string]*recorder{}
	mss := map[string]*Membership{}
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		recs[n] = newRecorder()
		mss[n] = join(t, g, "rack", n, 4, recs[n])
	}
	l, err := g.TryLead(ctx, "rack", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	resign(t, l)
	for _, n := range []string{"node-a", "node-b", "node-c"} {
		if err := l.Assign(ctx, n, "job-1", 1, json.RawMessage(`{"rank":1}`)); err != nil {
			t.Fatalf("Assign %s: %v", n, err)
		}
	}
	// A repeated assignment (a lost reply) is accepted; another job is not.
	if err := l.Assign(ctx, "node-b", "job-1", 1, nil); err != nil {
		t.Errorf("repeated Assign = %v", err)
	}
	if err := l.Assign(ctx, "node-b", "job-2", 1, nil); !errors.Is(err, ErrRefused) {
		t.Errorf("Assign while busy = %v, want ErrRefused", err)
	}
	a := <-recs["node-b"].assignedC
	if a.Term != l.Term() || string(a.Part) != `{"rank":1}` || a.Leader != "node-a" {
		t.Errorf("assignment %+v", a)
	}
	for _, n := range []string{"node-a", "node-b"} {
		if err := mss[n].Ready(ctx, *mss[n].Assigned(), nil); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = l.WaitReady(wctx, "job-1", 1, []string{"node-a", "node-b", "node-c"})
	cancel()
	if err == nil || !strings.Contains(err.Error(), "node-c") {
		t.Errorf("WaitReady without node-c = %v, want it named", err)
	}
	if err := mss["node-c"].Ready(ctx, *mss["node-c"].Assigned(), errors.New("engine exited 1")); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitReady(ctx, "job-1", 1, []string{"node-a", "node-b", "node-c"}); err == nil || !strings.Contains(err.Error(), "member node-c: engine exited 1") {
		t.Errorf("WaitReady with node-c failed = %v", err)
	}
	if err := mss["node-c"].Ready(ctx, *mss["node-c"].Assigned(), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.WaitReady(ctx, "job-1", 1, []string{"node-a", "node-b", "node-c"}); err != nil {
		t.Errorf("WaitReady = %v", err)
	}
	if err := l.Teardown(ctx, "node-b", "job done"); err != nil {
		t.Fatal(err)
	}
	if reason := <-recs["node-b"].tornDown; reason != "told by the leader: job done" {
		t.Errorf("teardown reason %q", reason)
	}
	if mss["node-b"].Assigned() != nil {
		t.Error("node-b still assigned after teardown")
	}
	// Leave tears down what still runs.
	if err := mss["node-c"].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if reason := <-recs["node-c"].tornDown; !strings.Contains(reason, "left") {
		t.Errorf("leave teardown reason %q", reason)
	}
	if _, err := l.Pool(ctx); !errors.Is(err, ErrIncomplete) {
		t.Errorf("leader's Pool after a member left = %v, want ErrIncomplete: no job taken", err)
	}
}

// TestMeasureClockSkew: a member whose clock runs 2 s ahead of the
// leader's is measured at 2 s within the measured uncertainty.
func TestMeasureClockSkew(t *testing.T) {
	c := newCluster(t)
	base := time.Now()
	leaderClock := func() int64 { return int64(time.Since(base)) }
	const skew = int64(2 * time.Second)
	g, _ := c.process(Config{Clock: leaderClock})
	m, _ := c.process(Config{Clock: func() int64 { return leaderClock() + skew }})
	ctx := testCtx(t, time.Minute)
	if err := g.Define(ctx, Definition{Name: "rack", Size: 2}); err != nil {
		t.Fatal(err)
	}
	join(t, g, "rack", "node-a", 8, newRecorder())
	join(t, m, "rack", "node-b", 8, newRecorder())
	l, err := g.TryLead(ctx, "rack", "node-a")
	if err != nil {
		t.Fatal(err)
	}
	resign(t, l)
	got, err := l.MeasureClock(ctx, "node-b", 7)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rounds != 7 || got.UncertaintyNs <= 0 || got.UncertaintyNs > int64(time.Second) {
		t.Errorf("measurement %+v: want 7 rounds and an uncertainty in (0, 1 s]", got)
	}
	if d := got.OffsetNs - skew; d < -got.UncertaintyNs || d > got.UncertaintyNs {
		t.Errorf("offset %d ns, want %d ± %d ns", got.OffsetNs, skew, got.UncertaintyNs)
	}
	if now := leaderClock(); got.AtNs <= 0 || got.AtNs > now {
		t.Errorf("measured at %d, want on the leader's clock before %d", got.AtNs, now)
	}
	if _, err := l.MeasureClock(ctx, "node-z", 1); err == nil {
		t.Error("clock of a member that is not there measured")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Replicas: 2}, {MemberTTL: -time.Second}, {LeaseTTL: -1}, {RequestTimeout: -1}} {
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", c, err)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("Validate(zero) = %v", err)
	}
	d := Config{}.withDefaults()
	if d.MemberTTL != 30*time.Second || d.LeaseTTL != 30*time.Second || d.Clock == nil {
		t.Errorf("defaults %+v", d)
	}
}
