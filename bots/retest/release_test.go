package retest

import (
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
)

// publishSim publishes the sim example, opted in to retests, as the local
// stack would (simulated, badged); it returns the job id.
func (e *env) publishSim() string {
	e.t.Helper()
	data, err := examples.Submissions.ReadFile(examples.SimSubmission)
	if err != nil {
		e.t.Fatal(err)
	}
	sub, err := spec.Parse("sim.yaml", append(data, []byte("retest:\n  on_new_framework_release: true\n")...))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := sub.PinWorkload("sha256:" + strings.Repeat("cd", 32)); err != nil {
		e.t.Fatal(err)
	}
	canon, err := sub.Canonical()
	if err != nil {
		e.t.Fatal(err)
	}
	j, _, err := e.q.Enqueue(e.ctx, queue.NewJob{Vendor: sub.Metadata.Vendor, Name: sub.Metadata.Name, Pool: sub.Pool(), Spec: canon,
		SpecDigest: sub.Digest(), Trigger: "submit:sim", Workload: sub.WorkloadName(), WorkloadDigest: sub.WorkloadDigest(), Profile: sub.Benchmark.Profile})
	if err != nil {
		e.t.Fatal(err)
	}
	v := &bundle.Verdict{Status: bundle.StatusVerified, Job: j.ID, Attempt: 1, Profile: sub.Benchmark.Profile, RulesVersion: "v1", Simulated: true,
		Results: &bundle.Results{Model: "sim", GPUs: 8, Tiers: []bundle.TierResult{{Tier: "t20", Confirmed: true, MaxAgents: 12, AgentsPerMW: 5000}}}}
	if _, err := publish.Publish(e.ctx, e.store, publish.PublishInput{Job: j, Verdict: v, Local: true,
		Approval: publish.Approval{By: "maint", Via: publish.ViaMaintainerToken, At: e.clock.Now()}}); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
	return j.ID
}

// A release given by hand (--release sim@2) retests the published sim
// configuration that opted in: the same sim_profile at the new version, no
// image, three repeats; hostile names and versions are refused; polls
// remember nothing of it.
func TestReleaseByHandRetestsTheSim(t *testing.T) {
	e := newEnv(t)
	of := e.publishSim()
	e.publish(e.submission("a", nil), e.clock.Now()) // a vLLM config: not a sim release's business
	w := e.watcher()
	rep, err := w.Release(e.ctx, "sim", "2")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Queued) != 1 || rep.Queued[0].Of != of || rep.Queued[0].Trigger != "retest:sim@2" {
		t.Fatalf("queued %+v, want the retest of %s", rep.Queued, of)
	}
	j, err := e.q.Get(e.ctx, rep.Queued[0].Job)
	if err != nil {
		t.Fatal(err)
	}
	s := specOfJob(t, j)
	if s.Framework.Version != "2" || s.Engine.Image != "" || s.Engine.SimProfile == "" || s.Benchmark.RepeatCount() != spec.RetestRepeats || j.Pool != "sim" {
		t.Errorf("sim retest: pool %s, %+v", j.Pool, s)
	}
	for _, bad := range []string{"sim@2/../x", "sim@", "scheduled@1", "Sim@2", "sim@2\x1b[31m"} {
		fw, version, _ := strings.Cut(bad, "@")
		if _, err := w.Release(e.ctx, fw, version); err == nil {
			t.Errorf("release %q accepted", bad)
		}
	}
	// A poll afterwards starts from its baseline as if nothing was given.
	e.release("vllm-project", "vllm", "v0.11.0")
	if rep := e.once(w); len(rep.Queued) != 0 || len(rep.Releases) == 0 || !rep.Releases[0].Baseline {
		t.Errorf("first poll after a release by hand: %+v", rep)
	}
}

// retest.every in the spec schedules a configuration's retests even with
// the watcher's default off; one that names none then waits for releases.
func TestScheduleFromTheSpec(t *testing.T) {
	e := newEnv(t)
	every := spec.D(48 * time.Hour)
	sub := e.submission("every-2d", func(s *spec.Submission) { s.Retest = &spec.Retest{Every: &every} })
	of := e.publish(sub, e.clock.Now().Add(-49*time.Hour))
	e.publish(e.submission("default", nil), e.clock.Now().Add(-500*time.Hour))
	w := e.watcher(func(c *Config) { c.Every = 0 })
	rep := e.once(w)
	if len(rep.Queued) != 1 || rep.Queued[0].Of != of || !strings.HasPrefix(rep.Queued[0].Trigger, "retest:scheduled@") {
		t.Fatalf("queued %+v, want only the scheduled retest of %s", rep.Queued, of)
	}
	e.clock.Add(24 * time.Hour)
	if rep := e.once(w); len(rep.Queued) != 0 {
		t.Errorf("a day later: queued %+v", rep.Queued)
	}
}
