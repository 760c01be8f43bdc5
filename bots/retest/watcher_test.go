package retest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/bots/ghbot/ghfake"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/spec"
)

// TestFirstPollIsTheBaseline: the releases that came out before the watcher
// started are not retests; the newest becomes the baseline.
func TestFirstPollIsTheBaseline(t *testing.T) {
	e := newEnv(t)
	e.publish(e.submission("a", nil), e.clock.Now())
	e.release("vllm-project", "vllm", "v0.10.0")
	e.release("vllm-project", "vllm", "v0.11.0")
	e.push("vllm/vllm-openai", "v0.11.1")
	rep := e.once(e.watcher())
	if len(rep.Queued) != 0 || len(e.retests()) != 0 {
		t.Fatalf("first poll queued %v", rep.Queued)
	}
	if len(rep.Releases) != 1 || !rep.Releases[0].Baseline || rep.Releases[0].Tag != "v0.11.0" {
		t.Errorf("first poll releases = %+v, want the baseline v0.11.0", rep.Releases)
	}
}

// TestNewReleaseRetestsOptedInConfigs: a new vLLM release queues one retest
// per published configuration that asks for it, with the image pinned to
// the digest the registry serves and the new version; a poll with nothing
// new is a 304 and queues nothing.
func TestNewReleaseRetestsOptedInConfigs(t *testing.T) {
	e := newEnv(t)
	a := e.publish(e.submission("a", nil), e.clock.Now())
	b := e.publish(e.submission("b", func(s *spec.Submission) { s.Engine.Args = append(s.Engine.Args, "--seed=2") }), e.clock.Now())
	e.publish(e.submission("not-opted", func(s *spec.Submission) { s.Retest = nil }), e.clock.Now())
	e.publish(e.submission("sglang", func(s *spec.Submission) { s.Framework.Name = "sglang" }), e.clock.Now())
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher()
	e.once(w)

	e.release("vllm-project", "vllm", "v0.12.0")
	digest := e.push("vllm/vllm-openai", "v0.12.0")
	rep := e.once(w)
	if got := triggers(rep); !slices.Equal(got, []string{"retest:vllm@0.12.0", "retest:vllm@0.12.0"}) {
		t.Fatalf("queued %v, want two retest:vllm@0.12.0", got)
	}
	jobs := e.retests()
	if len(jobs) != 2 {
		t.Fatalf("%d retest jobs, want 2", len(jobs))
	}
	var of []string
	for _, j := range jobs {
		of = append(of, j.RetestOf)
		s := specOfJob(t, j)
		if want := e.reg + "/vllm/vllm-openai:v0.12.0@" + digest; s.Engine.Image != want {
			t.Errorf("retest image %q, want %q", s.Engine.Image, want)
		}
		if s.Benchmark.RepeatCount() != spec.RetestRepeats {
			t.Errorf("retest repeats %d, want %d", s.Benchmark.RepeatCount(), spec.RetestRepeats)
		}
		if s.Framework.Version != "0.12.0" || j.Trigger != "retest:vllm@0.12.0" || j.SubmittedBy != By || j.Vendor != "example-cloud" {
			t.Errorf("retest job %+v (version %s)", j, s.Framework.Version)
		}
		if j.SpecDigest != s.Digest() {
			t.Errorf("job's spec digest %s is not its spec's %s", j.SpecDigest, s.Digest())
		}
	}
	slices.Sort(of)
	want := []string{a, b}
	slices.Sort(want)
	if !slices.Equal(of, want) {
		t.Errorf("retests of %v, want %v", of, want)
	}

	before := e.gh.ReleaseCounts()
	rep = e.once(w)
	after := e.gh.ReleaseCounts()
	if len(rep.Queued) != 0 || len(e.retests()) != 2 {
		t.Errorf("a poll with no new release queued %v", rep.Queued)
	}
	if after.NotModified-before.NotModified != 2 || after.OK != before.OK {
		t.Errorf("unchanged poll: %+v → %+v, want two more 304s and no 200", before, after)
	}
	if !slices.Contains(rep.NotModified, "vllm") {
		t.Errorf("report's not-modified = %v", rep.NotModified)
	}
}

