package publish_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/metrics"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
)

// jobAt is a job record of config acme/fast-sim on framework sim at
// version.
func jobAt(v *bundle.Verdict, id, version string) *queue.Job {
	j := jobOf(v, id, "sim")
	var m map[string]any
	_ = json.Unmarshal(j.Spec, &m)
	m["framework"] = map[string]any{"name": "sim", "version": version}
	j.Spec, _ = json.Marshal(m)
	return j
}

// run is one publication of a versions test: the known-good verdict with
// its Agents/MW scaled by f, as job at version.
type run struct {
	job, version string
	f            float64
}

// publishRuns publishes runs one day apart, the sim regression of the
// issue: the same config's verdicts with the figures a slower or faster
// sim profile would give at each framework version.
func publishRuns(t *testing.T, store *blob.Store, v *bundle.Verdict, runs []run) *publish.Leaderboard {
	t.Helper()
	var lb *publish.Leaderboard
	for i, r := range runs {
		vv := scaled(t, v, r.job, r.f)
		var err error
		lb, err = publish.Publish(context.Background(), store, publish.PublishInput{Job: jobAt(vv, r.job, r.version), Verdict: vv, Local: true,
			Approval: publish.Approval{By: "maint", At: time.Date(2026, 11, 1+i, 9, 0, 0, 0, time.UTC)}})
		if err != nil {
			t.Fatalf("publish %s: %v", r.job, err)
		}
	}
	return lb
}

func changesOf(lb *publish.Leaderboard, job string) []*publish.Change {
	var out []*publish.Change
	for _, h := range lb.History {
		if h.Job == job {
			out = append(out, h.Change)
		}
	}
	return out
}

