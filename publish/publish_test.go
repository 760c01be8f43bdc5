package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentwatt/agentwatt/blob"
	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/fleet"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/queue"
	"github.com/agentwatt/agentwatt/spec"
	"github.com/agentwatt/agentwatt/verifier"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
	"github.com/agentwatt/agentwatt/verifyd"
)

// verdictOf verifies the known-good bundle.
func verdictOf(t *testing.T) *bundle.Verdict {
	t.Helper()
	b := known.Good(t)
	v, err := verifier.Verify(context.Background(), bundle.DirSource(b.Dir), known.Options(b))
	if err != nil || !v.Verified() {
		t.Fatalf("verify the known-good bundle: %v %+v", err, v)
	}
	return v
}

// jobOf is a job record for a verified verdict, on accelerator acc.
func jobOf(v *bundle.Verdict, id, acc string) *queue.Job {
	spec, _ := json.Marshal(map[string]any{
		"metadata":  map[string]any{"vendor": "acme", "name": "fast-" + acc},
		"model":     map[string]any{"id": "sim"},
		"system":    map[string]any{"accelerator": acc, "accelerators": 1},
		"framework": map[string]any{"name": "sim", "version": "1.0"},
		"benchmark": map[string]any{"rules": "v1", "profile": "test"},
	})
	return &queue.Job{ID: id, State: queue.Verified, Attempt: v.Attempt, Pool: "sim", Vendor: "acme", Spec: spec, Profile: "test"}
}