// TestRestartNeitherRepeatsNorMisses: a second watcher on the same bucket
// (a restart) queues the release that came out meanwhile and not the one
// the first handled.
func TestRestartNeitherRepeatsNorMisses(t *testing.T) {
	e := newEnv(t)
	e.publish(e.submission("a", nil), e.clock.Now())
	e.release("vllm-project", "vllm", "v0.11.0")
	e.push("vllm/vllm-openai", "v0.12.0")
	e.push("vllm/vllm-openai", "v0.13.0")
	w1 := e.watcher()
	e.once(w1)
	e.release("vllm-project", "vllm", "v0.12.0")
	if got := triggers(e.once(w1)); !slices.Equal(got, []string{"retest:vllm@0.12.0"}) {
		t.Fatalf("before the restart: queued %v", got)
	}
	e.release("vllm-project", "vllm", "v0.13.0")
	w2 := e.watcher() // restart
	if got := triggers(e.once(w2)); !slices.Equal(got, []string{"retest:vllm@0.13.0"}) {
		t.Fatalf("after the restart: queued %v, want only retest:vllm@0.13.0", got)
	}
	if rep := e.once(e.watcher()); len(rep.Queued) != 0 || !slices.Contains(rep.NotModified, "vllm") {
		t.Errorf("a restart with nothing new: queued %v, not modified %v", rep.Queued, rep.NotModified)
	}
	if n := len(e.retests()); n != 2 {
		t.Errorf("%d retest jobs, want 2", n)
	}
}

// TestTwoReleasesInOnePoll: both are retested, the older first.
func TestTwoReleasesInOnePoll(t *testing.T) {
	e := newEnv(t)
	e.publish(e.submission("a", nil), e.clock.Now())
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher()
	e.once(w)
	e.release("vllm-project", "vllm", "v0.12.0")
	e.release("vllm-project", "vllm", "v0.12.1")
	e.push("vllm/vllm-openai", "v0.12.0")
	e.push("vllm/vllm-openai", "v0.12.1")
	if got, want := triggers(e.once(w)), []string{"retest:vllm@0.12.0", "retest:vllm@0.12.1"}; !slices.Equal(got, want) {
		t.Errorf("queued %v, want %v", got, want)
	}
}

// TestImageMissingIsPendingUntilPushed: a release whose image is not in the
// registry yet is kept pending (never queued with a tag) and queued once
// the image appears, at a try after the backoff.
func TestImageMissingIsPendingUntilPushed(t *testing.T) {
	e := newEnv(t)
	e.publish(e.submission("a", nil), e.clock.Now())
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher()
	e.once(w)
	e.release("vllm-project", "vllm", "v0.12.0")
	rep := e.once(w)
	if len(rep.Queued) != 0 || len(e.retests()) != 0 {
		t.Fatalf("queued %v without an image", rep.Queued)
	}
	if len(rep.Pending) != 1 || rep.Pending[0].Version != "0.12.0" || !strings.Contains(rep.Pending[0].LastError, "not in the registry") {
		t.Fatalf("pending = %+v", rep.Pending)
	}
	// Still missing at the next try: pending, backed off further.
	e.clock.Add(DefaultPoll + time.Second)
	rep = e.once(w)
	if len(rep.Queued) != 0 || len(rep.Pending) != 1 || rep.Pending[0].Tries != 2 {
		t.Fatalf("second try: queued %v pending %+v", rep.Queued, rep.Pending)
	}
	digest := e.push("vllm/vllm-openai", "v0.12.0")
	rep = e.once(w) // before the backoff ends: not tried
	if len(rep.Queued) != 0 || len(rep.Pending) != 1 {
		t.Fatalf("before the backoff: queued %v pending %+v", rep.Queued, rep.Pending)
	}
	e.clock.Add(2*DefaultPoll + time.Second)
	rep = e.once(e.watcher()) // a restart keeps the pending retest too
	if len(rep.Queued) != 1 || len(rep.Pending) != 0 || !strings.HasSuffix(rep.Queued[0].Image, "@"+digest) {
		t.Fatalf("after the push: queued %+v pending %+v", rep.Queued, rep.Pending)
	}
}

// TestPrereleasesAndDraftsIgnored: unless the entry follows pre-releases.
func TestPrereleasesAndDraftsIgnored(t *testing.T) {
	e := newEnv(t)
	e.publish(e.submission("a", nil), e.clock.Now())
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher()
	e.once(w)
	e.push("vllm/vllm-openai", "v0.12.0rc1")
	e.push("vllm/vllm-openai", "v0.12.0")
	e.release("vllm-project", "vllm", "v0.12.0rc1", func(r *ghfake.Release) { r.Prerelease = true })
	e.release("vllm-project", "vllm", "v0.12.0", func(r *ghfake.Release) { r.Draft = true })
	if rep := e.once(w); len(rep.Queued) != 0 {
		t.Fatalf("queued %v for a pre-release and a draft", triggers(rep))
	}
	e.fws[0].Prereleases = true
	e.release("vllm-project", "vllm", "v0.12.0rc2", func(r *ghfake.Release) { r.Prerelease = true })
	e.push("vllm/vllm-openai", "v0.12.0rc2")
	if got := triggers(e.once(e.watcher())); !slices.Equal(got, []string{"retest:vllm@0.12.0rc2"}) {
		t.Errorf("with prereleases: true, queued %v", got)
	}
}

