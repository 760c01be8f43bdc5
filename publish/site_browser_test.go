package publish_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/publish"
)

// chromiumPath finds Debian's chromium; absent, the test skips — except in
// CI, where .ci/run installs it and its absence is a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: CI must install it (apt-get install -y chromium)")
	}
	t.Skip("chromium not installed (apt-get install -y chromium); the browser test runs in CI")
	return ""
}

// scaled is a deep copy of v as job id with its figures scaled by f.
func scaled(t *testing.T, v *bundle.Verdict, id string, f float64) *bundle.Verdict {
	t.Helper()
	data, err := v.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := bundle.DecodeVerdict(data)
	if err != nil {
		t.Fatal(err)
	}
	c.Job = id
	for i := range c.Results.Tiers {
		c.Results.Tiers[i].AgentsPerMW *= f
	}
	return c
}

// newBrowser starts a headless chromium for the test.
func newBrowser(t *testing.T, chrome string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1600),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	return bctx
}

// The page renders under its strict policy: the table, the charts, the
// stylesheet, and sorting by site.js (blocked, the sort test fails).
func TestSiteInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	ctx := context.Background()
	v := verdictOf(t)
	store := blobtest.Store(t)
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	published := map[string]float64{} // job → Agents/MW
	for i, c := range []struct {
		job, acc string
		f        float64
	}{{"job-fast", "sim-a", 1}, {"job-slow", "sim-b", 0.5}, {"job-fast2", "sim-a", 1.1}} {
		vv := scaled(t, v, c.job, c.f)
		if _, err := publish.Publish(ctx, store, publish.PublishInput{Job: jobOf(vv, c.job, c.acc), Verdict: vv, Local: true,
			Approval: publish.Approval{By: "maint", At: at.Add(time.Duration(i) * 24 * time.Hour)}}); err != nil {
			t.Fatal(err)
		}
		published[c.job] = vv.Results.Tiers[0].AgentsPerMW
	}
	mux := http.NewServeMux()
	publish.NewSiteHandler(store, zerolog.Nop()).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	bctx := newBrowser(t, chrome)

	type row struct {
		Job string `json:"job"`
		APM string `json:"apm"`
		Sim bool   `json:"sim"`
		Cmd string `json:"cmd"`
	}
	type bar struct {
		Value string  `json:"value"`
		Width float64 `json:"width"`
	}
	collectRows := `Array.from(document.querySelectorAll('tr.result-row')).map(r => ({job: r.dataset.job,
		apm: r.querySelector('.agents-per-mw').textContent, sim: r.textContent.includes('simulated — not hardware'),
		cmd: r.querySelector('code').textContent}))`
	// The first Run starts the browser and must not carry a timeout (it
	// would stop the browser); the later steps are bounded.
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("browser: navigate: %v", err)
	}
	tctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	defer cancelT()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS("tr.result-row"))); err != nil {
		t.Fatalf("browser: wait for the table: %v", err)
	}
	rows, err := chromedp.Run(tctx, chromedp.Evaluate[[]row](collectRows))
	if err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(tctx, chromedp.Evaluate[[]bar](`Array.from(document.querySelectorAll('g.bar')).map(g => ({value: g.dataset.value, width: g.querySelector('rect').getBBox().width}))`))
	if err != nil {
		t.Fatal(err)
	}
	curves, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll('svg.curves polyline').length`))
	if err != nil {
		t.Fatal(err)
	}
	points, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll('svg.history circle.point').length`))
	if err != nil {
		t.Fatal(err)
	}
	styled, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`[getComputedStyle(document.querySelector('th')).backgroundColor,
		getComputedStyle(document.querySelector('#curves li')).color]`))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	// Sort by Agents/MW: the header toggles ascending.
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS("section.group th:nth-child(5)"))); err != nil {
		t.Fatal(err)
	}
	sorted, err := chromedp.Run(tctx, chromedp.Evaluate[[]row](collectRows))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tctx, chromedp.Navigate(srv.URL+"/api/results")); err != nil {
		t.Fatal(err)
	}
	apiJSON, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "leaderboard.png", shot)

	// The table: the latest result of each config (job-fast2 replaced
	// job-fast), best first, with the published numbers and badges.
	if len(rows) != 2 || rows[0].Job != "job-fast2" || rows[1].Job != "job-slow" {
		t.Fatalf("rows: got %+v, want job-fast2 then job-slow", rows)
	}
	for _, r := range rows {
		if want := fmt.Sprintf("%.0f", published[r.Job]); r.APM != want {
			t.Errorf("row %s Agents/MW: shown %q, published %s", r.Job, r.APM, want)
		}
		if !r.Sim || !strings.HasPrefix(r.Cmd, "agentwatt verify s3://") {
			t.Errorf("row %s: badge %v, command %q", r.Job, r.Sim, r.Cmd)
		}
	}
	if len(sorted) != 2 || sorted[0].Job != "job-slow" {
		t.Errorf("after sorting ascending by Agents/MW: got %+v, want job-slow first", sorted)
	}
	// The bar chart: one bar per row, lengths proportional to Agents/MW.
	if len(bars) != 2 {
		t.Fatalf("bars: got %d, want 2", len(bars))
	}
	v0, _ := strconv.ParseFloat(bars[0].Value, 64)
	v1, _ := strconv.ParseFloat(bars[1].Value, 64)
	if math.Abs(v0-published["job-fast2"]) > 1e-3 || math.Abs(v1-published["job-slow"]) > 1e-3 {
		t.Errorf("bar values: got %v, %v; want %v, %v", v0, v1, published["job-fast2"], published["job-slow"])
	}
	if bars[1].Width <= 0 || math.Abs(bars[0].Width/bars[1].Width-v0/v1) > 0.01 {
		t.Errorf("bar widths %v, %v not proportional to %v, %v", bars[0].Width, bars[1].Width, v0, v1)
	}
	if want := []string{"rgb(244, 244, 244)", "rgb(31, 119, 180)"}; fmt.Sprint(styled) != fmt.Sprint(want) {
		t.Errorf("computed header background and legend colour: got %v, want %v (site.css not applied)", styled, want)
	}
	if curves != 2 {
		t.Errorf("service-level curves: got %d, want one per system (2)", curves)
	}
	if points != 3 {
		t.Errorf("history points: got %d, want 3 (two for sim-a, one for sim-b)", points)
	}
	var lb publish.Leaderboard
	if err := json.Unmarshal([]byte(apiJSON), &lb); err != nil || len(lb.Results) != 2 || len(lb.History) != 3 {
		t.Errorf("GET /api/results: %v, %d results, %d history", err, len(lb.Results), len(lb.History))
	}
}

// saveArtifact writes a test artefact to $AGENTWATT_ARTIFACTS, or the
// test's temporary directory.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("AGENTWATT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(data))
}
