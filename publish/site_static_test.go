package publish_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/agentwatt/agentwatt/publish"
)

// The static copy links evidence relative to the bucket's root (a bucket
// served whole as a website), or at the bucket's public URL when one is
// configured (publish.PublicStore) — never an s3:// URL, which html/template
// refuses (#ZgotmplZ) and no browser opens.
func TestPublishedSiteEvidenceLinks(t *testing.T) {
	ctx := context.Background()
	store, lb, _ := sitePublished(t, []siteJob{{id: "job-a", acc: "sim-a", f: 1}})
	read := func(key string) string {
		t.Helper()
		b, err := store.GetBytes(ctx, key, 16<<20)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct {
		name     string
		store    publish.PublishStore
		index    string // an evidence link of the leaderboard
		resultPg string // the same from the result page
	}{
		{"relative", store, `href="../../runs/job-a/1/verdict.json"`, `href="../../../../runs/job-a/1/probes.json"`},
		{"public URL", publish.PublicStore{PublishStore: store, URLBase: "https://results.example.org/bucket"},
			`href="https://results.example.org/bucket/runs/job-a/1/verdict.json"`, `href="https://results.example.org/bucket/runs/job-a/1/probes.json"`},
	} {
		if err := publish.PublishSite(ctx, c.store, lb); err != nil {
			t.Fatal(err)
		}
		index, page := read(publish.SiteIndexKey), read(publish.SitePrefix+"results/job-a/1.html")
		for _, p := range []struct{ name, html, want string }{{"index", index, c.index}, {"result page", page, c.resultPg}} {
			if !strings.Contains(p.html, p.want) {
				t.Errorf("%s: %s lacks %s", c.name, p.name, p.want)
			}
			if strings.Contains(p.html, "ZgotmplZ") || strings.Contains(p.html, `href="s3:`) {
				t.Errorf("%s: %s has a refused or s3:// link", c.name, p.name)
			}
		}
	}
}

// results.csv keeps a vendor's string from running as a spreadsheet
// formula, and a number stays a number.
func TestSiteDownloadsCSV(t *testing.T) {
	lb := &publish.Leaderboard{SchemaVersion: publish.ResultsSchemaVersion, Results: []publish.Result{{Vendor: "=HYPERLINK(\"http://evil\")", Name: "+cmd|' /C calc'!A0", Model: "-2", Tier: "t20", MaxAgents: 3}}}
	js, csv, err := publish.Downloads(lb)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"schema_version": 1`) {
		t.Errorf("results.json: %s", js)
	}
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "model,tier,") {
		t.Fatalf("results.csv: %q", csv)
	}
	if strings.Contains(lines[1], ",=HYPERLINK") || strings.Contains(lines[1], `,"=HYPERLINK`) || strings.Contains(lines[1], ",+cmd") || !strings.HasPrefix(lines[1], "-2,") {
		t.Errorf("results.csv row %q: a formula survives", lines[1])
	}
}

// The result page's probe table shows each probe's theoretical prefix-cache
// share beside the share the engine reported.
func TestResultPageShowsCacheShares(t *testing.T) {
	ctx := context.Background()
	store, lb, _ := sitePublished(t, []siteJob{{id: "job-a", acc: "sim-a", f: 1}})
	if err := publish.PublishSite(ctx, store, lb); err != nil {
		t.Fatal(err)
	}
	b, err := store.GetBytes(ctx, publish.SitePrefix+"results/job-a/1.html", 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	cells := regexp.MustCompile(`class="n probe-cache">(\d+\.\d%) / (\d+\.\d%)</td>`).FindAllStringSubmatch(page, -1)
	if !strings.Contains(page, "Prefix cache: theory / engine") || len(cells) == 0 {
		t.Fatalf("result page lacks the cache shares (%d cells)", len(cells))
	}
	if cells[0][1] == "0.0%" {
		t.Errorf("theoretical share %s, want the workload's", cells[0][1])
	}
}

// The result page shows the declared speculative-decoding method beside
// the acceptance the verifier measured per window.
func TestResultPageShowsSpecDecoding(t *testing.T) {
	ctx := context.Background()
	store, lb, _ := sitePublished(t, []siteJob{{id: "job-a", acc: "sim-a", f: 1, specDec: true}, {id: "job-b", acc: "sim-b", f: 1}})
	if err := publish.PublishSite(ctx, store, lb); err != nil {
		t.Fatal(err)
	}
	for job, want := range map[string]string{
		"job-a": "declared: <code>eagle3</code>; measured acceptance (the engine's counters, not judged): <div>probe 1: 70.0% of 3000 draft tokens</div>",
		"job-b": "declared: none; measured acceptance (the engine's counters, not judged): none",
	} {
		b, err := store.GetBytes(ctx, publish.SitePrefix+"results/"+job+"/1.html", 16<<20)
		if err != nil {
			t.Fatal(err)
		}
		if page := string(b); !strings.Contains(page, want) {
			i := strings.Index(page, `id="spec-decoding"`)
			t.Errorf("%s: page lacks %q; has %q", job, want, page[max(i, 0):min(len(page), max(i, 0)+300)])
		}
	}
}

// An external deployment (the operator's engine, driven by the runner) is
// in the published result and said on its page; a launched one says
// nothing more.
func TestResultPageShowsExternalDeployment(t *testing.T) {
	ctx := context.Background()
	store, lb, _ := sitePublished(t, []siteJob{{id: "job-a", acc: "sim-a", f: 1, external: true}, {id: "job-b", acc: "sim-b", f: 1}})
	if err := publish.PublishSite(ctx, store, lb); err != nil {
		t.Fatal(err)
	}
	for _, r := range lb.Results {
		if want := map[string]string{"job-a": "external", "job-b": ""}[r.Job]; r.Deployment != want {
			t.Errorf("%s: result deployment %q, want %q", r.Job, r.Deployment, want)
		}
	}
	for job, want := range map[string]bool{"job-a": true, "job-b": false} {
		b, err := store.GetBytes(ctx, publish.SitePrefix+"results/"+job+"/1.html", 16<<20)
		if err != nil {
			t.Fatal(err)
		}
		line := `<dt>Deployment</dt><dd id="deployment">external: deployed by its operator; the runner launched nothing and drove its endpoint</dd>`
		if got := strings.Contains(string(b), line); got != want {
			t.Errorf("%s: page has the external deployment line: %v, want %v", job, got, want)
		}
	}
}