// TestPublishTakesTheRecordsClaims: a verdict that says official and not
// simulated (a relabelled bundle's claims) for a job of pool sim, test
// profile, is not published as hardware: publication reads the record.
func TestPublishTakesTheRecordsClaims(t *testing.T) {
	v := verdictOf(t)
	forged := *v
	forged.Simulated, forged.Profile = false, "official"
	store := blobtest.Store(t)
	for _, local := range []bool{false, true} {
		_, err := publish.Publish(context.Background(), store, publish.PublishInput{
			Job: jobOf(v, v.Job, "sim"), Verdict: &forged, Local: local, Approval: publish.Approval{By: "maint", At: time.Now()},
		})
		if !errors.Is(err, publish.ErrNotPublishable) {
			t.Errorf("local=%v: publish a verdict whose claims differ from the record: got %v, want ErrNotPublishable", local, err)
		}
	}
	lb, err := publish.Publish(context.Background(), store, publish.PublishInput{
		Job: jobOf(v, v.Job, "sim"), Verdict: v, Local: true, Approval: publish.Approval{By: "maint", At: time.Now()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := lb.Results[0]; !r.Simulated || r.Hardware || r.Profile != "test" || r.Pool != "sim" {
		t.Errorf("published %+v, want simulated, not hardware, profile test, pool sim", r)
	}
}

// withJob is v as if it were job id's verdict.
func withJob(v *bundle.Verdict, id string) *bundle.Verdict {
	c := *v
	c.Job = id
	return &c
}

func TestPublishRefusesSimAsHardware(t *testing.T) {
	v := verdictOf(t)
	store := blobtest.Store(t)
	_, err := publish.Publish(context.Background(), store, publish.PublishInput{
		Job: jobOf(v, v.Job, "sim"), Verdict: v, Approval: publish.Approval{By: "maint", At: time.Now()},
	})
	if !errors.Is(err, publish.ErrNotPublishable) {
		t.Fatalf("publish a simulated test-profile result as hardware: got %v, want ErrNotPublishable", err)
	}
	if _, err := store.GetBytes(context.Background(), publish.ResultsKey, 1<<20); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("results.json after a refused publication: got %v, want not found", err)
	}
}

func TestPublishRollingHistory(t *testing.T) {
	ctx := context.Background()
	v := verdictOf(t)
	store := blobtest.Store(t)
	t1 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(48 * time.Hour)
	enrolled := map[string]fleet.Key{}
	for name, k := range known.Good(t).Trusted {
		enrolled[name] = fleet.Key{Name: name, PublicKey: k, Pools: []string{spec.Sim}, Sim: true}
	}
	runners := verifyd.RunnersOf(enrolled, t1)
	for i, step := range []struct {
		job string
		at  time.Time
	}{{"job-a", t1}, {"job-b", t2}} {
		lb, err := publish.Publish(ctx, store, publish.PublishInput{
			Job: jobOf(v, step.job, "sim"), Verdict: withJob(v, step.job), Local: true, Runners: runners,
			Approval: publish.Approval{By: "maint", Note: "looks right", At: step.at},
		})
		if err != nil {
			t.Fatalf("publish %s: %v", step.job, err)
		}
		if got, want := len(lb.History), i+1; got != want {
			t.Errorf("after %s: history has %d results, want %d", step.job, got, want)
		}
	}
	lb, err := publish.LoadResults(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(lb.Results) != 1 || lb.Results[0].Job != "job-b" {
		t.Fatalf("latest results: got %+v, want job-b only (a retest replaces the latest, appends to history)", lb.Results)
	}
	r := lb.Results[0]
	tier := v.Results.Tiers[0]
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"simulated", r.Simulated, true},
		{"hardware", r.Hardware, false},
		{"model", r.Model, "sim"},
		{"system", r.System, "sim×1"},
		{"max_agents", r.MaxAgents, tier.MaxAgents},
		{"agents_per_mw", r.AgentsPerMW, tier.AgentsPerMW},
		{"rules", r.RulesVersion + "/" + r.Profile, "v1/test"},
		{"workload_digest", r.WorkloadDigest, v.WorkloadDigest},
		{"bundle", r.Bundle, store.URL("runs/job-b/1/")},
		{"verdict", r.Verdict, store.URL("runs/job-b/1/verdict.json")},
		{"verify_command", r.VerifyCommand, "agentwatt verify " + store.URL("runs/job-b/1/")},
		{"approved_by", r.ApprovedBy, "maint"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, key := range []string{publish.HistoryPrefix + "2026-11-01-job-a.json", publish.HistoryPrefix + "2026-11-03-job-b.json", publish.RunnersKey, publish.SiteIndexKey,
		publish.SitePrefix + "results/job-a/1.html", publish.SitePrefix + "results/job-b/1.html", publish.SitePrefix + "method.html",
		publish.SitePrefix + "results.csv", publish.SitePrefix + "results.json", publish.SitePrefix + "uPlot.iife.min.js", publish.SubmissionsPrefix + "job-b.json"} {
		if _, err := store.Stat(ctx, key); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
	html, err := store.GetBytes(ctx, publish.SiteIndexKey, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"simulated — not hardware", "agentwatt verify s3://", `class="result-row"`, `data-chart="bar"`, `data-chart="curve"`, `data-chart="history"`, `id="chart-data"`, `href="results/job-b/1.html"`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("site lacks %q", want)
		}
	}
	if strings.Contains(string(html), "src=\"http") || strings.Contains(string(html), "href=\"http://") && !strings.Contains(string(html), "s3://") {
		t.Errorf("site references an external asset")
	}
	keys, err := store.GetBytes(ctx, publish.RunnersKey, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := verifyd.ParseKeys(keys)
	if err != nil || len(parsed.Trusted) != 1 || len(parsed.Scopes) != 1 {
		t.Fatalf("runners.json: %v, %+v", err, parsed)
	}
	for _, sc := range parsed.Scopes {
		if !sc.Sim || len(sc.Pools) != 1 || sc.Pools[0] != spec.Sim {
			t.Errorf("runners.json scope: %+v, want the sim pool", sc)
		}
	}
}

// TestPublishSimRackIsSimulated: a simulated rack's job (pool simx72) is
// simulated whatever its verdict claims: a verdict relabelled as official
// hardware is not published, and the rack's own result is published as
// simulated, never as hardware.
func TestPublishSimRackIsSimulated(t *testing.T) {
	v := verdictOf(t)
	rack := func(profile string) *queue.Job {
		j := jobOf(v, v.Job, "sim")
		j.Pool, j.Profile = "simx72", profile
		return j
	}
	forged := *v
	forged.Simulated, forged.Profile = false, "official"
	store := blobtest.Store(t)
	for _, local := range []bool{false, true} {
		_, err := publish.Publish(context.Background(), store, publish.PublishInput{
			Job: rack("official"), Verdict: &forged, Local: local, Approval: publish.Approval{By: "maint", At: time.Now()},
		})
		if !errors.Is(err, publish.ErrNotPublishable) {
			t.Errorf("local=%v: a simx72 job's verdict relabelled as official hardware: got %v, want ErrNotPublishable", local, err)
		}
	}
	lb, err := publish.Publish(context.Background(), store, publish.PublishInput{
		Job: rack("test"), Verdict: v, Local: true, Approval: publish.Approval{By: "maint", At: time.Now()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := lb.Results[0]; !r.Simulated || r.Hardware || r.Pool != "simx72" {
		t.Errorf("published %+v, want simulated, not hardware, pool simx72", r)
	}
}
