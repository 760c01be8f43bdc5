package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentwatt/agentwatt/bots/retest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/examples"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/sim"
	"github.com/agentwatt/agentwatt/spec"
)

// demoRetestVersion is the simulated release `demo --retest` handles: the
// example's profile lists it as slower and hungrier than version 1.
const demoRetestVersion = "2"

// demoLocalListen is where `agentwatt local` serves the site by default.
const demoLocalListen = "127.0.0.1:8080"

// demoRetestReport is the retest part of `demo --retest -o json`.
type demoRetestReport struct {
	Release string `json:"release"` // sim@2
	Of      string `json:"of"`      // the job it retests
	Job     string `json:"job"`
	Attempt int    `json:"attempt"`
	State   string `json:"state"`
	// Result is the retest's published result, with its change against
	// the version before (nil when the change is within the threshold).
	Result publish.Result `json:"result"`
	Page   string         `json:"page"` // the result page, below the site's root
	URL    string         `json:"url"`  // the page on `agentwatt local`'s default address
}

// demoRetestOptIn is what the demo adds to the example submission with
// --retest: the sim has no image, so no image_template.
const demoRetestOptIn = "retest:\n  on_new_framework_release: true  # agentwatt demo --retest\n"

// withRetestOptIn returns the example submission asking for retests on
// new framework releases.
func withRetestOptIn(body []byte) []byte {
	out := bytes.TrimRight(bytes.Clone(body), "\n")
	return append(append(out, '\n'), demoRetestOptIn...)
}

// runDemoRetest handles the simulated release sim@demoRetestVersion as
// `agentwatt bot retest --release` does, follows the retest of the
// published job of through the stack's runner and verifier, publishes it
// with the demo's automatic approval and shows its change.
func runDemoRetest(ctx context.Context, a *app, s *localStack, cfg stackConfig, timeout time.Duration, of string, say func(string, ...any)) (*demoRetestReport, error) {
	release := "sim@" + demoRetestVersion
	say("\n==> a simulated release: %s (%s)", release, demoReleaseNote())
	fws, err := retest.ParseFrameworks("frameworks.yaml (built in)", retest.DefaultFrameworks)
	if err != nil {
		return nil, err
	}
	w, err := retest.New(ctx, retest.Config{Frameworks: fws, Queue: s.queue, Store: s.store}, s.log)
	if err != nil {
		return nil, err
	}
	say("    agentwatt bot retest --release %s: the published configuration asked for retests on new releases", release)
	rep, err := w.Release(ctx, "sim", demoRetestVersion)
	if err != nil {
		return nil, fmt.Errorf("retest %s: %w", release, err)
	}
	var q *retest.Queued
	for i := range rep.Queued {
		if rep.Queued[i].Of == of {
			q = &rep.Queued[i]
		}
	}
	if q == nil {
		return nil, fmt.Errorf("retest %s: no retest of %s queued (refused: %s)", release, of, strings.Join(rep.Refused, "; "))
	}
	say("    queued %s (trigger %s), a retest of %s at framework.version %s", q.Job, q.Trigger, q.Of, demoRetestVersion)
	if !q.Created {
		// The same spec and trigger are the same job: a --retest demo ran
		// on this --dir before.
		say("    the same retest was queued by an earlier demo on %s: shown as it is (a fresh --dir runs it again)", s.cfg.Dir)
	}
	say("    a retest measures each tier %d times unless the submission says; the demo's fixed N (%d) measures its windows once", spec.RetestRepeats, cfg.RunnerFixedAgents)
	var bars *jobBars
	if !a.json() {
		bars = newJobBars(a.out)
	}
	final, err := followDemoJob(ctx, s, q.Job, timeout, say, bars)
	if err != nil {
		return nil, err
	}
	say("==> retest %s is %s (attempt %d)%s", final.ID, final.State, final.Attempt, reasonSuffix(final.Reason))
	published, lb, err := final, (*publish.Leaderboard)(nil), error(nil)
	switch final.State {
	case queue.Published: // by an earlier demo on this --dir
		lb, err = publish.LoadResults(ctx, s.store)
	case queue.Verified:
		say("==> automatic approval of the retest (agentwatt demo only)")
		published, lb, err = publish.Approve(ctx, s.queue, s.fleet, s.store, final.ID, publish.Approval{
			By: demoApprover, Via: publish.ViaDemo, Note: "automatic approval by agentwatt demo of a retest of " + of + "; simulated, not hardware",
		}, true)
		if errors.Is(err, publish.ErrNotPublishable) {
			return nil, fmt.Errorf("publish the retest: %w (N=%d did not pass at %s: pick another --fixed-agents)", err, cfg.RunnerFixedAgents, release)
		}
	default:
		return nil, demoJobError(final)
	}
	if err != nil {
		return nil, fmt.Errorf("publish the retest: %w", err)
	}
	out := &demoRetestReport{Release: release, Of: of, Job: published.ID, Attempt: published.Attempt, State: string(published.State),
		Page: publish.ResultPath(published.ID, published.Attempt)}
	out.URL = "http://" + demoLocalListen + "/" + out.Page
	found := false
	for _, r := range lb.History {
		if r.Job == published.ID && r.Attempt == published.Attempt {
			out.Result, found = r, true
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("publish the retest: %s is not in the published history", published.ID)
	}
	if a.json() {
		return out, nil
	}
	r := out.Result
	switch c := r.Change; {
	case c == nil:
		say("    %s %s: %.0f Agents/MW; within the threshold of the version before: no regression flagged", esc(r.Framework), esc(r.FrameworkVersion), r.AgentsPerMW)
	default:
		say("    %s: %s %s %.0f Agents/MW against %s %.0f: %+.1f%% (threshold %.0f%%, spread %.1f%%)",
			strings.ToUpper(string(c.Kind)), esc(r.Framework), esc(r.FrameworkVersion), r.AgentsPerMW, esc(c.PreviousVersion),
			c.PreviousAgentsPerMW, 100*c.Change, 100*c.Threshold, 100*c.Spread)
		if c.Kind == metrics.Regression {
			say("    published/regressions.json lists it; 'agentwatt bot github' files an issue for each entry")
		}
	}
	say("\n    result page: %s", filepath.Join(s.cfg.Dir, "s3", "data", s.cfg.Bucket, filepath.FromSlash(publish.SitePrefix+out.Page)))
	say("    serve it:    agentwatt local --dir %s, then open %s (its version chart shows both versions)", s.cfg.Dir, out.URL)
	say("    recompute:   with the stack running, . %s && agentwatt verify %s", s.envFile(), s.store.URL(bundle.Prefix(final.ID, final.Attempt)))
	return out, nil
}

// demoReleaseNote says what the example's profile simulates at
// demoRetestVersion, from the profile itself.
func demoReleaseNote() string {
	body, err := examples.Submissions.ReadFile(examples.SimSubmission)
	if err != nil {
		return "simulated"
	}
	sub, err := spec.Parse(examples.SimSubmission, body)
	if err != nil {
		return "simulated"
	}
	p, err := sim.DefaultProfile(sub.Engine.SimProfile)
	if err != nil {
		return "simulated"
	}
	for _, v := range p.AtVersion(demoRetestVersion).Versions {
		return fmt.Sprintf("simulated: the %s profile's steps run at %g× speed and draw %g× dynamic power", p.Name, v.Speed, v.DynamicPower)
	}
	return "simulated: the " + p.Name + " profile lists no change at this version"
}
