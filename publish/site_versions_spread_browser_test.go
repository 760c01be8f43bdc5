package publish_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
)

// TestRunsChartSpreadInBrowser: a run measured three times at N_max shows
// in the Agents/MW runs chart as its median with a min–max error bar per
// tier (site.js draws them and counts them in data-spreads); the max
// agents chart has none; the legend names the median and the spread.
func TestRunsChartSpreadInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	v := verdictOf(t)
	store := blobtest.Store(t)
	for i, r := range []run{{"s1", "1", 1}, {"s2", "2", 0.8}} {
		vv := scaled(t, v, r.job, r.f)
		if r.job == "s2" {
			vv = withSpread(vv, 0.9, 1.02)
			for k := range vv.Results.Tiers {
				tr := &vv.Results.Tiers[k]
				tr.Repeats.AgentsPerMW.Median = 0.95 * tr.AgentsPerMW
			}
		}
		putBundle(t, store, known.Good(t).Dir, vv)
		if _, err := publish.Publish(context.Background(), store, publish.PublishInput{Job: jobAt(vv, r.job, r.version), Verdict: vv, Local: true,
			Approval: publish.Approval{By: "maint", At: time.Date(2026, 11, 1+i, 9, 0, 0, 0, time.UTC)}}); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	publish.NewSiteHandler(store, zerolog.Nop()).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	bctx := newBrowserAt(t, chrome, 1400, 900)
	tctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(srv.URL+"/results/s2/1.html"),
		chromedp.WaitVisible(chromedp.CSS(`.chart[data-chart="runs"] .uplot`))); err != nil {
		t.Fatalf("browser: %v", err)
	}
	spreads, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.chart[data-chart="runs"]')).map(c => c.dataset.spreads || '')`))
	if err != nil {
		t.Fatal(err)
	}
	tiers := len(v.Results.Tiers)
	if len(spreads) != 2 || spreads[0] != strconv.Itoa(tiers) || spreads[1] != "0" {
		t.Errorf("error bars per runs chart %q, want %d on Agents/MW and 0 on max agents", spreads, tiers)
	}
	if shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
		saveArtifact(t, "versions-spread.png", shot)
	}
}