// TestRetractedConfigNotRetested: a configuration whose latest publication
// was retracted is not retested, though its previous result is back on the
// leaderboard.
func TestRetractedConfigNotRetested(t *testing.T) {
	e := newEnv(t)
	t0 := e.clock.Now()
	e.publish(e.submission("a", nil), t0.Add(-48*time.Hour))
	second := e.publish(e.submission("a", func(s *spec.Submission) { s.Engine.Args = append(s.Engine.Args, "--seed=2") }), t0.Add(-24*time.Hour))
	kept := e.publish(e.submission("kept", nil), t0.Add(-24*time.Hour))
	if _, err := publish.Retract(e.ctx, e.store, second, publish.Retraction{By: "maint", Via: publish.ViaMaintainerToken, Reason: "wrong power meter", At: t0}); err != nil {
		t.Fatal(err)
	}
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher()
	e.once(w)
	e.release("vllm-project", "vllm", "v0.12.0")
	e.push("vllm/vllm-openai", "v0.12.0")
	rep := e.once(w)
	if len(rep.Queued) != 1 || rep.Queued[0].Of != kept {
		t.Errorf("queued %+v, want only the retest of %s", rep.Queued, kept)
	}
}

// TestHostileReleaseTags: a tag becomes an image reference and a trigger;
// one that is not a plain version is refused, and the releases after it
// are still handled.
func TestHostileReleaseTags(t *testing.T) {
	e := newEnv(t)
	e.publish(e.submission("a", nil), e.clock.Now())
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher()
	e.once(w)
	hostile := []string{"v1.0/../../evil", "v1@sha256:" + strings.Repeat("0", 64), "v1 2", "v1\x1b[2J", "v1\nretest:x", "v" + strings.Repeat("1", 300), "v:latest", ".v1"}
	for _, tag := range hostile {
		e.release("vllm-project", "vllm", tag)
	}
	e.release("vllm-project", "vllm", "v0.12.0")
	e.push("vllm/vllm-openai", "v0.12.0")
	rep := e.once(w)
	if got := triggers(rep); !slices.Equal(got, []string{"retest:vllm@0.12.0"}) {
		t.Errorf("queued %v, want only retest:vllm@0.12.0", got)
	}
	refused := 0
	for _, r := range rep.Releases {
		if r.Refused != "" {
			refused++
		}
	}
	if refused != len(hostile) {
		t.Errorf("%d releases refused, want %d: %+v", refused, len(hostile), rep.Releases)
	}
	for _, j := range e.retests() {
		if strings.ContainsAny(j.Trigger, "/ \n\x1b") || strings.Count(j.Trigger, "@") != 1 {
			t.Errorf("trigger %q", j.Trigger)
		}
	}
}

// TestScheduledRetest: a configuration whose latest result is older than
// Every is retested as published (same image digest), once per Every.
func TestScheduledRetest(t *testing.T) {
	e := newEnv(t)
	sub := e.submission("a", nil)
	a := e.publish(sub, e.clock.Now().Add(-200*time.Hour))
	e.publish(e.submission("fresh", nil), e.clock.Now().Add(-time.Hour))
	w := e.watcher(func(c *Config) { c.Every = DefaultEvery })
	rep := e.once(w)
	if len(rep.Queued) != 1 || rep.Queued[0].Of != a || rep.Queued[0].Trigger != "retest:scheduled@2026-12-01" {
		t.Fatalf("queued %+v, want the scheduled retest of %s", rep.Queued, a)
	}
	j, err := e.q.Get(e.ctx, rep.Queued[0].Job)
	if err != nil {
		t.Fatal(err)
	}
	want := *sub // as published, measured spec.RetestRepeats times
	want.Benchmark.Repeats = spec.RetestRepeats
	if got := specOfJob(t, j); got.Engine.Image != sub.Engine.Image || got.Digest() != want.Digest() {
		t.Errorf("scheduled retest image %q (spec %s), want the published %q (spec %s)", got.Engine.Image, got.Digest(), sub.Engine.Image, want.Digest())
	}
	e.clock.Add(24 * time.Hour)
	if rep := e.once(w); len(rep.Queued) != 0 {
		t.Errorf("the next day: queued %+v again", rep.Queued)
	}
}

