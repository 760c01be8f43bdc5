package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bots/ghbot"
	"github.com/agentwatt/agentwatt/bots/ghbot/ghfake"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/spec"
)

// TestDemoRetestRegression is the issue's regression test on the sim, run
// for real: `demo --retest` publishes the sim at framework version 1,
// handles the simulated release sim@2 (the b300x8-like profile runs its
// steps at 0.8× speed and draws 1.25× dynamic power there), and the retest,
// measured by the stack's runner on the sim and recomputed by the
// verifier, is published with a regression badge, listed in
// published/regressions.json, and reported by the GitHub bot as an issue
// (ghfake). It uses the demo's fixed-N path (10 agents) and the rules'
// test profile: a full capacity search at both versions would take too
// long for the suite.
func TestDemoRetestRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two sim benchmarks")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	example, err := examples.Submissions.ReadFile(examples.SimSubmission)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(example), "profile: quick", "profile: test", 1)
	body = strings.Replace(body, "  ready_timeout: 30s\n", "  ready_timeout: 30s\n  env:\n    "+runMainEnv+": \"1\"\n", 1)

	log := zerolog.Nop()
	cfg := stackConfig{Dir: t.TempDir(), NATSListen: "127.0.0.1:0", S3Listen: "127.0.0.1:0",
		HTTPListen: "127.0.0.1:0", Bucket: "agentwatt", Runner: true, RunnerFixedAgents: 10}
	s, err := openLocalStack(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	g := runGroup{log: log}
	s.addServices(ctx, &g)

	// The GitHub bot reports regressions as issues on the submissions
	// repository (the retest has no pull request).
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const appID, inst, owner, name = 31337, 5, "agentwatt-bench", "submissions"
	gh := ghfake.New(t, appID, &key.PublicKey)
	gh.AddRepo(owner, name, 424242, "main")
	gh.SetInstallation(owner, name, inst)
	bot, err := ghbot.New(ctx, ghbot.Config{
		AppID: appID, PrivateKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		WebhookSecret: []byte("demo-retest-secret"), Repo: owner + "/" + name, PublicURL: s.httpURL, APIURL: gh.BaseURL(),
		Queue: s.queue, Keys: s.fleet, Store: s.store, Workloads: registryPinner{s.reg}, Local: true,
		RegressionsEvery: 200 * time.Millisecond,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	g.add(ctx, bot)

	var out bytes.Buffer
	a := &app{out: &out, errOut: io.Discard, log: log, format: "json"}
	var rep *demoReport
	storyCtx, endStory := context.WithCancel(ctx)
	defer endStory()
	g.Add(func() error {
		var err error
		rep, err = demoStories(storyCtx, a, s, cfg, demoRun{body: []byte(body), name: "sim.yaml", retest: true, timeout: 8 * time.Minute},
			func(string, ...any) {})
		if err != nil {
			return err
		}
		// Let the bot report before the group stops.
		for ctx.Err() == nil && len(gh.Issues(owner, name)) == 0 {
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	}, func(error) { endStory() })
	if err := g.Run(); err != nil {
		t.Fatalf("demo --retest: %v\n%s", err, out.String())
	}

	rt := rep.Retest
	if rt == nil || rt.Of != rep.Job || rt.Release != "sim@2" || rt.Result.FrameworkVersion != "2" || !rt.Result.Simulated {
		t.Fatalf("retest report %+v (of %s)", rt, rep.Job)
	}
	c := rt.Result.Change
	if c == nil || c.Kind != metrics.Regression || c.PreviousVersion != "1" || c.PreviousJob != rep.Job || c.Change >= -c.Threshold {
		t.Fatalf("the retest's change: %+v (Agents/MW %.1f)", c, rt.Result.AgentsPerMW)
	}
	t.Logf("Agents/MW %.1f at 1, %.1f at 2: %+.1f%%", c.PreviousAgentsPerMW, rt.Result.AgentsPerMW, 100*c.Change)
	if rt.URL != "http://127.0.0.1:8080/"+publish.ResultPath(rt.Job, rt.Attempt) {
		t.Errorf("result page URL %q", rt.URL)
	}

	regs, err := publish.LoadRegressions(ctx, s.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(regs.Regressions) != 1 || regs.Regressions[0].Current.Job != rt.Job || regs.Regressions[0].Previous.Job != rep.Job ||
		regs.Regressions[0].Kind != metrics.Regression {
		t.Fatalf("published/regressions.json: %+v", regs.Regressions)
	}
	issues := gh.Issues(owner, name)
	if len(issues) != 1 || !strings.Contains(issues[0].Title, "Regression") || !strings.Contains(issues[0].Body, rt.Job) ||
		!strings.Contains(issues[0].Body, rep.Job) {
		t.Fatalf("issues on %s/%s: %+v", owner, name, issues)
	}

	// The result page's version chart carries both versions.
	page, err := s.store.GetBytes(ctx, publish.SitePrefix+rt.Page, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"regression", rep.Job} {
		if !strings.Contains(string(page), want) {
			t.Errorf("result page %s lacks %q", rt.Page, want)
		}
	}
}

// The demo's opt-in keeps the example valid and asks for release retests.
func TestWithRetestOptIn(t *testing.T) {
	example, err := examples.Submissions.ReadFile(examples.SimSubmission)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := spec.Parse("sim.yaml", withRetestOptIn(example))
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Validate(); err != nil {
		t.Fatal(err)
	}
	if sub.Retest == nil || !sub.Retest.OnNewFrameworkRelease || sub.Retest.ImageTemplate != "" {
		t.Errorf("retest %+v, want on_new_framework_release without an image template", sub.Retest)
	}
}
