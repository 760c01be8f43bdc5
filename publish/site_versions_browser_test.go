package publish_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/agentwatt/agentwatt/blob/blobtest"
	"github.com/agentwatt/agentwatt/bundle"
	"github.com/agentwatt/agentwatt/publish"
	"github.com/agentwatt/agentwatt/verifier/verifiertest/known"
)

type runsFacts struct {
	pageFacts
	Markers []map[string]int `json:"markers"` // per runs chart: marker → points
	Legends []string         `json:"legends"`
	Runs    []string         `json:"runs"` // each table row's class and text
}

const runsFactsJS = `Object.assign(` + factsJS + `, {
	markers: Array.from(document.querySelectorAll('.chart[data-chart="runs"]')).map(c => JSON.parse(c.dataset.markers || '{}')),
	legends: Array.from(document.querySelectorAll('.chart[data-chart="runs"] .u-legend')).map(l => l.innerText),
	runs: Array.from(document.querySelectorAll('tr.run-row')).map(r => r.className + ': ' + r.innerText),
})`

// TestVersionsInBrowser: a config run at four framework versions — the
// bundles of a slower then a faster sim profile, one run retracted — shows
// on a result page the runs charts with regression, improvement and
// retraction markers and a table of every run, at 1400 and 390 px without
// overflow, every link answering.
func TestVersionsInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	ctx := context.Background()
	v := verdictOf(t)
	b := known.Good(t).Dir
	store := blobtest.Store(t)
	hostile := `<img src=x onerror="document.title='pwned'">` + "\u202e" + strings.Repeat("9", 400)
	runs := []run{{"v1", "1.0", 1}, {"v2", "1.1", 0.8}, {"v3", "1.2", 1}, {"v4", hostile, 1.25}}
	for _, r := range runs {
		putBundle(t, store, b, scaled(t, v, r.job, r.f))
	}
	publishRuns(t, store, v, runs)
	if _, err := publish.Retract(ctx, store, "v4", publish.Retraction{By: "alice", Via: publish.ViaMaintainerToken, Reason: "meter <off>", At: time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	publish.NewSiteHandler(store, zerolog.Nop()).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, width := range []int{1400, 390} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			bctx := newBrowserAt(t, chrome, width, 900)
			tctx, cancel := context.WithTimeout(bctx, 90*time.Second)
			defer cancel()
			if err := chromedp.Do(tctx, chromedp.EmulateViewport(int64(width), 900), chromedp.Navigate(srv.URL+"/results/v3/1.html"),
				chromedp.WaitVisible(chromedp.CSS(`.chart[data-chart="runs"] .uplot`))); err != nil {
				t.Fatalf("browser: %v", err)
			}
			f, err := chromedp.Run(tctx, chromedp.Evaluate[runsFacts](runsFactsJS))
			if err != nil {
				t.Fatal(err)
			}
			if shot, err := chromedp.Run(tctx, chromedp.FullScreenshot(100)); err == nil {
				saveArtifact(t, fmt.Sprintf("versions-%d.png", width), shot)
			}
			if f.Overflow > 0 {
				t.Errorf("%d px wider than the viewport (%v)", f.Overflow, f.Wide)
			}
			checkLinks(t, srv, "/results/v3/1.html", f.Links)
			tiers := len(v.Results.Tiers)
			if len(f.Markers) != 2 {
				t.Fatalf("runs charts: %d, want Agents/MW and max agents", len(f.Markers))
			}
			for i, m := range f.Markers {
				// v2 regressed against v1, v3 improved on v2, v4 is retracted.
				if m["regression"] != tiers || m["improvement"] != tiers || m["retracted"] != tiers {
					t.Errorf("runs chart %d: markers %v, want %d of each", i, m, tiers)
				}
			}
			for _, l := range f.Legends {
				for _, want := range []string{"regression", "improvement", "retracted", "tier "} {
					if !strings.Contains(l, want) {
						t.Errorf("legend %q lacks %q", l, want)
					}
				}
			}
			if len(f.Runs) != 4*tiers {
				t.Fatalf("runs table: %d rows, want %d: %q", len(f.Runs), 4*tiers, f.Runs)
			}
			for i, r := range f.Runs {
				job := runs[i/tiers].job
				if !strings.Contains(r, job) {
					t.Errorf("row %d: %q, want job %s (publication order)", i, r, job)
				}
				switch job {
				case "v2":
					if !strings.Contains(r, "regression -20.0% vs 1.0") {
						t.Errorf("v2's row: %q, want the regression", r)
					}
				case "v3":
					if !strings.Contains(r, "current") || !strings.Contains(r, "improvement +25.0% vs 1.1") {
						t.Errorf("v3's row: %q, want this page's run and the improvement", r)
					}
				case "v4":
					if !strings.HasPrefix(r, "run-row retracted") || !strings.Contains(r, "retracted 2026-11-09 meter <off>") || !strings.Contains(r, `\u202e`) {
						t.Errorf("v4's row: %q, want it marked retracted with the reason, its version escaped", r)
					}
				}
			}
			if strings.Contains(f.Title, "pwned") || f.Images != 0 {
				t.Errorf("the hostile version became markup: title %q, %d images", f.Title, f.Images)
			}
		})
	}
}

// putBundle stores the known-good bundle's files and v as job v.Job's.
func putBundle(t *testing.T, store interface {
	PutFile(ctx context.Context, key, path string) error
	PutBytes(ctx context.Context, key string, b []byte, contentType string) error
}, dir string, v *bundle.Verdict) {
	t.Helper()
	ctx := context.Background()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := store.PutFile(ctx, bundle.Key(v.Job, v.Attempt, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	vb, _ := v.Marshal()
	if err := store.PutBytes(ctx, bundle.Key(v.Job, v.Attempt, bundle.VerdictFile), vb, "application/json"); err != nil {
		t.Fatal(err)
	}
}