func page(t *testing.T, store *blob.Store, key string) string {
	t.Helper()
	b, err := store.GetBytes(context.Background(), key, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRegressionsOverVersions: the first result and a result at the same
// version are not compared; a version 20% worse is a regression (entry,
// badge), 20% better an improvement, 2% nothing; a retraction takes the
// retracted job's comparisons away and re-derives the next one.
func TestRegressionsOverVersions(t *testing.T) {
	ctx := context.Background()
	v := verdictOf(t)
	tiers := 0
	for _, tr := range v.Results.Tiers {
		if tr.Confirmed && tr.MaxAgents > 0 {
			tiers++
		}
	}
	store := blobtest.Store(t)
	lb := publishRuns(t, store, v, []run{{"j1", "1.0", 1}, {"j2", "1.0", 0.5}})
	for _, job := range []string{"j1", "j2"} {
		for _, c := range changesOf(lb, job) {
			if c != nil {
				t.Errorf("%s: change %+v; the first result and one at the same version are not compared", job, c)
			}
		}
	}
	regs, err := publish.LoadRegressions(ctx, store)
	if err != nil || len(regs.Regressions) != 0 {
		t.Fatalf("regressions.json after two results of one version: %v %+v", err, regs)
	}

	lb = publishRuns(t, store, v, []run{{"j1", "1.0", 1}, {"j2", "1.0", 0.5}, {"j3", "1.1", 0.4}}) // 20% below j2, the latest at 1.0
	cs := changesOf(lb, "j3")
	if len(cs) != tiers || cs[0] == nil {
		t.Fatalf("j3: changes %v, want a regression per tier", cs)
	}
	if c := cs[0]; c.Kind != metrics.Regression || math.Abs(c.Change+0.2) > 1e-9 || c.PreviousVersion != "1.0" || c.PreviousJob != "j2" || c.Threshold != 0.05 {
		t.Errorf("j3: %+v, want a 20%% regression against j2 at 1.0, threshold 0.05", c)
	}
	if !strings.Contains(page(t, store, publish.SiteIndexKey), `class="badge regression"`) {
		t.Errorf("the leaderboard does not badge the regression")
	}
	regs, err = publish.LoadRegressions(ctx, store)
	if err != nil || len(regs.Regressions) != tiers {
		t.Fatalf("regressions.json: %v, %d entries, want %d", err, len(regs.Regressions), tiers)
	}
	e := regs.Regressions[0]
	tier := v.Results.Tiers[0]
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"kind", e.Kind, metrics.Regression},
		{"config", e.Config, "acme/fast-sim/sim/sim×1/sim"},
		{"previous version", e.Previous.FrameworkVersion, "1.0"},
		{"current version", e.Current.FrameworkVersion, "1.1"},
		{"previous job", e.Previous.Job, "j2"},
		{"current job", e.Current.Job, "j3"},
		{"previous figure", e.Previous.AgentsPerMW, tier.AgentsPerMW * 0.5},
		{"current figure", e.Current.AgentsPerMW, tier.AgentsPerMW * 0.4},
		{"previous bundle", e.Previous.Bundle, store.URL("runs/j2/1/")},
		{"current verdict", e.Current.Verdict, store.URL("runs/j3/1/verdict.json")},
		{"current page", e.Current.Page, "results/j3/1.html"},
		{"date", e.Date, time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)},
	} {
		if c.got != c.want {
			t.Errorf("entry %s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	id := e.ID
	if len(id) != 32 {
		t.Errorf("id %q, want 32 hex digits", id)
	}

	lb = publishRuns(t, store, v, []run{{"j1", "1.0", 1}, {"j2", "1.0", 0.5}, {"j3", "1.1", 0.4}, {"j4", "1.2", 0.48}, {"j5", "1.3", 0.4896}})
	if c := changesOf(lb, "j4")[0]; c == nil || c.Kind != metrics.Improvement || math.Abs(c.Change-0.2) > 1e-9 || c.PreviousJob != "j3" {
		t.Errorf("j4: %+v, want a 20%% improvement against j3", c)
	}
	if c := changesOf(lb, "j5")[0]; c != nil {
		t.Errorf("j5: %+v; 2%% is within the threshold", c)
	}
	regs, err = publish.LoadRegressions(ctx, store)
	if err != nil || len(regs.Regressions) != 2*tiers || regs.Regressions[0].ID != id || regs.Regressions[tiers].Kind != metrics.Improvement {
		t.Fatalf("regressions.json after j5: %v %+v; want j3's regression (same id) and j4's improvement", err, regs)
	}
	for job, want := range map[string]string{"j3": `class="badge regression"`, "j4": `class="badge improvement"`} {
		if p := page(t, store, publish.SitePrefix+"results/"+job+"/1.html"); !strings.Contains(p, want) {
			t.Errorf("%s's page lacks %s", job, want)
		}
	}

	// Retract j3: its regression and j4's improvement over it go; j4 is
	// compared with j2 instead (4% below: nothing).
	lb, err = publish.Retract(ctx, store, "j3", publish.Retraction{By: "alice", Via: publish.ViaMaintainerToken, Reason: "bad meter", At: time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if c := changesOf(lb, "j4")[0]; c != nil {
		t.Errorf("j4 after j3's retraction: %+v, want no change against j2", c)
	}
	raw := page(t, store, publish.RegressionsKey)
	if strings.Contains(raw, `"j3"`) {
		t.Errorf("regressions.json names the retracted j3:\n%s", raw)
	}
	regs, err = publish.LoadRegressions(ctx, store)
	if err != nil || len(regs.Regressions) != 0 {
		t.Errorf("regressions.json after the retraction: %v %+v, want none", err, regs)
	}
	rets, err := publish.LoadRetractions(ctx, store)
	if err != nil || len(rets.Retracted) != tiers || rets.Retracted[0].Result.Job != "j3" || rets.Retracted[0].Retraction.Reason != "bad meter" {
		t.Errorf("retractions.json: %v %+v", err, rets)
	}
}

// TestRegressionHostileVersion: a framework version with markup, a bidi
// override and 500 characters is text on the site and an escaped JSON
// string in regressions.json that decodes to itself.
func TestRegressionHostileVersion(t *testing.T) {
	ctx := context.Background()
	v := verdictOf(t)
	hostile := `<script>document.title='pwned'</script>` + "1.0\u202eexe."
	hostile += strings.Repeat("9", 500-len(hostile))
	store := blobtest.Store(t)
	publishRuns(t, store, v, []run{{"j1", hostile, 1}, {"j2", "2.0", 0.8}, {"j3", hostile, 1}})
	raw := page(t, store, publish.RegressionsKey)
	if strings.Contains(raw, "<script") || strings.ContainsRune(raw, '\u202e') {
		t.Errorf("regressions.json holds the version raw:\n%s", raw)
	}
	regs, err := publish.LoadRegressions(ctx, store)
	if err != nil || len(regs.Regressions) < 2 {
		t.Fatalf("regressions: %v %+v", err, regs)
	}
	if got := regs.Regressions[0].Previous.FrameworkVersion; got != hostile {
		t.Errorf("previous version decodes to %q, want the submitted one", got)
	}
	if got := regs.Regressions[len(regs.Regressions)-1]; got.Kind != metrics.Improvement || got.Current.FrameworkVersion != hostile {
		t.Errorf("j3 against 2.0: %+v, want an improvement at the hostile version", got)
	}
	for _, key := range []string{publish.SiteIndexKey, publish.SitePrefix + "results/j2/1.html", publish.SitePrefix + "results/j3/1.html"} {
		p := page(t, store, key)
		if strings.Contains(p, "<script>document") || strings.ContainsRune(p, '\u202e') {
			t.Errorf("%s holds the hostile version raw", key)
		}
		if !strings.Contains(p, `&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;1.0\u202eexe.`) {
			t.Errorf("%s does not show the hostile version as escaped text", key)
		}
	}
}

// TestRegressionRepeatedVersion: a second result at the version already
// compared is compared, like the first, with the last result at another
// version — a retest that confirms a regression is an entry of its own,
// with its own id.
func TestRegressionRepeatedVersion(t *testing.T) {
	v := verdictOf(t)
	store := blobtest.Store(t)
	publishRuns(t, store, v, []run{{"j1", "1.0", 1}, {"j2", "1.1", 0.8}, {"j3", "1.1", 0.8}})
	regs, err := publish.LoadRegressions(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	ids := map[string]bool{}
	for _, e := range regs.Regressions {
		pairs = append(pairs, e.Previous.Job+">"+e.Current.Job)
		ids[e.ID] = true
	}
	tiers := len(regs.Regressions) / 2
	if len(regs.Regressions) != 2*tiers || tiers == 0 || pairs[0] != "j1>j2" || pairs[tiers] != "j1>j3" || len(ids) != len(pairs) {
		t.Errorf("regressions %v (ids %d), want j1>j2 and j1>j3 per tier, each its own id", pairs, len(ids))
	}
}

// TestRegressionStoredChangeNotTrusted: a change written into
// results.json (a tampered or stale file) is not carried forward: every
// publication derives the changes from the history again.
func TestRegressionStoredChangeNotTrusted(t *testing.T) {
	ctx := context.Background()
	v := verdictOf(t)
	store := blobtest.Store(t)
	publishRuns(t, store, v, []run{{"j1", "1.0", 1}})
	raw := page(t, store, publish.ResultsKey)
	var lb publish.Leaderboard
	if err := json.Unmarshal([]byte(raw), &lb); err != nil {
		t.Fatal(err)
	}
	forged := &publish.Change{Kind: metrics.Regression, Change: -0.9, PreviousVersion: "0.9", PreviousJob: "nobody", PreviousAttempt: 1, PreviousAgentsPerMW: 1e9}
	for i := range lb.History {
		lb.History[i].Change = forged
	}
	b, _ := json.Marshal(lb)
	if err := store.PutBytes(ctx, publish.ResultsKey, b, "application/json"); err != nil {
		t.Fatal(err)
	}
	next := publishRuns(t, store, v, []run{{"j2", "1.0", 1}}) // j1 stays as stored
	for _, h := range next.History {
		if h.Change != nil {
			t.Errorf("%s: change %+v survived the next publication", h.Job, h.Change)
		}
	}
	if p := page(t, store, publish.SiteIndexKey); strings.Contains(p, "badge regression") {
		t.Errorf("the site badges the forged regression")
	}
	if regs, err := publish.LoadRegressions(ctx, store); err != nil || len(regs.Regressions) != 0 {
		t.Errorf("regressions.json: %v %+v, want none", err, regs)
	}
}
