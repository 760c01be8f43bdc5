package retest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// verify plays runner and verifier for job id: taken, uploaded, verified
// with a verdict of agentsPerMW in the store (the verifier itself is
// tested elsewhere; this is the queue state and the file it leaves).
func (e *env) verify(id string, agentsPerMW float64) {
	e.t.Helper()
	j, err := e.q.Get(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	w, err := e.q.NewWorker(queue.WorkerConfig{Pool: j.Pool, Runner: "r1"})
	if err != nil {
		e.t.Fatal(err)
	}
	var lease *queue.Lease
	for lease == nil {
		l, err := w.Next(e.ctx)
		if err != nil {
			e.t.Fatalf("take %s: %v", id, err)
		}
		if l.Job().ID == id {
			lease = l
			continue
		}
		// Another job of the pool (a published base's record): out of the way.
		if _, err := l.Fail(e.ctx, "not this test's job"); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := lease.Complete(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	for _, to := range []queue.State{queue.Verifying, queue.Verified} {
		if _, err := e.q.Transition(e.ctx, id, lease.Attempt(), to, "test verifier"); err != nil {
			e.t.Fatal(err)
		}
	}
	v := &bundle.Verdict{SchemaVersion: bundle.VerdictSchemaVersion, Status: bundle.StatusVerified, Job: id, Attempt: lease.Attempt(),
		Profile: j.Profile, RulesVersion: "v1", Results: &bundle.Results{Model: "m", GPUs: 8,
			Tiers: []bundle.TierResult{{Tier: "t20", Confirmed: true, MaxAgents: 90, AgentsPerMW: agentsPerMW}}}}
	data, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.PutBytes(e.ctx, bundle.Key(id, lease.Attempt(), bundle.VerdictFile), data, "application/json"); err != nil {
		e.t.Fatal(err)
	}
}

// --auto-approve publishes a verified retest of a configuration that
// stands on the job it derives from, recorded as approved via
// retest-auto; a retest of a publication since superseded is left for a
// maintainer; without the setting nothing is approved.
func TestAutoApproveRetests(t *testing.T) {
	e := newEnv(t)
	a := e.publish(e.submission("a", nil), e.clock.Now())
	b := e.publish(e.submission("b", func(s *spec.Submission) { s.Engine.Args = append(s.Engine.Args, "--seed=2") }), e.clock.Now())
	e.release("vllm-project", "vllm", "v0.11.0")
	fl, err := fleet.Open(e.ctx, e.q.JetStream(), fleet.Config{}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	off := e.watcher()
	e.once(off)
	e.release("vllm-project", "vllm", "v0.12.0")
	e.push("vllm/vllm-openai", "v0.12.0")
	e.once(off)
	var ra, rb string
	for _, j := range e.retests() {
		switch j.RetestOf {
		case a:
			ra = j.ID
		case b:
			rb = j.ID
		}
	}
	if ra == "" || rb == "" {
		t.Fatalf("retests: %v", e.retests())
	}
	e.verify(ra, 11000)
	e.verify(rb, 13000)
	// b is published again meanwhile (a maintainer's own rerun): its retest
	// derives from a publication that no longer stands.
	e.clock.Add(time.Hour)
	e.publish(e.submission("b", func(s *spec.Submission) { s.Engine.Args = append(s.Engine.Args, "--seed=3") }), e.clock.Now())

	if rep := e.once(off); len(rep.Approved) != 0 {
		t.Fatalf("approved without --auto-approve: %v", rep.Approved)
	}
	on := e.watcher(func(c *Config) { c.AutoApprove, c.Keys = true, fl })
	rep := e.once(on)
	if !slices.Equal(rep.Approved, []string{ra}) {
		t.Fatalf("approved %v, want only %s", rep.Approved, ra)
	}
	if j, _ := e.q.Get(e.ctx, ra); j.State != queue.Published {
		t.Errorf("retest of a: %s, want published", j.State)
	}
	if j, _ := e.q.Get(e.ctx, rb); j.State != queue.Verified {
		t.Errorf("retest of superseded b: %s, want verified (left for a maintainer)", j.State)
	}
	lb, err := publish.LoadResults(e.ctx, e.store)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(lb.Results, func(r publish.Result) bool { return r.Job == ra })
	if i < 0 || lb.Results[i].ApprovedVia != publish.ViaRetestAuto || lb.Results[i].ApprovedBy != AutoApprover || lb.Results[i].FrameworkVersion != "0.12.0" {
		t.Errorf("published retest: %+v", lb.Results)
	}
	if _, err := New(e.ctx, Config{Frameworks: e.fws, Queue: e.q, Store: e.store, AutoApprove: true}, testLog()); err == nil {
		t.Error("auto-approval without runner keys accepted")
	}
}