// TestAuthenticatedPolling: with a token the requests carry it (ghfake
// refuses a token it did not issue).
func TestAuthenticatedPolling(t *testing.T) {
	e := newEnv(t)
	e.gh.AddToken("ghp_test")
	e.release("vllm-project", "vllm", "v0.11.0")
	if rep := e.once(e.watcher(func(c *Config) { c.Token = "ghp_test" })); len(rep.Releases) != 1 {
		t.Errorf("releases %+v", rep.Releases)
	}
	if _, err := e.watcher(func(c *Config) { c.Token = "ghp_wrong" }).RunOnce(e.ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a bad token: got %v, want a 401", err)
	}
}

// TestRunPollsUntilCanceled: the daemon polls at once, then returns nil
// when its context ends.
func TestRunPollsUntilCanceled(t *testing.T) {
	e := newEnv(t)
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	for {
		var st frameworkState
		found, err := w.state.get(e.ctx, "fw.vllm", &st)
		if err != nil {
			t.Fatal(err)
		}
		if found && st.Last != nil && st.Last.Tag == "v0.11.0" {
			break
		}
		select {
		case <-e.ctx.Done():
			t.Fatal("no poll recorded")
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestRetractionAfterAPollIsSeen: the watcher keeps the history entries it
// has read; one rewritten by a retraction is read again.
func TestRetractionAfterAPollIsSeen(t *testing.T) {
	e := newEnv(t)
	t0 := e.clock.Now()
	e.publish(e.submission("a", nil), t0.Add(-48*time.Hour))
	second := e.publish(e.submission("a", func(s *spec.Submission) { s.Engine.Args = append(s.Engine.Args, "--seed=2") }), t0.Add(-24*time.Hour))
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher()
	e.once(w)
	e.release("vllm-project", "vllm", "v0.12.0")
	e.push("vllm/vllm-openai", "v0.12.0")
	if rep := e.once(w); len(rep.Queued) != 1 || rep.Queued[0].Of != second {
		t.Fatalf("before the retraction: queued %+v, want the retest of %s", rep.Queued, second)
	}
	if _, err := publish.Retract(e.ctx, e.store, second, publish.Retraction{By: "maint", Via: publish.ViaMaintainerToken, Reason: "bad", At: t0}); err != nil {
		t.Fatal(err)
	}
	e.release("vllm-project", "vllm", "v0.13.0")
	e.push("vllm/vllm-openai", "v0.13.0")
	if rep := e.once(w); len(rep.Queued) != 0 {
		t.Errorf("after the retraction: queued %+v", rep.Queued)
	}
}

// TestRegistryOnAPrivateAddressRefused: the registry host comes from a
// vendor's image_template; by default the watcher dials public addresses
// only, so a template naming a loopback (or metadata, or private) address
// reaches nothing and the retest stays pending.
func TestRegistryOnAPrivateAddressRefused(t *testing.T) {
	e := newEnv(t)
	e.publish(e.submission("a", nil), e.clock.Now())
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher(func(c *Config) { c.PrivateRegistries = false })
	e.once(w)
	e.release("vllm-project", "vllm", "v0.12.0")
	e.push("vllm/vllm-openai", "v0.12.0")
	rep := e.once(w)
	if len(rep.Queued) != 0 || len(rep.Pending) != 1 || !strings.Contains(rep.Pending[0].LastError, "not public") {
		t.Fatalf("queued %+v pending %+v, want one pending on a refused address", rep.Queued, rep.Pending)
	}
}

// TestOlderLineReleaseNotRetested: a patch release of an older line, out
// after the configuration's version, is not a retest.
func TestOlderLineReleaseNotRetested(t *testing.T) {
	e := newEnv(t)
	e.publish(e.submission("a", nil), e.clock.Now()) // on 0.11.0
	e.release("vllm-project", "vllm", "v0.11.0")
	w := e.watcher()
	e.once(w)
	e.release("vllm-project", "vllm", "v0.10.3")
	e.push("vllm/vllm-openai", "v0.10.3")
	if rep := e.once(w); len(rep.Queued) != 0 {
		t.Errorf("queued %+v for an older line", rep.Queued)
	}
}

func TestOlder(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"0.10.3", "0.11.0", true}, {"0.11.0", "0.11.0", false}, {"0.12", "0.11.5", false},
		{"0.11", "0.11.1", true}, {"1.0.0rc3", "1.0.0", false}, {"0.5.4.post1", "0.6.0", false},
	} {
		if got := older(tt.a, tt.b); got != tt.want {
			t.Errorf("older(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
