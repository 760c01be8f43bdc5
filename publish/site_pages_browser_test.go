package publish_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/publish"
)

// browserJobs are the results of the browser tests: a retest (job-fast2
// replaces job-fast), a slower system, and a vendor with hostile strings.
var browserJobs = []siteJob{{id: "job-fast", acc: "sim-a", f: 1}, {id: "job-slow", acc: "sim-b", f: 0.5},
	{id: "job-fast2", acc: "sim-a", f: 1.1}, {id: "job-evil", f: 0.8, hostile: true}}

// The leaderboard at a desktop width and a phone's: no horizontal
// overflow, every link resolves, each chart has labelled axes, a filter
// changes the rows, the hostile vendor's strings are text; then a click
// through a result's page to a bundle file, whose bytes are the bundle's.
func TestSiteInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	store, lb, dir := sitePublished(t, browserJobs)
	mux := http.NewServeMux()
	publish.NewSiteHandler(store, zerolog.Nop()).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, width := range []int{1400, 390} {
		t.Run(fmt.Sprint(width), func(t *testing.T) { checkSiteAt(t, chrome, srv, lb, dir, width) })
	}
}

type pageFacts struct {
	Title      string     `json:"title"`
	Overflow   int        `json:"overflow"` // document width beyond the viewport, px
	Links      []string   `json:"links"`
	Charts     int        `json:"charts"`
	AxisLabels [][]string `json:"axis_labels"` // per chart
	Rows       int        `json:"rows"`
	Scripts    []string   `json:"scripts"`
	Text       string     `json:"text"`
	Images     int        `json:"images"`
	Wide       []string   `json:"wide"` // elements past the viewport's right edge
}

const factsJS = `(() => ({
	title: document.title,
	overflow: document.documentElement.scrollWidth - window.innerWidth,
	links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href') === null ? '' : a.href),
	charts: document.querySelectorAll('.uplot').length,
	axis_labels: Array.from(document.querySelectorAll('.chart')).filter(c => c.querySelector('.uplot')).map(c => JSON.parse(c.dataset.axes || '[]')),
	wide: Array.from(document.querySelectorAll('body *')).filter(e => !(e.parentElement && e.parentElement.closest('.scroll')) && e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5).map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right)),
	rows: Array.from(document.querySelectorAll('tr.result-row')).filter(r => !r.hidden && r.offsetParent !== null).length,
	scripts: Array.from(document.scripts).map(s => s.getAttribute('src') || s.type),
	text: document.body.innerText,
	images: document.images.length,
}))()`

func checkSiteAt(t *testing.T, chrome string, srv *httptest.Server, lb *publish.Leaderboard, dir string, width int) {
	bctx := newBrowserAt(t, chrome, width, 900)
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(int64(width), 900), chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatalf("browser: navigate: %v", err)
	}
	tctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.WaitVisible(chromedp.CSS(`#history .uplot`))); err != nil {
		t.Fatalf("browser: wait for the charts: %v", err)
	}
	facts, err := chromedp.Run(tctx, chromedp.Evaluate[pageFacts](factsJS))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, fmt.Sprintf("leaderboard-%d.png", width), shot)
	if facts.Overflow > 0 {
		t.Errorf("the page is %d px wider than the %d px viewport (%v)", facts.Overflow, width, facts.Wide)
	}
	checkLinks(t, srv, "/", facts.Links)
	// One bar chart per model and tier, the service-level curve, the
	// Pareto view, one history chart per config: each with both axes
	// labelled.
	configs := map[string]bool{}
	groups := map[string]bool{}
	for _, r := range lb.History {
		configs[r.Config] = true
	}
	for _, r := range lb.Results {
		groups[r.Model+r.Tier] = true
	}
	if want := len(groups) + 2 + len(configs); facts.Charts != want { // bars, the curve, the Pareto view, histories
		t.Errorf("charts: %d, want %d", facts.Charts, want)
	}
	for i, labels := range facts.AxisLabels {
		if len(labels) != 2 || strings.TrimSpace(labels[0]) == "" || strings.TrimSpace(labels[1]) == "" {
			t.Errorf("chart %d: axis labels %q, want two", i, labels)
		}
	}
	if facts.Rows != len(lb.Results) {
		t.Errorf("rows: %d, want %d", facts.Rows, len(lb.Results))
	}
	checkHostile(t, "leaderboard", facts)

	// A filter changes the rows: hardware sim-b×1 leaves its one result.
	if err := chromedp.Do(tctx, chromedp.SetValue(chromedp.CSS(`select[data-filter="system"]`), "sim-b×1")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`document.querySelector('select[data-filter="system"]').dispatchEvent(new Event('change', {bubbles: true}))`)); err != nil {
		t.Fatal(err)
	}
	filtered, err := chromedp.Run(tctx, chromedp.Evaluate[pageFacts](factsJS))
	if err != nil {
		t.Fatal(err)
	}
	if filtered.Rows != 1 || !strings.Contains(filtered.Text, "1 of 3 results") {
		t.Errorf("filtered by sim-b×1: %d rows shown, want 1", filtered.Rows)
	}

	// Click through: the result's page, then its probes.json.
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`tr[data-job="job-slow"] a.page`)),
		chromedp.WaitVisible(chromedp.CSS(`table.files`)), chromedp.WaitVisible(chromedp.CSS(`.chart .uplot`))); err != nil {
		t.Fatalf("open the result page: %v", err)
	}
	page, err := chromedp.Run(tctx, chromedp.Evaluate[pageFacts](factsJS))
	if err != nil {
		t.Fatal(err)
	}
	if shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
		saveArtifact(t, fmt.Sprintf("result-%d.png", width), shot)
	}
	if page.Overflow > 0 {
		t.Errorf("result page: %d px wider than the viewport (%v)", page.Overflow, page.Wide)
	}
	checkLinks(t, srv, "/results/job-slow/1.html", page.Links)
	if axes := fmt.Sprint(page.AxisLabels); page.Charts != 4 || axes != "[[date published (UTC) Agents/MW] [date published (UTC) max agents] [output tok/s per agent output tok/s per GPU] [seconds into the window power (W)]]" {
		t.Errorf("result page: %d charts, axes %q; want the config's runs (Agents/MW, max agents), the probes' scatter and the confirmation window's power trace", page.Charts, page.AxisLabels)
	}
	powers, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('td.probe-power')).map(td => td.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(powers) == 0 || slices.Contains(powers, "–") {
		t.Errorf("result page: probe powers %q, want each probe's window average", powers)
	}
	// The confirmation probe's power is the verifier's figure: one formula.
	for _, r := range lb.Results {
		if r.Job == "job-slow" && (len(powers) == 0 || powers[len(powers)-1] != fmt.Sprintf("%.0f", r.AvgPowerW)) {
			t.Errorf("result page: confirmation probe's power %q, the verifier's %.0f W", powers, r.AvgPowerW)
		}
	}
	if !strings.Contains(page.Text, "Power through the confirmation window") || strings.Contains(page.Text, "power.jsonl.zst:") {
		t.Errorf("result page: no power trace, or the power file unread")
	}
	for _, want := range []string{"fast-sim-b", "sim-b × 1", "probe", "manifest.dsse.json", "agentwatt verify"} {
		if !strings.Contains(page.Text, want) {
			t.Errorf("result page lacks %q", want)
		}
	}
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`a.file[href$="/probes.json"]`)), chromedp.WaitReady(chromedp.CSS(`pre`))); err != nil {
		t.Fatalf("open probes.json: %v", err)
	}
	shown, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.querySelector('pre').textContent`))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, bundle.ProbesFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimRight(shown, "\n") != strings.TrimRight(string(want), "\n") {
		t.Errorf("probes.json through the site: %d bytes shown, want the bundle's %d", len(shown), len(want))
	}

	// The hostile vendor's page.
	if err := chromedp.Do(tctx, chromedp.Navigate(srv.URL+"/results/job-evil/1.html"), chromedp.WaitVisible(chromedp.CSS(`table.files`))); err != nil {
		t.Fatal(err)
	}
	evil, err := chromedp.Run(tctx, chromedp.Evaluate[pageFacts](factsJS))
	if err != nil {
		t.Fatal(err)
	}
	checkHostile(t, "hostile result page", evil)
	for _, secret := range []string{"secret@example.com", "hunter2"} {
		if strings.Contains(evil.Text, secret) {
			t.Errorf("result page shows %q, which the vendor did not publish", secret)
		}
	}
	if !strings.Contains(evil.Text, hostileArg) || !strings.Contains(evil.Text, hostileNotes) {
		t.Errorf("hostile page: the engine args and notes are not shown as text")
	}
}

// checkLinks fails for a link the template refused (#ZgotmplZ), a
// javascript: URL, or a link of the site that does not answer 200.
func checkLinks(t *testing.T, srv *httptest.Server, from string, links []string) {
	t.Helper()
	if len(links) == 0 {
		t.Errorf("%s: no links", from)
	}
	seen := map[string]bool{}
	for _, l := range links {
		if strings.Contains(l, "ZgotmplZ") || strings.HasPrefix(strings.ToLower(l), "javascript:") {
			t.Errorf("%s: link %q", from, l)
			continue
		}
		u, err := url.Parse(l)
		if err != nil {
			t.Errorf("%s: link %q: %v", from, l, err)
			continue
		}
		u.Fragment = ""
		if !strings.HasPrefix(u.String(), srv.URL+"/") || seen[u.String()] {
			continue
		}
		seen[u.String()] = true
		resp, err := http.Get(u.String())
		if err != nil {
			t.Errorf("%s: GET %s: %v", from, u, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: link %s: %d", from, u.Path, resp.StatusCode)
		}
	}
}

// checkHostile fails unless the hostile strings stayed text: no script
// ran, no element came of them, the bidi override is shown escaped.
func checkHostile(t *testing.T, where string, f pageFacts) {
	t.Helper()
	if strings.Contains(f.Title, "pwned") {
		t.Errorf("%s: a hostile string ran: title %q", where, f.Title)
	}
	if f.Images != 0 {
		t.Errorf("%s: %d images: a hostile string became an element", where, f.Images)
	}
	for _, s := range f.Scripts {
		if s != "application/json" && !strings.HasSuffix(s, ".js") {
			t.Errorf("%s: script %q", where, s)
		}
	}
	if !strings.Contains(f.Text, hostileVendor) {
		t.Errorf("%s: the hostile vendor is not shown as text", where)
	}
	if strings.ContainsRune(f.Text, '\u202e') || !strings.Contains(f.Text, `fast\u202egnp.exe`) {
		t.Errorf("%s: the bidi override is not shown escaped", where)
	}
}
